"""Linked records on SQLite: bulk import rate against a bare executemany, and profile reads.

1. Import: ``ws.records.import_file(records.csv)`` into a seeded store (reading and
   checking every row, matching references, one transaction, a ``record_added`` event
   per record) against a bare sqlite3 loader that reads the same CSV with the csv
   module, builds each row's JSON body and ``executemany``s the rows into the same
   ``linked_records`` table (same PRAGMAs, one transaction; no checks, no events).
   Both start from copies of one seeded file; the rounds alternate which goes first.
   The re-run of the same file (every row ``unchanged``) is timed too.
2. Profile: ``ws.customers.show(id)`` of a customer holding ``--profile-records``
   records against ``show`` of a customer holding none, in the same store, alternating;
   and, in the same rounds, what the profile did before its sections came from the
   store: one session reading every record and every event of that customer and
   computing the sections in Python (``profile_records``).

Run: ``python benchmarks/bench_records.py --customers 2000 --records 20000 --rounds 5``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pipeline_core import Customer, Workspace
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.domain.records import LinkedRecord, profile_records
from pipeline_core.storage.protocol import new_customer

KINDS = (
    ("payment", ("received", "pending")),
    ("invoice", ("open", "paid", "overdue")),
    ("conversation", ("sent", "opened")),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def seed(path: Path, customers: int) -> None:
    """A store with ``customers`` customers."""
    with Workspace.open(f"sqlite:///{path}") as ws, ws.session() as s:
        encode, options = s.row_encoder(), NormalizeOptions()
        made = [Customer(name=f"Customer {i:06d}") for i in range(customers)]
        s.insert_customers([new_customer(customer, encode, options) for customer in made])


def write_csv(path: Path, customers: int, records: int, seed_value: int) -> None:
    """``records`` rows of payments, invoices and conversations of random customers."""
    rng = random.Random(seed_value)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["customer_id", "kind", "ref", "state", "amount", "currency", "at", "channel"]
        )
        for index in range(records):
            kind, states = rng.choice(KINDS)
            at = T0 + timedelta(minutes=rng.randrange(0, 500_000))
            money = kind != "conversation"
            writer.writerow(
                [
                    rng.randint(1, customers),
                    kind,
                    f"{kind[:3]}-{index:07d}",
                    rng.choice(states),
                    f"{rng.randrange(100, 500_000) / 100:.2f}" if money else "",
                    "EUR" if money else "",
                    at.isoformat(),
                    "" if money else rng.choice(("email", "whatsapp", "sms")),
                ]
            )


def run_workspace(path: Path, source: Path) -> tuple[float, float, int]:
    """Seconds of the first import, of the re-run, and the records added."""
    with Workspace.open(f"sqlite:///{path}") as ws:
        start = time.perf_counter()
        first = ws.records.import_file(source)
        middle = time.perf_counter()
        again = ws.records.import_file(source)
        end = time.perf_counter()
    assert not first.rejected and again.unchanged == first.added, (first, again)
    return middle - start, end - middle, first.added


def run_bare(path: Path, source: Path) -> tuple[float, int]:
    """Seconds of a hand-written loader of the same rows, and the rows written."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    now = datetime.now(UTC).isoformat()
    start = time.perf_counter()
    rows = []
    with source.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            amount = row["amount"] or None
            body = {
                "customer_id": int(row["customer_id"]),
                "kind": row["kind"],
                "ref": row["ref"],
                "state": row["state"],
                "amount": amount,
                "currency": row["currency"] or None,
                "at": row["at"],
                "channel": row["channel"] or None,
                "created_at": now,
                "updated_at": now,
            }
            moment = datetime.fromisoformat(row["at"]).astimezone(UTC).isoformat()
            rows.append(
                (
                    body["customer_id"],
                    row["kind"],
                    row["ref"],
                    row["state"],
                    None if amount is None else int(Decimal(amount).scaleb(4)),
                    body["currency"],
                    moment,
                    None,
                    body["channel"],
                    json.dumps(body),
                )
            )
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO linked_records (customer_id, kind, ref, state, amount_e4, currency,"
        " moment, due, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.close()
    return seconds, len(rows)


def bench_import(work: Path, args: argparse.Namespace) -> dict[str, float]:
    """Median import rates of both sides over alternating rounds, and their ratio."""
    seeded, source = work / "seeded.db", work / "records.csv"
    seed(seeded, args.customers)
    write_csv(source, args.customers, args.records, args.seed)
    ours, again, bare = [], [], []
    for round_ in range(args.rounds):
        order = ("workspace", "bare") if round_ % 2 == 0 else ("bare", "workspace")
        for side in order:
            copy = work / f"{side}-{round_}.db"
            shutil.copy(seeded, copy)
            if side == "workspace":
                first, rerun, added = run_workspace(copy, source)
                ours.append(added / first)
                again.append(added / rerun)
            else:
                seconds, written = run_bare(copy, source)
                bare.append(written / seconds)
            copy.unlink()
    return {
        "import_records_per_s": statistics.median(ours),
        "rerun_records_per_s": statistics.median(again),
        "bare_records_per_s": statistics.median(bare),
        "ratio": statistics.median(ours) / statistics.median(bare),
    }


def bench_batches(work: Path, args: argparse.Namespace) -> dict[str, float]:
    """Median import rates of the same file at each of ``--batch-sizes``, order rotating."""
    seeded, source = work / "batches.db", work / "batches.csv"
    seed(seeded, args.customers)
    write_csv(source, args.customers, args.records, args.seed)
    sizes = tuple(int(size) for size in args.batch_sizes.split(","))
    rates: dict[int, list[float]] = {size: [] for size in sizes}
    for round_ in range(args.rounds):
        for size in sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]:
            copy = work / f"batch-{size}.db"
            shutil.copy(seeded, copy)
            with Workspace.open(f"sqlite:///{copy}") as ws:
                start = time.perf_counter()
                summary = ws.records.import_file(source, batch_size=size)
                rates[size].append(summary.added / (time.perf_counter() - start))
            copy.unlink()
    return {f"batch_{size}_records_per_s": statistics.median(r) for size, r in rates.items()}


