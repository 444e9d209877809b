"""Start-up time of ``pipeline --help`` against ``sqlite-utils --help`` (another click CLI).

Each command runs in a fresh process, its output thrown away; the commands take
turns (one run of each per round, the order rotating every round) so that a busy
moment of a shared machine falls on all of them alike. The table gives the median,
the fastest and the slowest wall time of each, and each one's median over
sqlite-utils'. Target: ``pipeline --help`` no slower than ``sqlite-utils --help``.

The rows:

- ``python -c pass``: the interpreter alone, the floor under every row;
- ``import pipeline_core.cli``: what ``pipeline`` imports before click parses anything;
- ``pipeline --help``: the console script next to this Python, run on this checkout's
  ``src`` (``PYTHONPATH``), as a user types it;
- ``sqlite-utils --help``: the console script of sqlite-utils (the ``bench`` extra);
- with ``--other-src DIR``, ``pipeline --help`` again on another source tree (an
  earlier commit, say, unpacked with ``git archive REV | tar -x -C DIR``).

Run::

    python benchmarks/bench_startup.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
BIN = Path(sys.executable).parent


def with_src(src: Path) -> dict[str, str]:
    """The environment, with ``src`` first on the import path."""
    paths = [str(src), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def commands(other_src: Path | None) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Label -> (argv, environment) of every row."""
    ours = with_src(SRC)
    rows = {
        "python -c pass": ([sys.executable, "-c", "pass"], ours),
        "import pipeline_core.cli": ([sys.executable, "-c", "import pipeline_core.cli"], ours),
        "pipeline --help": ([str(BIN / "pipeline"), "--help"], ours),
        "sqlite-utils --help": ([str(BIN / "sqlite-utils"), "--help"], dict(os.environ)),
    }
    if other_src is not None:
        rows[f"pipeline --help ({other_src})"] = (
            [str(BIN / "pipeline"), "--help"],
            with_src(other_src),
        )
    return rows


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Seconds one run takes; a failing command stops the benchmark."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - started


def measure(
    rows: dict[str, tuple[list[str], dict[str, str]]], rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Every row run ``rounds`` times, taking turns, after ``warmup`` untimed rounds."""
    labels = list(rows)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for number in range(warmup + rounds):
        shift = number % len(labels)
        for label in labels[shift:] + labels[:shift]:
            seconds = run_once(*rows[label])
            if number >= warmup:
                times[label].append(seconds)
    return times


def table(times: dict[str, list[float]], baseline: str) -> str:
    """A Markdown table of the medians (ms) and the ratio to the baseline's median."""
    base = statistics.median(times[baseline])
    width = max(len(label) for label in times) + 2
    lines = [
        f"| {'command':<{width}} | median ms | min ms | max ms | / sqlite-utils |",
        f"| {'-' * width} | ---: | ---: | ---: | ---: |",
    ]
    for label, runs in times.items():
        median = statistics.median(runs)
        lines.append(
            f"| {'`' + label + '`':<{width}} | {median * 1000:.0f} | {min(runs) * 1000:.0f} "
            f"| {max(runs) * 1000:.0f} | {median / base:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table; exit status 1 if ``pipeline --help`` misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--other-src", type=Path, help="also time pipeline --help on this src")
    args = parser.parse_args(argv)
    rows = commands(args.other_src)
    times = measure(rows, args.rounds, args.warmup)
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds, {os.cpu_count()} CPUs")
    print(table(times, "sqlite-utils --help"))
    ours = statistics.median(times["pipeline --help"])
    theirs = statistics.median(times["sqlite-utils --help"])
    verdict = "at or under" if ours <= theirs else "OVER"
    print(
        f"pipeline --help: {verdict} sqlite-utils --help ({ours * 1000:.0f} vs {theirs * 1000:.0f} ms)"
    )
    return 0 if ours <= theirs else 1


if __name__ == "__main__":
    sys.exit(main())
