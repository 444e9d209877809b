"""Serving many users from threads: board reads through one shared Workspace, 1 thread vs N.

    .venv/bin/python benchmarks/bench_embedding.py --customers 20000 --threads 4 --requests 400

Builds the rules benchmark's SQLite store (a "Sales" flow whose rule mixes
folder, tags and status), copies it into a throwaway PostgreSQL cluster with
``ws.migrate``, adds an admin user, then for each way of serving it times
``--requests`` board reads (``ws.as_user("ann").flows.board("Sales")``, as a web
app does per request), done by one thread and then split over ``--threads``
threads that share one Workspace, and prints the throughput of each. Each
figure is the best of ``--rounds`` runs, the ways taking turns each round.

The ways:

- ``sqlite``: the SQLite store as shipped (one connection behind a lock).
- ``sqlite per-thread``: a prototype kept here for the comparison: one
  connection per thread (``threading.local``), ``BEGIN IMMEDIATE`` as the store
  does, so SQLite's own write lock serializes the transactions.
- ``sqlite per-thread deferred``: the same with ``BEGIN DEFERRED``: readers in
  WAL mode run side by side. Only safe for transactions that never write (a
  deferred transaction that writes after another writer committed fails), so it
  is the ceiling a read-only path could reach, not something the store may do.
- ``postgres pool=1``: the pooled PostgreSQL store limited to one connection
  (what every PostgreSQL store was before the pool).
- ``postgres pool=N``: the pool as large as the number of threads.
- ``postgres open per request``: ``Workspace.open(url)`` per request (the
  pattern the embedding guide warns against), for the record.
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_rules

from pipeline_core import Workspace
from pipeline_core.storage.sqlite import SqliteStore, SqliteTransaction, configure
from tests.postgres_server import start_cluster

BUSY_TIMEOUT = 10.0


class PerThreadSqliteStore(SqliteStore):
    """A prototype for the comparison: one SQLite connection per thread."""

    def __init__(self, url: str, begin: str) -> None:
        super().__init__(url)
        self._begin = begin
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        local = self._local
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            configure(local.db, BUSY_TIMEOUT)
            local.cache = {}
            local.version = -1
        db: sqlite3.Connection = local.db
        db.execute(self._begin)
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if version != local.version:
            local.cache.clear()
            local.version = version
        try:
            yield SqliteTransaction(db, local.cache)
        except BaseException:
            db.execute("ROLLBACK")
            local.cache.clear()
            raise
        db.execute("COMMIT")


def board(ws: Workspace) -> None:
    """One request: a view acting as the request's user, one board read."""
    ws.as_user("ann").flows.board("Sales", limit=bench_rules.CARDS)


def throughput(request: Callable[[], Any], threads: int, requests: int) -> float:
    """Requests per second, ``requests`` done by ``threads`` threads."""
    started = time.perf_counter()
    if threads == 1:
        for _ in range(requests):
            request()
    else:
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(request) for _ in range(requests)]:
                future.result()
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "bench.db"
            bench_rules.build(path, args.customers, args.seed)
            sqlite_url = f"sqlite:///{path}"
            with Workspace.open(sqlite_url) as ws:
                ws.users.add("ann", "admin")
                ws.migrate(cluster.url())
            import psycopg

            with psycopg.connect(cluster.url(), autocommit=True) as db:
                db.execute("VACUUM ANALYZE")
            postgres_url = cluster.url()
            ways: dict[str, Workspace] = {
                "sqlite": Workspace.open(sqlite_url),
                "sqlite per-thread": Workspace(PerThreadSqliteStore(sqlite_url, "BEGIN IMMEDIATE")),
                "sqlite per-thread deferred": Workspace(
                    PerThreadSqliteStore(sqlite_url, "BEGIN DEFERRED")
                ),
                "postgres pool=1": Workspace.open(f"{postgres_url}?pool_size=1"),
                f"postgres pool={args.threads}": Workspace.open(
                    f"{postgres_url}?pool_size={args.threads}"
                ),
            }
            expected = ways["sqlite"].flows.board("Sales", limit=bench_rules.CARDS)
            for name, ws in ways.items():
                assert ws.flows.board("Sales", limit=bench_rules.CARDS) == expected, name
            requests: dict[str, Callable[[], Any]] = {
                name: functools.partial(board, ws) for name, ws in ways.items()
            }

            def open_per_request() -> None:
                with Workspace.open(postgres_url, actor="ann") as ws:
                    ws.flows.board("Sales", limit=bench_rules.CARDS)

            requests["postgres open per request"] = open_per_request
            best: dict[tuple[str, int], float] = {}
            for _ in range(args.rounds):
                for name, request in requests.items():
                    for threads in (1, args.threads):
                        figure = throughput(request, threads, args.requests)
                        best[name, threads] = max(best.get((name, threads), 0.0), figure)
            for ws in ways.values():
                ws.close()
    finally:
        cluster.stop()

    print(
        f"customers={args.customers} requests={args.requests} rounds={args.rounds}"
        f" (board reads per second, best round)"
    )
    print(f"{'way':28} {'1 thread':>10} {f'{args.threads} threads':>10} {'speed-up':>9}")
    for name in requests:
        one, many = best[name, 1], best[name, args.threads]
        print(f"{name:28} {one:10.1f} {many:10.1f} {many / one:8.2f}x")


if __name__ == "__main__":
    main()
