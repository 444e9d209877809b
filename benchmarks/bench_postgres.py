"""PostgreSQL beside SQLite, same data, same run: migrating, a board, and duplicate clusters.

    .venv/bin/python benchmarks/bench_postgres.py --customers 200000

Builds a SQLite store with the rules benchmark's generator (folders, tags,
statuses, a "Sales" flow whose rule mixes them) and gives the customers the
duplicates benchmark's messy contacts (about 5% duplicates), indexes their keys,
copies the whole store into a throwaway PostgreSQL cluster with
``ws.migrate`` (the ``pipeline migrate`` code), then times on both stores,
alternating rounds: the Sales board (``ws.flows.board``) and
``ws.customers.dupes``.

With ``--import-rows N`` it times the import instead (issue 14): bench_import's
messy CSV of N rows imported with duplicate checks (``ws.customers.import_file``,
in a subprocess, into a fresh store each round) against a plain COPY of the same
customers (the rows that import wrote, read back as COPY text) into the customers
table of another fresh store, alternating, ``--rounds`` times; with ``--before-src``
the import of another pipeline_core (main's) takes its turn too. Each round's
rate ratio (COPY time / import time; target >= 0.5) is printed with the median
and spread, and ``uptime``.

    .venv/bin/python benchmarks/bench_postgres.py --import-rows 100000 --rounds 3
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
import bench_import
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


IMPORT = """
import sys, time, json
from pipeline_core import Workspace
ws = Workspace.open(sys.argv[1])
start = time.perf_counter()
s = ws.customers.import_file(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "created": s.created, "skipped": s.skipped}))
"""


def _schema(cluster_url: str, name: str) -> str:
    """A URL of a new, empty schema of the cluster: a fresh store."""
    import psycopg

    with psycopg.connect(cluster_url, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        db.execute(f"CREATE SCHEMA {name}")
    return f"{cluster_url}?options=-csearch_path%3D{name}"


def bench_import_vs_copy(
    cluster_url: str, rows: int, rounds: int, before: Path | None, ours: Path = bench_import.SRC
) -> None:
    """Import with duplicate checks vs a plain COPY of the same customers, alternating."""
    import subprocess

    import psycopg

    from pipeline_core.storage.sql.common import TEXT_ROW_COLUMNS

    print(f"uptime at start: {bench_import._uptime()}")
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory) / "customers.csv"
        bench_import.generate(data, rows)

        def importer(src: Path, label: str) -> Callable[[int], float]:
            def run(round_: int) -> float:
                url = _schema(cluster_url, f"{label}_{round_}")
                done = subprocess.run(
                    [sys.executable, "-c", IMPORT, url, str(data)],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=bench_import._env(src),
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"  {label}: {result}")
                return float(result["seconds"])

            return run

        contenders = {"ours": importer(ours, "ours")}
        if before is not None:
            contenders["before"] = importer(before, "before")
        columns = f"{TEXT_ROW_COLUMNS}, version"
        copied: dict[str, bytes] = {}

        def plain_copy(round_: int) -> float:
            if not copied:  # the customers our import wrote, as COPY text
                with psycopg.connect(_schema_url(cluster_url, "ours_0")) as db:
                    query = f"COPY (SELECT {columns} FROM customers ORDER BY id) TO STDOUT"
                    with db.cursor().copy(query) as copy:
                        copied["data"] = b"".join(bytes(part) for part in copy)
            url = _schema(cluster_url, f"copy_{round_}")
            Workspace.open(url).close()
            with psycopg.connect(url) as db:
                started = time.perf_counter()
                with (
                    db.transaction(),
                    db.cursor().copy(f"COPY customers ({columns}) FROM STDIN") as copy,
                ):
                    copy.write(copied["data"])
                return time.perf_counter() - started

        contenders["plain COPY"] = plain_copy
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(rounds):
            # ours first in the first round: the COPY needs its rows.
            order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
            if round_ == 0:
                order = list(contenders)
            for name in order:
                times[name].append(contenders[name](round_))
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in times))
        copy_times = times["plain COPY"]
        for name in [n for n in ("ours", "before") if n in times]:
            ratios = [c / t for c, t in zip(copy_times, times[name], strict=True)]
            print(
                f"{name}: median {statistics.median(times[name]):.2f} s,"
                f" {rows / statistics.median(times[name]):,.0f} rows/s;"
                f" rate / plain COPY's: {bench_import._spread(ratios)} (target >= 0.5x)"
            )
        print(
            f"plain COPY: median {statistics.median(copy_times):.2f} s,"
            f" {rows / statistics.median(copy_times):,.0f} customers/s"
        )
    print(f"uptime at end: {bench_import._uptime()}")


def _schema_url(cluster_url: str, name: str) -> str:
    return f"{cluster_url}?options=-csearch_path%3D{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--import-rows", type=int, help="Time the import against COPY instead.")
    parser.add_argument("--before-src", type=Path, help="With --import-rows: also main's import.")
    parser.add_argument(
        "--ours-src", type=Path, default=bench_import.SRC, help="A snapshot to time."
    )
    args = parser.parse_args()

    cluster = start_cluster()
    if args.import_rows:
        try:
            bench_import_vs_copy(
                cluster.url(), args.import_rows, args.rounds, args.before_src, args.ours_src
            )
        finally:
            cluster.stop()
        return
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
