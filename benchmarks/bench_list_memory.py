"""Peak memory of ``pipeline customers list`` as JSON: streamed pages against the whole list.

Each side runs in a subprocess of its own, so that its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own, with its output going to
a file (as to a pipe or a redirect):

- ``--nl``: ``pipeline customers list --nl`` (JSON Lines from ``ws.customers.iter``,
  a page of 1000 customers per session, each line written as it is made);
- ``--format json``: ``pipeline customers list --format json`` (the same pages, the
  JSON array written element by element);
- old (the baseline): what ``customers list --format json`` did before, in the same
  run: ``ws.customers.list()`` whole, every record converted, one JSON text made and
  written (``customers_output(ws.customers.list(), "json")``);
- floor: ``pipeline customers count``, the interpreter with the library and the store
  open and nothing listed.

The store is made once per run by a bulk import of a generated CSV (names, emails,
phones, tags, a custom field; deterministic). The rounds alternate the order of the
sides; the script prints the median seconds and peak MB of each, and checks that the
streamed JSON is byte for byte the old output and that ``--nl`` has one line per
customer.

Run: ``python benchmarks/bench_list_memory.py --customers 100000 --rounds 3``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIDE = """
import json, resource, sys, time
mode, url, result = sys.argv[1:4]
start = time.perf_counter()
if mode == "old":
    from pipeline_core import Workspace
    from pipeline_core.render.common import customers_output
    with Workspace.open(url) as ws:
        sys.stdout.write(customers_output(ws.customers.list(), "json"))
else:
    from pipeline_core.cli import cli
    words = {
        "nl": ["customers", "list", "--nl"],
        "json": ["customers", "list", "--format", "json"],
        "floor": ["customers", "count"],
    }[mode]
    cli.main(["--store", url, *words], prog_name="pipeline", standalone_mode=False)
sys.stdout.flush()
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open(result, "w") as out:
    json.dump({"seconds": took, "peak_mb": peak}, out)
"""

SIDES = ("nl", "json", "old", "floor")


def generate(path: Path, rows: int, seed: int = 20) -> None:
    """A CSV of distinct customers with the usual contact data, tags and a custom field."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Full Name", "E-mail", "Mobile", "Country", "Tags", "fields.plan", "Notes"])
        for n in range(rows):
            out.writerow(
                [
                    f"Person {n} {rng.choice(['Smith', 'Łukasz', 'Øyvind', 'García'])}",
                    f"person.{n}@example{n % 50}.com",
                    f"+1 415 {rng.randint(200, 999)} {n % 10000:04d}",
                    "US",
                    rng.choice(["vip", "new;web", ""]),
                    rng.choice(["gold", "silver", ""]),
                    rng.choice(["", "called twice, wants a quote by Friday"]),
                ]
            )


def make_store(folder: Path, customers: int) -> str:
    """A SQLite workspace holding ``customers`` customers, made by a bulk import."""
    from pipeline_core import Workspace
    from pipeline_core.importing import ImportOptions

    source = folder / "people.csv"
    generate(source, customers)
    url = f"sqlite:///{folder / 'list.db'}"
    with Workspace.open(url, create=True) as ws:
        summary = ws.customers.import_file(source, ImportOptions(on_duplicate="allow"))
        assert summary.created == customers, summary
    return url


def measure(side: str, url: str, folder: Path) -> tuple[dict[str, float], Path]:
    """Run one side in a subprocess; its figures and the file its output went to."""
    output = folder / f"{side}.out"
    result = folder / f"{side}.json"
    with output.open("wb") as out:
        subprocess.run([sys.executable, "-c", SIDE, side, url, str(result)], stdout=out, check=True)
    figures: dict[str, float] = json.loads(result.read_text())
    return figures, output


def digest(path: Path) -> str:
    hashed = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            hashed.update(chunk)
    return hashed.hexdigest()


def main() -> None:
    """Make the store, run the sides in alternating rounds, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="Where the temporary files go.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        folder = Path(name)
        started = time.perf_counter()
        url = make_store(folder, args.customers)
        print(f"{args.customers:,} customers imported in {time.perf_counter() - started:.0f} s")
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for round_ in range(args.rounds):
            order = SIDES if round_ % 2 == 0 else tuple(reversed(SIDES))
            hashes = {}
            for side in order:
                figures, output = measure(side, url, folder)
                runs[side].append(figures)
                if side == "nl":
                    with output.open("rb") as handle:
                        lines = sum(1 for _ in handle)
                    assert lines == args.customers, f"--nl printed {lines} lines"
                hashes[side] = digest(output)
                output.unlink()
            assert hashes["json"] == hashes["old"], "the streamed JSON differs from the old output"
            shown = "  ".join(
                f"{side} {runs[side][-1]['peak_mb']:.0f} MB {runs[side][-1]['seconds']:.1f} s"
                for side in SIDES
            )
            print(f"round {round_ + 1}: {shown}")
        print(f"\nmedians of {args.rounds} rounds, {args.customers:,} customers:")
        print(f"{'side':<28}{'peak MB':>10}{'seconds':>10}")
        labels = {
            "nl": "customers list --nl",
            "json": "customers list --format json",
            "old": "old: list whole, one text",
            "floor": "customers count (floor)",
        }
        for side in SIDES:
            peak = statistics.median(r["peak_mb"] for r in runs[side])
            seconds = statistics.median(r["seconds"] for r in runs[side])
            print(f"{labels[side]:<28}{peak:>10.0f}{seconds:>10.1f}")


if __name__ == "__main__":
    main()
