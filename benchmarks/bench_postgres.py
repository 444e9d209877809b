"""PostgreSQL beside SQLite, same data, same run: migrating, a board, and duplicate clusters.

    .venv/bin/python benchmarks/bench_postgres.py --customers 200000

Builds a SQLite store with the rules benchmark's generator (folders, tags,
statuses, a "Sales" flow whose rule mixes them) and gives the customers the
duplicates benchmark's messy contacts (about 5% duplicates), indexes their keys,
copies the whole store into a throwaway PostgreSQL cluster with
``ws.migrate`` (the ``pipeline migrate`` code), then times on both stores,
alternating rounds: the Sales board (``ws.flows.board``) and
``ws.customers.dupes``. Import speed on PostgreSQL is measured by
benchmarks/bench_import.py.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_duplicates
import bench_rules

from pipeline_core import Workspace
from tests.postgres_server import start_cluster


def give_contacts(path: Path, count: int, seed: int) -> None:
    """Overwrite each customer's contacts with the duplicates generator's, then index keys."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "UPDATE customers SET emails = ?, phones = ?, whatsapp = ?, country = ? WHERE id = ?",
        (
            (json.dumps(p.emails), json.dumps(p.phones), p.whatsapp, p.country, index)
            for index, p in enumerate(bench_duplicates.generate(count, seed), start=1)
        ),
    )
    db.execute("COMMIT")
    db.close()
    with Workspace.open(f"sqlite:///{path}") as ws, ws.store.transaction() as tx:
        tx.rebuild_contact_keys()


def alternate(actions: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per action, taking turns each round."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "bench.db"
            started = time.perf_counter()
            bench_rules.build(path, args.customers, args.seed)
            give_contacts(path, args.customers, args.seed)
            print(
                f"built SQLite store: {args.customers} customers in {time.perf_counter() - started:.1f} s"
            )
            target = cluster.url()
            with Workspace.open(f"sqlite:///{path}") as source:
                started = time.perf_counter()
                report = source.migrate(target)
                seconds = time.perf_counter() - started
            rows = sum(report.rows.values())
            print(
                f"pipeline migrate SQLite -> PostgreSQL: {rows} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
            )
            import psycopg

            with psycopg.connect(target, autocommit=True) as db:
                db.execute("VACUUM ANALYZE")
            with Workspace.open(f"sqlite:///{path}") as lite, Workspace.open(target) as pg:
                boards = {
                    name: ws.flows.board("Sales", limit=20)
                    for name, ws in (("sqlite", lite), ("postgres", pg))
                }
                assert boards["sqlite"] == boards["postgres"], (
                    "the two stores disagree on the board"
                )
                clusters = [ws.customers.dupes() for ws in (lite, pg)]
                assert clusters[0] == clusters[1], "the two stores disagree on the clusters"
                timings = alternate(
                    {
                        "board sqlite": lambda: lite.flows.board("Sales", limit=20),
                        "board postgres": lambda: pg.flows.board("Sales", limit=20),
                        "clusters sqlite": lite.customers.dupes,
                        "clusters postgres": pg.customers.dupes,
                    },
                    args.rounds,
                )
            print(f"customers={args.customers} clusters={len(clusters[0])} rounds={args.rounds}")
            for what in ("board", "clusters"):
                lite_s, pg_s = timings[f"{what} sqlite"], timings[f"{what} postgres"]
                print(
                    f"{what:9}: sqlite {lite_s * 1000:8.1f} ms   postgres {pg_s * 1000:8.1f} ms   postgres/sqlite {pg_s / lite_s:.2f}"
                )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
