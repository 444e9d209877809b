"""Instructions per move, counted by valgrind: a figure the shared machine's load cannot move.

    .venv/bin/python benchmarks/move_instructions.py [--src OTHER/src] [--moves 1000] [--side S]

For each side (``workspace``: ``ws.customers.move``; ``bare``: bench_moves.py's
UPDATE + INSERT loop) it runs one process under ``valgrind --tool=cachegrind`` with
``--moves`` moves and one with none, both after the same 300 warm-up moves on a copy
of the same seeded store, and prints the difference divided by ``--moves``: the
user-space instructions (Python and SQLite; not the kernel's) one move costs.
Needs valgrind on PATH; runs about a minute.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WARM_UP = 300


def child(side: str, store: Path, moves: int) -> None:
    """Make the warm-up and ``moves`` moves on ``side`` (run under valgrind)."""
    sys.path.insert(0, str(HERE))
    from bench_moves import Planner, open_bare, run_bare, run_workspace

    from pipeline_core import Workspace

    planner = Planner(1000, 1)
    warm, plan = planner.plan(WARM_UP), planner.plan(moves)
    if side == "workspace":
        with Workspace.open(f"sqlite:///{store}") as workspace:
            run_workspace(workspace, warm)
            run_workspace(workspace, plan)
    else:
        db = open_bare(store)
        run_bare(db, warm)
        run_bare(db, plan)
        db.close()


def instructions(src: Path, side: str, seed: Path, moves: int) -> int:
    """The instructions valgrind counts for one child process."""
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "store.db"
        shutil.copyfile(seed, store)
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            side,
            "--store",
            str(store),
            "--moves",
            str(moves),
        ]
        env = {**os.environ, "PYTHONPATH": str(src)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr}")
    return int(found.group(1).replace(",", ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Seed one store, then count each side's instructions per move."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src", help="pipeline_core src")
    parser.add_argument("--moves", type=int, default=1000, help="moves counted per side")
    parser.add_argument(
        "--side",
        choices=("workspace", "bare"),
        action="append",
        help="count only this side (repeatable; default both)",
    )
    parser.add_argument("--child", choices=("workspace", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.store, args.moves)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not on PATH")
    sys.path.insert(0, str(HERE))
    from bench_moves import seed_store

    with tempfile.TemporaryDirectory() as scratch:
        seed = Path(scratch) / "seed.db"
        seed_store(seed, 1000, 2026)
        counts = {}
        for side in args.side or ("workspace", "bare"):
            counted = instructions(args.src, side, seed, args.moves)
            base = instructions(args.src, side, seed, 0)
            counts[side] = (counted - base) // args.moves
            print(f"{side:9s}: {counts[side]:,} instructions a move ({args.src})")
    if len(counts) == 2:
        print(f"bare / workspace: {counts['bare'] / counts['workspace']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
