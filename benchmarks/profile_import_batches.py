"""Where each batch of a SQLite import spends its time, batch by batch: what grows with the store.

A diagnostic, not a benchmark: it wraps the SQLite store's transaction methods and the
import run's batch step from outside the library (nothing in ``pipeline_core`` is
changed) and imports one file, recording per batch the time between two batches, the
writer's time in the batch step, in the duplicate look-up (``find_by_keys``), in
``insert_customers`` (the text-index rows included), in ``append_events`` and in the
COMMIT, and the bytes the writer process wrote (``wchar`` of ``/proc/self/io``). It
prints the means by tenth of the run.

Run: ``python benchmarks/profile_import_batches.py --rows 1000000`` (the file is
``bench_import.py``'s, generated in a temporary directory; the store is fresh).
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_import import generate

from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions, ImportProgress
from pipeline_core.storage import sqlite as store_module
from pipeline_core.workspace import import_engine

SPENT: defaultdict[str, float] = defaultdict(float)
"""Seconds spent in each wrapped step since the last batch ended."""

COLUMNS = ("between", "batch", "find_by_keys", "insert_customers", "append_events", "commit")


def _timed(owner: type, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - began

    setattr(owner, name, wrapper)


def _time_commits() -> None:
    original = store_module.SqliteStore.transaction

    @contextmanager
    def transaction(self: store_module.SqliteStore) -> Iterator[Any]:
        manager = original(self)
        opened = manager.__enter__()
        try:
            yield opened
        except BaseException:
            if not manager.__exit__(*sys.exc_info()):
                raise
        else:
            began = time.perf_counter()
            manager.__exit__(None, None, None)
            SPENT["commit"] += time.perf_counter() - began

    store_module.SqliteStore.transaction = transaction  # type: ignore[method-assign]


def _written_mb() -> float:
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("wchar:")).split()[1]) / 1e6


def main() -> None:
    """Import a generated file with the wrappers in place, print the means by tenth."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    for name in ("find_by_keys", "insert_customers", "append_events"):
        _timed(store_module.SqliteTransaction, name)
    _timed(import_engine._Run, "batch")
    _time_commits()
    batches: list[dict[str, float]] = []
    last = [time.perf_counter(), _written_mb()]

    def batch_done(progress: ImportProgress) -> None:
        now, written = time.perf_counter(), _written_mb()
        batches.append({**SPENT, "between": now - last[0], "written_mb": written - last[1]})
        SPENT.clear()
        last[:] = [now, written]

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "customers.csv"
        generate(data, args.rows)
        ws = Workspace.open(f"sqlite:///{Path(folder) / 'store.db'}")
        started = time.perf_counter()
        summary = ws.customers.import_file(data, ImportOptions(), progress=batch_done)
        took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.rows:,} rows in {took:.1f} s, {summary.created:,} created, peak {peak:.0f} MB")
    per_batch = batches[1:]  # the first call comes before any batch
    size = max(1, len(per_batch) // 10)
    print("| batches | " + " | ".join(COLUMNS) + " | MB written |")
    for start in range(0, len(per_batch), size):
        tenth = per_batch[start : start + size]
        means = [statistics.fmean(b.get(c, 0.0) for b in tenth) for c in COLUMNS]
        written = statistics.fmean(b["written_mb"] for b in tenth)
        cells = " | ".join(f"{m:.3f}" for m in means)
        print(f"| {start + 1}-{start + len(tenth)} | {cells} | {written:.1f} |")


if __name__ == "__main__":
    main()
