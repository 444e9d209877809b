"""``pipeline board Sales --format json`` as a whole process, against a hand-written script.

    .venv/bin/python benchmarks/bench_board_process.py --rounds 7 --other-src /tmp/before/src

runs, in rotating order each round, ``python -m pipeline_core --store sqlite:///STORE
board Sales --format json`` with this checkout's ``src`` (and, with ``--other-src``,
an earlier tree's), and bench_rules.py's hand-written script (sqlite3 + json: the
same queries, the same JSON object). The store is bench_rules.py's (build it with
that script first). One warm-up run of each side is not timed. Each line gives the
median wall time, the spread, and the median of the per-round ratios to the script;
the target is at most 1.5x.

Every side runs from compiled bytecode, as an installed package does (pip writes the
.pyc files): PYTHONDONTWRITEBYTECODE is dropped and PYTHONPYCACHEPREFIX points at a
cache outside the tree. ``--compile-every-run`` keeps PYTHONDONTWRITEBYTECODE and no
cache, as a source checkout on a machine that sets it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_rules import COLUMNS, HAND_FILTER, HAND_SCRIPT

HERE = Path(__file__).resolve().parent
TARGET = 1.5


def main() -> int:
    """Time the sides in rotating rounds and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=HERE / "data" / "rules-1000000-2026.db")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--other-src", type=Path, help="an earlier tree's src, timed beside")
    parser.add_argument("--compile-every-run", action="store_true")
    args = parser.parse_args()
    if not args.store.exists():
        parser.error(f"{args.store} does not exist: build it with bench_rules.py")

    env = dict(os.environ)
    if not args.compile_every_run:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "pipeline-bench-pyc")
    board = ["-m", "pipeline_core", "--store", f"sqlite:///{args.store}", "board", "Sales"]
    board += ["--format", "json"]
    statuses = json.dumps([column.status for column in COLUMNS])
    sides: dict[str, tuple[list[str], dict[str, str]]] = {
        "pipeline board (this tree)": (board, {"PYTHONPATH": str(HERE.parent / "src")}),
        "hand-written script": (["-c", HAND_SCRIPT, str(args.store), HAND_FILTER, statuses], {}),
    }
    if args.other_src is not None:
        sides["pipeline board (--other-src)"] = (board, {"PYTHONPATH": str(args.other_src)})

    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_no in range(args.rounds + 1):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            argv, extra = sides[name]
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, *argv], env={**env, **extra}, capture_output=True, check=True
            )
            if round_no:  # round 0 warms the caches (and writes the bytecode)
                times[name].append(time.perf_counter() - started)

    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; store {args.store}")
    hand = times["hand-written script"]
    for name, taken in times.items():
        ratios = [ours / theirs for ours, theirs in zip(taken, hand, strict=True)]
        print(
            f"{name:30} median {statistics.median(taken) * 1000:6.0f} ms"
            f" (min {min(taken) * 1000:.0f}, max {max(taken) * 1000:.0f});"
            f" ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    ratio = statistics.median(
        ours / theirs
        for ours, theirs in zip(times["pipeline board (this tree)"], hand, strict=True)
    )
    print(f"target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'} ({ratio:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
