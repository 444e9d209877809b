"""Moves per second through ``ws.customers.move`` on SQLite, against a bare sqlite3 loop.

Both sides start from the same SQLite file (a copy made after seeding) and run the
same deterministic plan of status moves, alternating a few rounds so that disk and
CPU drift hit both alike:

- ``workspace``: ``ws.customers.move(id, status)``: one transaction that reads the
  customer and the status machine, checks the transition, writes the customer with
  the version check, and appends the status_changed event.
- ``bare``: a hand-written sqlite3 loop on the same schema and PRAGMAs (WAL,
  synchronous=NORMAL, foreign keys, BEGIN IMMEDIATE): per move one UPDATE of
  status, updated_at and version plus one INSERT into events, in its own
  transaction. No read, no check: the floor the library's work sits on.
- ``checked``: the bare loop plus what any correct move must do before it writes:
  read the customer's status and version (one SELECT by id) and update only if
  the version is still the one read. The same question the library answers.

Run: ``python benchmarks/bench_moves.py --customers 1000 --moves 2000 --rounds 5``.
``--clock cpu`` times each side in this process's CPU time (``time.process_time``),
which other processes on a shared machine disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipeline_core import Customer, Workspace, default_status_machine

Move = tuple[int, str, str]
"""One planned move: customer id, current status and target status."""

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter
"""What the sides are timed with (``--clock``)."""

# A walk every customer can take forever under the default machine.
CYCLE = ("Lead", "Prospect", "Quoted", "Customer", "Inactive")


class Planner:
    """Deterministic move plans: random customers, each moved one step along CYCLE."""

    def __init__(self, customers: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.customers = customers
        self.position = dict.fromkeys(range(1, customers + 1), 0)

    def plan(self, moves: int) -> list[Move]:
        """The next ``moves`` moves; every one is allowed by the default status machine."""
        planned = []
        for _ in range(moves):
            customer_id = self.rng.randint(1, self.customers)
            current = self.position[customer_id]
            step = (current + 1) % len(CYCLE)
            self.position[customer_id] = step
            planned.append((customer_id, CYCLE[current], CYCLE[step]))
        return planned


def seed_store(path: Path, customers: int, seed: int, *, define_folders: bool = False) -> None:
    """Create a pipeline store at ``path`` with ``customers`` customers in status Lead.

    ``define_folders``: the customers' four folders are defined, each with a status
    machine of its own (the default one), so that a move reads its folder's machine.
    """
    rng = random.Random(seed)
    folders = ("New Leads", "Partners", "Webshop", "Events")
    tags = ("VIP", "Newsletter", "Commercial", "Returning")
    with Workspace.open(f"sqlite:///{path}") as workspace:
        if define_folders:
            for folder in folders:
                workspace.folders.add(folder, machine=default_status_machine())
        for index in range(customers):
            workspace.customers.add(
                Customer(
                    name=f"Customer {index:06d}",
                    emails=[f"customer{index}@example.com"],
                    folder=rng.choice(folders),
                    tags=rng.sample(tags, rng.randint(0, 2)),
                    value=str(rng.randrange(100, 50_000, 100)),
                )
            )


def run_workspace(workspace: Workspace, plan: Sequence[Move]) -> float:
    """Seconds taken to make the planned moves through the Workspace facade."""
    start = clock()
    for customer_id, _, status in plan:
        workspace.customers.move(customer_id, status)
    return clock() - start


def open_bare(path: Path) -> sqlite3.Connection:
    """A connection with the PRAGMAs the SQLite store sets."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def run_bare(db: sqlite3.Connection, plan: Sequence[Move], actor: str = "system") -> float:
    """Seconds taken to make the planned moves as one UPDATE plus one INSERT per transaction."""
    start = clock()
    for customer_id, before, status in plan:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "UPDATE customers SET status = ?, updated_at = ?, version = version + 1 WHERE id = ?",
            (status, now, customer_id),
        )
        db.execute(
            "INSERT INTO events (customer_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
            (customer_id, now, actor, "status_changed", json.dumps({"from": before, "to": status})),
        )
        db.execute("COMMIT")
    return clock() - start


def run_checked(db: sqlite3.Connection, plan: Sequence[Move], actor: str = "system") -> float:
    """Seconds taken by the bare loop that also reads the row and checks its version."""
    start = clock()
    for customer_id, _, status in plan:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        db.execute("BEGIN IMMEDIATE")
        before, version = db.execute(
            "SELECT status, version FROM customers WHERE id = ? AND merged_into IS NULL",
            (customer_id,),
        ).fetchone()
        db.execute(
            "UPDATE customers SET status = ?, updated_at = ?, version = version + 1"
            " WHERE id = ? AND version = ?",
            (status, now, customer_id, version),
        )
        db.execute(
            "INSERT INTO events (customer_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
            (customer_id, now, actor, "status_changed", json.dumps({"from": before, "to": status})),
        )
        db.execute("COMMIT")
    return clock() - start


