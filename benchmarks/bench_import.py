"""Bulk import into SQLite against two baselines, on the same generated CSV, in one run.

- ours: ``ws.customers.import_file`` (normalization, validation, duplicate detection
  with policy skip, events, run ledger), in a subprocess so that its peak memory
  (``resource.getrusage``) is its own;
- (a) ``sqlite-utils insert db customers file.csv --csv`` (no normalization, no checks);
- (b) a hand-written script: phonenumbers normalization, a dict for duplicates,
  ``sqlite3.executemany``.

Targets (issue 5): ours <= 0.8x the time of (a); >= 0.7x the rate of (b); < 300 MB peak.
The data: phones in several countries' formats, mixed-case emails with display names,
tags, about 5 % duplicates typed differently. Deterministic (seeded).

Run: ``python benchmarks/bench_import.py --rows 100000 --rounds 3 [--before-src ../main/src]``:
the contenders take turns each round (the order reversed every other round), and each
ratio is computed within a round; the median and the spread over rounds are printed,
with ``uptime`` before and after. For each import it also prints the seconds a batch
took and the megabytes the writer wrote a batch, averaged by tenth of the run (what grows
with the store's size shows as a rising row), the finishing step's seconds, and the peak
memory of the writer and of its largest drafting worker.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

SRC = Path(__file__).resolve().parent.parent / "src"
"""The pipeline_core this benchmark measures as "ours"."""

PHONES: list[tuple[str, Callable[[random.Random], str]]] = [
    ("US", lambda r: f"({r.randint(201, 989)}) 555-{r.randint(1000, 9999)}"),
    ("GB", lambda r: f"020 7946 {r.randint(1000, 9999)}"),
    ("DE", lambda r: f"030 {r.randint(1000000, 9999999)}"),
    ("BR", lambda r: f"(11) 9{r.randint(1000, 9999)}-{r.randint(1000, 9999)}"),
    ("IN", lambda r: f"+91 98{r.randint(10000000, 99999999)}"),
]


def generate(path: Path, rows: int, seed: int = 5) -> None:
    """A messy CSV: ~5 % of rows repeat an earlier customer's contact, formatted differently."""
    rng = random.Random(seed)
    kept: list[tuple[str, str, str]] = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Full Name", "E-mail", "Mobile", "Country", "Tags"])
        for n in range(rows):
            if kept and rng.random() < 0.05:
                name, email, country = rng.choice(kept)
                out.writerow([name.upper(), email.upper(), "", country, "dup"])
                continue
            country, phone = rng.choice(PHONES)
            name = f"Person {n}"
            email = f"person.{n}@Example{n % 50}.com"
            shown = f'"{name}" <{email}>' if n % 3 == 0 else email
            out.writerow([name, shown, phone(rng), country, rng.choice(["vip", "new;web", ""])])
            if len(kept) < 10000:
                kept.append((name, email, country))


OURS = """
import resource, sys, time, json
from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions
ws = Workspace.open(sys.argv[1])
workers = None if sys.argv[4] == "auto" else int(sys.argv[4])
start = time.perf_counter()
size = {"batch_size": int(sys.argv[3])} if int(sys.argv[3]) else {}
marks, written = [], []
def written_mb():
    # Bytes this process handed to the kernel for writing (the WAL, the checkpoints).
    with open("/proc/self/io") as io:
        return int(next(l for l in io if l.startswith("wchar:")).split()[1]) / 1e6
def batch_done(progress):
    marks.append(time.perf_counter())
    written.append(written_mb())
s = ws.customers.import_file(sys.argv[2], ImportOptions(workers=workers, **size), progress=batch_done)
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
# The first call comes before any batch, the last after the finishing step.
batches = [round(b - a, 4) for a, b in zip(marks, marks[1:])]
batch_mb = [round(b - a, 2) for a, b in zip(written, written[1:])]
print(json.dumps({"seconds": took, "peak_mb": peak, "workers_peak_mb": workers_peak, "created": s.created, "skipped": s.skipped, "rejected": s.rejected, "batch_seconds": batches, "batch_written_mb": batch_mb, "finish_seconds": took - (marks[-1] - start)}))
"""

