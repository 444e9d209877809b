"""bench_import.py's import of its generated file, under two source trees, alternating, in one run.

For a change to the import (mapping, validation): the same generated CSV is imported
by ``bench_import.OURS`` into a fresh SQLite store with ``--before`` on ``PYTHONPATH``,
then with ``--after``, the order alternating each round; the median of each side is
printed with every run. Make the "before" tree with ``git archive BASE src | tar -x -C DIR``.

Run: ``python benchmarks/bench_import_compare.py --rows 100000 --rounds 3 --before
/tmp/base/src --after src``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import OURS, generate


def run(source: Path, data: Path, folder: Path, label: str, workers: str) -> float:
    """Seconds one import takes with ``source`` (a ``src`` directory) as the library."""
    store = folder / f"{label}.db"
    store.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(source.resolve())}
    done = subprocess.run(
        [sys.executable, "-c", OURS, f"sqlite:///{store}", str(data), "2000", workers],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"])


def main() -> None:
    """Generate the file once, run both sides alternately, print each run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--workers", default="auto")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        data = folder / "customers.csv"
        generate(data, args.rows)
        for round_ in range(args.rounds):
            order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            for side in order:
                source = args.before if side == "before" else args.after
                seconds = run(source, data, folder, side, args.workers)
                times[side].append(seconds)
                print(f"round {round_ + 1} {side}: {seconds:.2f} s", flush=True)
    for side, values in times.items():
        median = statistics.median(values)
        print(f"{side}: median {median:.2f} s, {args.rows / median:,.0f} rows/s")
    ratio = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after / before: {ratio:.3f}x")


if __name__ == "__main__":
    main()