def check_same_outcome(workspace_path: Path, bare_path: Path) -> None:
    """Both sides must end with the same statuses and the same number of events."""
    queries = ("SELECT id, status FROM customers ORDER BY id", "SELECT COUNT(*) FROM events")
    for query in queries:
        with sqlite3.connect(workspace_path) as a, sqlite3.connect(bare_path) as b:
            if a.execute(query).fetchall() != b.execute(query).fetchall():
                raise SystemExit(f"the two runs disagree on: {query}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1000, help="customers in the store")
    parser.add_argument("--moves", type=int, default=2000, help="moves per round and side")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the data and the plan")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="what to time")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument(
        "--defined-folders",
        action="store_true",
        help="define the customers' four folders, each with its own status machine",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="profile the Workspace side and print its N costliest calls (slows it down)",
    )
    args = parser.parse_args(argv)
    for name in ("customers", "moves", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the per-round and median rates."""
    global clock
    args = parse_args(argv)
    clock = CLOCKS[args.clock]
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        workspace_path = Path(scratch) / "workspace.db"
        bare_path = Path(scratch) / "bare.db"
        checked_path = Path(scratch) / "checked.db"
        seed_store(workspace_path, args.customers, args.seed, define_folders=args.defined_folders)
        shutil.copyfile(workspace_path, bare_path)  # closed store: WAL already checkpointed
        shutil.copyfile(workspace_path, checked_path)

        planner = Planner(args.customers, args.seed)
        rates: dict[str, list[float]] = {"workspace": [], "bare": [], "checked": []}
        workspace = Workspace.open(f"sqlite:///{workspace_path}")
        bare = open_bare(bare_path)
        checked = open_bare(checked_path)
        try:
            if workspace.statuses.show() != default_status_machine():
                raise SystemExit("the seeded store does not use the default status machine")
            profiler = cProfile.Profile() if args.profile else None

            def workspace_side(plan: Sequence[Move]) -> float:
                if profiler is None:
                    return run_workspace(workspace, plan)
                profiler.enable()
                try:
                    return run_workspace(workspace, plan)
                finally:
                    profiler.disable()

            runners: dict[str, Callable[[Sequence[Move]], float]] = {
                "workspace": workspace_side,
                "bare": lambda plan: run_bare(bare, plan),
                "checked": lambda plan: run_checked(checked, plan),
            }
            sides = ("workspace", "bare", "checked")
            for round_no in range(args.rounds):
                plan = planner.plan(args.moves)
                # Each side goes first, second and last in turn, so that drift hits all.
                shift = round_no % len(sides)
                for side in sides[shift:] + sides[:shift]:
                    rates[side].append(args.moves / runners[side](plan))
                print(
                    f"round {round_no + 1}: workspace {rates['workspace'][-1]:9.0f} moves/s"
                    f"   bare {rates['bare'][-1]:9.0f} moves/s"
                    f"   checked {rates['checked'][-1]:9.0f} moves/s"
                )
        finally:
            workspace.close()
            bare.close()
            checked.close()
        check_same_outcome(workspace_path, bare_path)
        check_same_outcome(workspace_path, checked_path)

    workspace_rate = statistics.median(rates["workspace"])
    bare_rate = statistics.median(rates["bare"])
    checked_rate = statistics.median(rates["checked"])
    ratio = workspace_rate / bare_rate
    ratios = [w / b for w, b in zip(rates["workspace"], rates["bare"], strict=True)]
    print(
        f"customers={args.customers} moves/round={args.moves} rounds={args.rounds} "
        f"sqlite={sqlite3.sqlite_version} python={sys.version.split()[0]}"
    )
    print(
        f"{args.clock} time per move, median: workspace"
        f" {1e6 / workspace_rate:.0f} us, bare {1e6 / bare_rate:.0f} us"
    )
    print(f"median customers.move : {workspace_rate:9.0f} moves/s")
    print(f"median bare sqlite3   : {bare_rate:9.0f} moves/s")
    print(f"median checked sqlite3: {checked_rate:9.0f} moves/s")
    verdict = "meets" if ratio >= 0.7 else "MISSES"
    print(
        f"ratio to bare         : {ratio:9.2f}  ({verdict} the target of >= 0.70;"
        f" per round {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(f"ratio to checked      : {workspace_rate / checked_rate:9.2f}")
    if profiler is not None:
        report = io.StringIO()
        stats = pstats.Stats(profiler, stream=report)
        stats.sort_stats("cumulative").print_stats(args.profile)
        print("\nWorkspace side under cProfile (rates above are slowed by it):")
        print(report.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