def bench_profile(work: Path, args: argparse.Namespace) -> dict[str, float]:
    """Median ``show`` times of a customer with many records and of one with none."""
    path = work / "profile.db"
    rng = random.Random(args.seed)
    with Workspace.open(f"sqlite:///{path}") as ws:
        busy = ws.customers.add(Customer(name="Busy"))
        quiet = ws.customers.add(Customer(name="Quiet"))
        batch = []
        for index in range(args.profile_records):
            kind, states = KINDS[index % len(KINDS)]
            money = kind != "conversation"
            batch.append(
                LinkedRecord(
                    customer_id=busy.id,
                    kind=kind,
                    ref=f"r-{index}",
                    state=rng.choice(states),
                    amount=Decimal(rng.randrange(100, 50_000)) / 100 if money else None,
                    currency="EUR" if money else None,
                    channel=None if money else rng.choice(("email", "sms")),
                    at=T0 + timedelta(minutes=index),
                )
            )
        ws.records.upsert(batch)
        with_records: list[float] = []
        without: list[float] = []
        every: list[float] = []
        for _ in range(args.reads):
            for customer_id, times in ((busy.id, with_records), (quiet.id, without)):
                start = time.perf_counter()
                ws.customers.show(customer_id)
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            with ws.session() as s:
                profile_records(s.find_records(customer_id=busy.id), s.now())
                s.events(busy.id)
            every.append(time.perf_counter() - start)
    return {
        "show_with_records_ms": statistics.median(with_records) * 1000,
        "show_without_records_ms": statistics.median(without) * 1000,
        "every_record_and_event_in_python_ms": statistics.median(every) * 1000,
    }


def main() -> None:
    """Parse the options, run both benchmarks, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile-records", type=int, default=3000)
    parser.add_argument("--reads", type=int, default=15)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile-only", action="store_true", help="skip the import rounds")
    parser.add_argument(
        "--batch-sizes",
        default="",
        help="only compare import rates at these batch sizes (comma-separated)",
    )
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.batch_sizes:
            figures = bench_batches(Path(tmp), args)
            print(json.dumps({k: round(v, 3) for k, v in figures.items()}, indent=2))
            return
        imported = {} if args.profile_only else bench_import(Path(tmp), args)
        figures = {**imported, **bench_profile(Path(tmp), args)}
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
