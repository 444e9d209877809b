"""What SQLite's side of a large import costs, and what bulk index handling would change.

Replays an import's own rows (customers, tags, contact keys, text-index rows, events,
read from a store a real import filled) batch by batch into a fresh store with bare
``executemany``, as the import's writer does, under each of these ways of loading:

- ``today``: every index and the FTS5 text index written per batch, as the store does;
- ``text-index-after``: the text-index rows held back and inserted in one transaction
  at the end (the FTS5 "rebuild in bulk after a large import");
- ``indexes-after``: the secondary indexes of customers, tags and events dropped
  before the load and created again at the end;
- ``both``: the two above together;
- ``batch-20000``: four times larger transactions;
- ``checkpoint-50000``: a WAL checkpoint every 50,000 pages instead of 10,000;
- ``no-contact-keys``: not a way to load (the duplicate look-up needs the keys) but
  a measurement: today's load without the contact keys, to show their share.

For each it prints the wall time of the load and of the finishing step, the bytes the
process wrote (``wchar`` of ``/proc/self/io``: the WAL and the checkpoints), and the
seconds a batch takes in the first and last tenth of the load (what grows with the
store's size). The variants take turns each round, the order reversed every other
round; medians and spreads over rounds are printed, with ``uptime``.

Run: ``python benchmarks/bench_bulk_sqlite.py --source STORE.db --customers 400000
--rounds 3``, where STORE.db is a store filled by an import (for instance by
``pipeline customers import`` of ``bench_import.py``'s file; ``--rows N`` makes one).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import generate

from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions

TABLES = ("customers", "customer_tags", "contact_keys", "search_index", "events")
OWNER = {"customers": 0, "customer_tags": 0, "contact_keys": 2, "search_index": 0, "events": 1}
"""The column of each table's rows that holds the customer id (the batch it belongs to)."""

DERIVED = ("customers", "customer_tags", "events")
"""The tables whose secondary indexes ``indexes-after`` drops (contact keys stay: the
duplicate look-up reads them during the import)."""

VARIANTS = (
    "today",
    "text-index-after",
    "indexes-after",
    "both",
    "batch-20000",
    "checkpoint-50000",
    "no-contact-keys",
)

Batch = dict[str, list[tuple[object, ...]]]


def _written_mb() -> float:
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("wchar:")).split()[1]) / 1e6


def read_batches(source: Path, customers: int, size: int) -> list[Batch]:
    """The rows of the source store's first ``customers`` customers, grouped into batches."""
    db = sqlite3.connect(source)
    batches: dict[int, Batch] = {}
    for table in TABLES:
        owner = "rowid" if table in ("customers", "search_index") else "customer_id"
        rowid = "rowid, " if table == "search_index" else ""
        # Table names and columns are this script's constants, never input.
        rows = db.execute(f"SELECT {rowid}* FROM {table} WHERE {owner} <= ?", (customers,))
        for row in rows:
            number = (int(row[OWNER[table]]) - 1) // size
            batches.setdefault(number, {}).setdefault(table, []).append(tuple(row))
    db.close()
    return [batches[n] for n in sorted(batches)]


def load(target: Path, batches: list[Batch], variant: str) -> dict[str, float]:
    """Write ``batches`` into a fresh store at ``target`` the way ``variant`` says."""
    Workspace.open(f"sqlite:///{target}").init()
    db = sqlite3.connect(target, isolation_level=None)
    # As the store's prepare_bulk_load sets them for a large import.
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -98304")
    checkpoint = 50_000 if variant == "checkpoint-50000" else 10_000
    db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")
    dropped: list[str] = []
    if variant in ("indexes-after", "both"):
        marks = ", ".join("?" for _ in DERIVED)
        found = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({marks})",
            DERIVED,
        ).fetchall()
        for name, sql in found:
            dropped.append(sql)
            db.execute(f'DROP INDEX "{name}"')
    held_back = variant in ("text-index-after", "both")
    documents: list[tuple[object, ...]] = []
    per_batch: list[float] = []
    written = _written_mb()
    start = time.perf_counter()
    for batch in batches:
        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for table, rows in batch.items():
            if table == "contact_keys" and variant == "no-contact-keys":
                continue
            if table == "search_index" and held_back:
                documents.extend(rows)
                continue
            columns = "(rowid, names, emails, tags, phones)" if table == "search_index" else ""
            marks = ", ".join("?" for _ in rows[0])
            db.executemany(f"INSERT INTO {table} {columns} VALUES ({marks})", rows)
        db.execute("COMMIT")
        per_batch.append(time.perf_counter() - began)
    loaded = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    if documents:
        db.executemany(
            "INSERT INTO search_index (rowid, names, emails, tags, phones) VALUES (?, ?, ?, ?, ?)",
            documents,
        )
    for sql in dropped:
        db.execute(sql)
    db.execute("COMMIT")
    finished = time.perf_counter()
    db.close()
    tenth = max(1, len(per_batch) // 10)
    return {
        "load": loaded - start,
        "finish": finished - loaded,
        "total": finished - start,
        "written_mb": _written_mb() - written,
        "first_tenth": statistics.fmean(per_batch[:tenth]),
        "last_tenth": statistics.fmean(per_batch[-tenth:]),
    }


def _fresh(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _spread(values: list[float], digits: int = 2) -> str:
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    """Read the source's batches, load them under each variant in alternating rounds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, help="A store an import filled.")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="Without --source: import this many rows."
    )
    parser.add_argument("--customers", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = args.variants.split(",")
    print(f"uptime at start: {_uptime()}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = args.source
        if source is None:
            data, source = work / "customers.csv", work / "source.db"
            generate(data, args.rows)
            Workspace.open(f"sqlite:///{source}").customers.import_file(data, ImportOptions())
        read = {size: read_batches(source, args.customers, size) for size in (5_000, 20_000)}
        rows = sum(len(r) for batch in read[5_000] for r in batch.values())
        print(f"{len(read[5_000])} batches of 5,000 customers, {rows:,} rows in all")
        results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for round_ in range(args.rounds):
            order = variants if round_ % 2 == 0 else list(reversed(variants))
            for variant in order:
                target = work / "target.db"
                _fresh(target)
                size = 20_000 if variant == "batch-20000" else 5_000
                results[variant].append(load(target, read[size], variant))
                _fresh(target)
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{v} {results[v][-1]['total']:.2f} s" for v in variants)
            )
        base = results[variants[0]]
        for variant in variants:
            measured = results[variant]
            ratios = [m["total"] / b["total"] for m, b in zip(measured, base, strict=True)]
            print(
                f"{variant}: total {_spread([m['total'] for m in measured])} s"
                f" = load {_spread([m['load'] for m in measured])}"
                f" + finish {_spread([m['finish'] for m in measured])};"
                f" {_spread(ratios)}x of {variants[0]};"
                f" written {_spread([m['written_mb'] for m in measured], 0)} MB;"
                f" a batch {_spread([m['first_tenth'] for m in measured], 3)} s in the first"
                f" tenth, {_spread([m['last_tenth'] for m in measured], 3)} s in the last"
            )
    print(f"uptime at end: {_uptime()}")
    os.sync()


if __name__ == "__main__":
    main()
