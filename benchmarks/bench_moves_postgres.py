"""Moves through ``ws.customers.move`` on PostgreSQL: this tree against another, alternating.

    .venv/bin/python benchmarks/bench_moves_postgres.py --other-src /tmp/moves-before/src

Starts a throwaway PostgreSQL cluster (tests/postgres_server.py), then runs, in turn,
one process on this tree's ``src`` and one on ``--other-src`` (when given), each
against a fresh database: it seeds ``--customers`` customers, warms up with 200
moves, then times ``--rounds`` rounds of ``--moves`` moves (bench_moves.py's plan)
and prints the median wall and CPU time per move and the spread of the rounds.
``--runs`` such pairs alternate, so that load drift hits both trees alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def time_moves(url: str, customers: int, moves: int, rounds: int) -> str:
    """Seed the store at ``url``, time the moves; one line of medians."""
    from bench_moves import Planner

    from pipeline_core import Customer, Workspace

    with Workspace.open(url) as workspace:
        for index in range(customers):
            workspace.customers.add(
                Customer(name=f"Customer {index}", emails=[f"c{index}@example.com"], tags=["VIP"])
            )
        planner = Planner(customers, 2026)
        for customer_id, _, status in planner.plan(200):
            workspace.customers.move(customer_id, status)
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(rounds):
            plan = planner.plan(moves)
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            for customer_id, _, status in plan:
                workspace.customers.move(customer_id, status)
            wall.append((time.perf_counter() - wall_start) / moves * 1e6)
            cpu.append((time.process_time() - cpu_start) / moves * 1e6)
    return (
        f"wall {statistics.median(wall):.0f} us/move (rounds {min(wall):.0f}-{max(wall):.0f}),"
        f" cpu {statistics.median(cpu):.0f} us/move (rounds {min(cpu):.0f}-{max(cpu):.0f})"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--other-src", type=Path, help="another pipeline_core src to compare")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--moves", type=int, default=1000, help="moves per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per process")
    parser.add_argument("--runs", type=int, default=3, help="alternating processes per tree")
    parser.add_argument("--url", help=argparse.SUPPRESS)  # a child process's store
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the alternating processes (or, with ``--url``, be one of them)."""
    args = parse_args(argv)
    if args.url:
        print(time_moves(args.url, args.customers, args.moves, args.rounds))
        return 0
    import psycopg

    from tests.postgres_server import start_cluster

    trees = [("this tree", HERE.parent / "src")]
    if args.other_src:
        trees.append(("other", args.other_src.resolve()))
    cluster = start_cluster()
    try:
        print(os.popen("uptime").read().strip())
        for run in range(args.runs):
            for tree, (name, src) in enumerate(trees):
                database = f"moves_{run}_{tree}"
                with psycopg.connect(cluster.url(), autocommit=True) as db:
                    db.execute(f"CREATE DATABASE {database}")
                child = [sys.executable, __file__, "--url", cluster.url(database)]
                child += ["--customers", str(args.customers), "--moves", str(args.moves)]
                child += ["--rounds", str(args.rounds)]
                result = subprocess.run(
                    child,
                    env={**os.environ, "PYTHONPATH": str(src)},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                print(f"run {run + 1} {name:9}: {result.stdout.strip()}", flush=True)
        print(os.popen("uptime").read().strip())
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
