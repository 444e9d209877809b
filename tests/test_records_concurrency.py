"""Processes upserting the same linked records at once: one record per key, no error."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from pipeline_core import Customer, EventKind, LinkedRecord, Workspace

from .test_concurrency import shared_url

WORKERS = 4
CUSTOMERS = 5
REFS = 6


def upsert_all(url: str, worker: int) -> int:
    """Upsert every record of every customer (odd workers in reverse order), in batches."""
    keys = [(c, f"INV-{r}") for c in range(1, CUSTOMERS + 1) for r in range(REFS)]
    if worker % 2:
        keys.reverse()
    with Workspace.open(url) as ws:
        for start in range(0, len(keys), 7):
            batch = [
                LinkedRecord(
                    customer_id=customer_id, kind="invoice", ref=ref, amount="10", currency="EUR"
                )
                for customer_id, ref in keys[start : start + 7]
            ]
            ws.records.upsert(batch)
    return len(keys)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_upserts_keep_one_record_per_key(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        for index in range(CUSTOMERS):
            ws.customers.add(Customer(name=f"C{index}"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        done = pool.starmap(upsert_all, [(url, worker) for worker in range(WORKERS)])
    assert done == [CUSTOMERS * REFS] * WORKERS
    with Workspace.open(url) as ws:
        records = ws.records.list()
        added = [
            e
            for customer_id in range(1, CUSTOMERS + 1)
            for e in ws.customers.timeline(customer_id)
            if e.kind is EventKind.RECORD_ADDED
        ]
    assert len(records) == len({(r.customer_id, r.ref) for r in records}) == CUSTOMERS * REFS
    assert len(added) == CUSTOMERS * REFS  # each added once; the later upserts changed nothing