HANDWRITTEN = """
import csv, sqlite3, sys, time, json, resource
import phonenumbers
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, country TEXT, tags TEXT)")
start = time.perf_counter()
seen = {}
batch = []
with open(sys.argv[2], newline="", encoding="utf-8-sig") as handle:
    rows = csv.reader(handle)
    next(rows)
    for name, email, mobile, country, tags in rows:
        address = email.rpartition("<")[2].rstrip(">").strip().lower()
        keys = [("email", address)]
        if mobile:
            try:
                number = phonenumbers.parse(mobile, country)
                if phonenumbers.is_valid_number(number):
                    keys.append(("phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)))
            except phonenumbers.NumberParseException:
                pass
        if any(key in seen for key in keys):
            continue
        for key in keys:
            seen[key] = True
        batch.append((name, email, mobile, country, tags))
        if len(batch) >= 2000:
            db.executemany("INSERT INTO customers (name, email, phone, country, tags) VALUES (?, ?, ?, ?, ?)", batch)
            batch.clear()
db.executemany("INSERT INTO customers (name, email, phone, country, tags) VALUES (?, ?, ?, ?, ?)", batch)
db.commit()
took = time.perf_counter() - start
print(json.dumps({"seconds": took, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


FLOOR = """
import sqlite3, sys, time, json
from pipeline_core import Workspace
Workspace.open("sqlite:///" + sys.argv[2]).init()
source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
target.execute("PRAGMA cache_size = -65536")  # as the store sets it
tables = ["customers", "customer_tags", "contact_keys", "search_index", "events"]
data = {t: source.execute(f"SELECT {'rowid, ' if t == 'search_index' else ''}* FROM {t}").fetchall() for t in tables}
size = int(sys.argv[3])
owner = {"customers": 0, "customer_tags": 0, "contact_keys": 2, "search_index": 0, "events": 1}
columns = {"search_index": "(rowid, names, emails, tags, phones)"}
batches = {}
for t in tables:
    for row in data[t]:
        batches.setdefault((row[owner[t]] - 1) // size, {}).setdefault(t, []).append(row)
start = time.perf_counter()
for n in sorted(batches):
    with target:
        for t, rows in batches[n].items():
            marks = ", ".join("?" for _ in rows[0])
            target.executemany(f"INSERT INTO {t} {columns.get(t, '')} VALUES ({marks})", rows)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""
"""The SQL floor: our import's own rows (customers, tags, keys, search index, events) written
with bare executemany into a fresh store, batch by batch: what SQLite alone costs for our
schema, with no Python work per row."""


PG_FLOOR = """
import sys, time, json, psycopg
from pipeline_core import Workspace
source_url, target_url, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
Workspace.open(target_url).init()
owner = {"customers": "id", "customer_tags": "customer_id", "contact_keys": "customer_id",
         "search_index": "customer_id", "events": "customer_id"}
blocks = []
with psycopg.connect(source_url) as source:
    last = source.execute("SELECT max(id) FROM customers").fetchone()[0]
    for first in range(1, last + 1, size):
        block = []
        for table, column in owner.items():
            query = f"COPY (SELECT * FROM {table} WHERE {column} BETWEEN {first} AND {first + size - 1}) TO STDOUT"
            with source.cursor().copy(query) as copy:
                block.append((table, b"".join(bytes(part) for part in copy)))
        blocks.append(block)
with psycopg.connect(target_url) as target:
    start = time.perf_counter()
    for block in blocks:
        with target.transaction():
            for table, data in block:
                with target.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(data)
    print(json.dumps({"seconds": time.perf_counter() - start}))
"""
"""The PostgreSQL floor: our import's own rows, as COPY text, sent back with COPY into a
fresh database batch by batch: the server's cost for our schema, no Python per row."""


def _run(args: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _spin(count: int) -> int:
    total = 0
    for n in range(count):
        total += n
    return total


def parallel_capacity(count: int = 20_000_000) -> float:
    """How much more CPU work two processes get done than one in the same time (2.0: two full cores)."""
    import multiprocessing

    start = time.perf_counter()
    _spin(count)
    one = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started before timing
        start = time.perf_counter()
        pool.map(_spin, [count, count])
        two = time.perf_counter() - start
    return 2 * one / two


def _fresh_database(url: str) -> str:
    """A new empty database on the server of ``url`` (for the floor), as a URL."""
    import psycopg

    base, _, name = url.rpartition("/")
    fresh = f"{name}_floor"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {fresh}")
        connection.execute(f"CREATE DATABASE {fresh}")
    return f"{base}/{fresh}"


def _env(src: Path) -> dict[str, str]:
    """The environment of a subprocess importing ``pipeline_core`` from ``src``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far, theirs included."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _by_tenth(values: list[float]) -> str:
    """The mean of each tenth of ``values`` (batches in order): what grows with the store."""
    if not values:
        return "-"
    size = max(1, len(values) // 10)
    tenths = [values[i : i + size] for i in range(0, len(values), size)]
    return " ".join(f"{statistics.fmean(tenth):.3f}" for tenth in tenths)


def _spread(values: list[float]) -> str:
    """The median, and the lowest and highest of ``values``."""
    return f"{statistics.median(values):.2f}x (spread {min(values):.2f}-{max(values):.2f})"


def main() -> None:
    """Generate the file, run the imports in alternating rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=0,
        help="Rows per transaction (0: each version's default).",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", help="Import into this store URL instead (e.g. PostgreSQL).")
    parser.add_argument(
        "--workers", default="auto", help="Drafting worker processes (a number, or auto)."
    )
    parser.add_argument(
        "--before-src",
        type=Path,
        help="Also import with the pipeline_core found here (e.g. main's src), in the same rounds.",
    )
    parser.add_argument("--floor", action="store_true", help="Also time the SQL floor, once.")
    parser.add_argument(
        "--ours-src", type=Path, default=SRC, help="The pipeline_core to measure (a snapshot)."
    )
    args = parser.parse_args()
    print(f"uptime at start: {_uptime()}")
    print(f"parallel capacity of this machine: {parallel_capacity():.2f} cores")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = work / "customers.csv"
        generate(data, args.rows)
        if args.store:
            url = args.store
            ours = _run(
                [sys.executable, "-c", OURS, url, str(data), str(args.batch_size), args.workers],
                _env(SRC),
            )
            print(
                f"ours ({url.split(':')[0]}): {ours['seconds']:.2f} s,"
                f" {args.rows / ours['seconds']:,.0f} rows/s, peak {ours['peak_mb']:.0f} MB, {ours}"
            )
            if args.floor and args.store.startswith("postgresql"):
                floor_url = _fresh_database(args.store)
                floor = _run(
                    [sys.executable, "-c", PG_FLOOR, url, floor_url, str(args.batch_size or 10_000)]
                )
                print(
                    f"PostgreSQL floor (our rows, COPY only): {floor['seconds']:.2f} s,"
                    f" {args.rows / floor['seconds']:,.0f} rows/s"
                )
            return
        util = Path(sys.executable).with_name("sqlite-utils")
        contenders: dict[str, Callable[[int], float]] = {}

        def importer(src: Path, label: str) -> Callable[[int], float]:
            def run(round_: int) -> float:
                target = f"sqlite:///{work / f'{label}{round_}.db'}"
                result = _run(
                    [
                        sys.executable,
                        "-c",
                        OURS,
                        target,
                        str(data),
                        str(args.batch_size),
                        args.workers,
                    ],
                    _env(src),
                )
                # Lists in the JSON, not the float _run's type names.
                batches = cast(list[float], result.pop("batch_seconds"))
                written = cast(list[float], result.pop("batch_written_mb"))
                print(f"  {label}: {result}")
                print(f"    seconds a batch, by tenth of the run: {_by_tenth(batches)}")
                print(f"    MB written a batch, by tenth of the run: {_by_tenth(written)}")
                return result["seconds"]

            return run

        def utils(round_: int) -> float:
            start = time.perf_counter()
            subprocess.run(
                [str(util), "insert", str(work / f"u{round_}.db"), "customers", str(data), "--csv"],
                check=True,
            )
            return time.perf_counter() - start

        def hand(round_: int) -> float:
            return _run(
                [sys.executable, "-c", HANDWRITTEN, str(work / f"h{round_}.db"), str(data)]
            )["seconds"]

        contenders["ours"] = importer(args.ours_src, "ours")
        if args.before_src is not None:
            contenders["before"] = importer(args.before_src, "before")
        contenders["(a) sqlite-utils"] = utils
        contenders["(b) hand-written"] = hand
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        for round_ in range(args.rounds):
            # Alternating order: neither side always runs on the warmer (or busier) machine.
            order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
            for name in order:
                used = _children_cpu()
                times[name].append(contenders[name](round_))
                cpu[name].append(_children_cpu() - used)
            print(
                f"round {round_ + 1}: "
                + ", ".join(
                    f"{n} {times[n][-1]:.2f} s (cpu {cpu[n][-1]:.2f} s)" for n in contenders
                )
            )
        for name, values in times.items():
            print(
                f"{name}: median {statistics.median(values):.2f} s,"
                f" {args.rows / statistics.median(values):,.0f} rows/s,"
                f" cpu {statistics.median(cpu[name]):.2f} s"
            )
        for label, measured in (("time", times), ("cpu", cpu)):
            # Wall time is the target; CPU time (every process of a contender, workers
            # included) shows the work done when other jobs share the cores.
            a, b = measured["(a) sqlite-utils"], measured["(b) hand-written"]
            for name in [n for n in ("ours", "before") if n in measured]:
                mine = measured[name]
                print(
                    f"{name} / (a) {label}: {_spread([x / y for x, y in zip(mine, a, strict=True)])}"
                    " (target <= 0.8x)"
                )
                print(
                    f"(b) / {name} {label} (rate ratio): {_spread([y / x for x, y in zip(mine, b, strict=True)])}"
                    " (target >= 0.7x)"
                )
            if "before" in measured:
                ratios = [x / y for x, y in zip(measured["ours"], measured["before"], strict=True)]
                print(f"ours / before {label}: {_spread(ratios)}")
        if args.floor:
            floor = _run(
                [
                    sys.executable,
                    "-c",
                    FLOOR,
                    str(work / "ours0.db"),
                    str(work / "floor.db"),
                    str(args.batch_size or 10_000),
                ],
                _env(SRC),
            )
            print(
                f"SQL floor (our rows, bare executemany): {floor['seconds']:.2f} s, {floor['seconds'] / statistics.median(a):.2f}x (a)"
            )
    print(f"uptime at end: {_uptime()}")


if __name__ == "__main__":
    main()
