"""Benchmark: the pipeline report against hand-written SQL computing the same figures.

    .venv/bin/python benchmarks/bench_reports.py --customers 1000000

builds (once, deterministically, straight into the schema with executemany) a
SQLite store of that many customers under benchmarks/data/, each with a
``created`` event and zero to three ``status_changed`` events, then measures in
one run ``ws.reports.pipeline("Sales")`` against two hand-written
statements: one GROUP BY for counts, values, outcomes and lost reasons, and one
window query for the median time in stage. Both sides' figures are compared
before anything is timed. Each figure is the best of ``--repeat`` runs, the two
sides alternating after one warm-up each. Target: within 1.5x of hand-written SQL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline_core import Column, FixedClock, Status, StatusMachine, Workspace
from pipeline_core.domain.reports import PipelineReport
from pipeline_core.rules.ast import MATCH_ALL

STATUSES = ("Lead", "Prospect", "Quoted", "Won", "Lost")
MACHINE = StatusMachine(
    name="default",
    statuses=(
        Status("Lead"),
        Status("Prospect"),
        Status("Quoted"),
        Status("Won", outcome="won"),
        Status("Lost", outcome="lost"),
    ),
    transitions={s: tuple(t for t in STATUSES if t != s) for s in STATUSES},
)
COLUMNS = [Column(s, s, position=i) for i, s in enumerate(STATUSES)]
SOURCES = ("website", "google ads", "referral", "trade show", "cold call")
REASONS = ("Price", "Competitor", "No budget", "Timing")
CURRENCIES = ("EUR", "USD", "GBP", None)
START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 50_000

HAND_COUNTS = """
SELECT status, currency, outcome, lost_reason, COUNT(*), COUNT(value_num), SUM(value_num)
FROM customers GROUP BY status, currency, outcome, lost_reason
"""
HAND_MEDIANS = """
WITH stays AS (
    SELECT CASE kind WHEN 'created' THEN json_extract(data, '$.status')
                     ELSE json_extract(data, '$.to') END AS status,
           (julianday(COALESCE(LEAD(at) OVER (PARTITION BY customer_id ORDER BY id), ?))
            - julianday(at)) * 86400.0 AS seconds
    FROM events WHERE kind IN ('created', 'status_changed')
), ranked AS (
    SELECT status, seconds, ROW_NUMBER() OVER (PARTITION BY status ORDER BY seconds) AS n,
           COUNT(*) OVER (PARTITION BY status) AS total
    FROM stays
)
SELECT status, AVG(seconds) FROM ranked WHERE n IN ((total + 1) / 2, (total + 2) / 2)
GROUP BY status
"""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _customers(count: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(customer row, its events) for ids 1..count, the same for the same seed."""
    rng = random.Random(seed)
    for cid in range(1, count + 1):
        created = START + timedelta(seconds=rng.randrange(0, 300 * 86400))
        path = ["Lead"]
        for _ in range(rng.randrange(0, 4)):
            path.append(rng.choice([s for s in STATUSES if s != path[-1]]))
        events = [(cid, _iso(created), "bench", "created", json.dumps({"status": "Lead"}))]
        at = created
        for before, after in itertools.pairwise(path):
            at += timedelta(seconds=rng.randrange(60, 30 * 86400))
            data: dict[str, str] = {"from": before, "to": after}
            if after == "Lost":
                data["reason"] = rng.choice(REASONS)
            events.append((cid, _iso(at), "bench", "status_changed", json.dumps(data)))
        status = path[-1]
        outcome = {"Won": "won", "Lost": "lost"}.get(status)
        currency = rng.choice(CURRENCIES)
        value = None if rng.random() < 0.2 else Decimal(rng.randrange(100, 10**7)) / 100
        row = (
            cid,
            f"Customer {cid}",
            status,
            rng.choice(SOURCES),
            None if value is None else str(value),
            None if value is None else float(value),
            currency,
            outcome,
            json.loads(events[-1][4]).get("reason"),
            _iso(created),
            _iso(at),
            None if outcome is None else _iso(at),
        )
        yield row, events


def build(path: Path, count: int, seed: int) -> None:
    """Create the store (schema, machine, flow) and fill it with executemany."""
    with Workspace.open(f"sqlite:///{path}") as ws:
        ws.statuses.set(MACHINE)
        ws.flows.add("Sales", MATCH_ALL, COLUMNS)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    rows: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def flush() -> None:
        db.executemany(
            "INSERT INTO customers (id, name, status, source, value, value_num, currency,"
            " outcome, lost_reason, created_at, updated_at, closed_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            rows,
        )
        db.executemany(
            "INSERT INTO events (customer_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
            events,
        )
        rows.clear()
        events.clear()

    for row, its_events in _customers(count, seed):
        rows.append(row)
        events.extend(its_events)
        if len(rows) >= BATCH:
            flush()
    flush()
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def ours(path: Path) -> PipelineReport:
    """The report through the library, as a user calls it."""
    with Workspace.open(f"sqlite:///{path}", clock=FixedClock(NOW)) as ws:
        return ws.reports.pipeline("Sales")


def hand(path: Path) -> tuple[list[tuple[Any, ...]], dict[str, float]]:
    """The same figures by hand: one GROUP BY and one window query."""
    db = sqlite3.connect(path)
    try:
        counts = db.execute(HAND_COUNTS).fetchall()
        medians = dict(db.execute(HAND_MEDIANS, (_iso(NOW),)).fetchall())
    finally:
        db.close()
    return counts, medians


def check(report: PipelineReport, counts: list[tuple[Any, ...]], medians: dict[str, float]) -> None:
    """Both sides agree on every column's count, value totals and median stay."""
    for stage in report.stages:
        mine = [r for r in counts if r[0] == stage.status]
        assert stage.figures.count == sum(r[4] for r in mine), stage.column
        assert stage.figures.lost == sum(r[4] for r in mine if r[2] == "lost")
        total = sum(r[6] or 0.0 for r in mine)
        assert abs(float(sum(v.total for v in stage.figures.values)) - total) <= 1e-6 * max(
            1.0, total
        )
        assert stage.median_time is not None
        assert abs(stage.median_time.total_seconds() - medians[stage.status]) < 0.01


def timed(function: Callable[[], Any], times: list[float]) -> Any:
    """Run ``function`` once, appending its wall time to ``times``."""
    started = time.perf_counter()
    result = function()
    times.append(time.perf_counter() - started)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"reports-{args.customers}-{args.seed}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        build(partial, args.customers, args.seed)
        partial.rename(path)
        print(f"built {path} in {time.perf_counter() - started:.1f} s")
    with sqlite3.connect(path) as db:
        n_events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    print(f"{args.customers:,} customers, {n_events:,} events")

    report = ours(path)  # warm-up, and the figures to check
    counts, medians = hand(path)
    check(report, counts, medians)
    ours_times: list[float] = []
    hand_times: list[float] = []
    for _ in range(args.repeat):
        timed(lambda: ours(path), ours_times)
        timed(lambda: hand(path), hand_times)
    mine, theirs = min(ours_times), min(hand_times)
    print(f"ws.reports.pipeline: {mine:.2f} s (best of {args.repeat})")
    print(f"hand-written SQL:          {theirs:.2f} s (best of {args.repeat})")
    print(f"ratio: {mine / theirs:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
