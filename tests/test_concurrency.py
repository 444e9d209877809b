"""Several processes writing the same customers at once lose no update (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import pytest

from pipeline_core import (
    ConcurrencyError,
    Customer,
    DuplicateCustomer,
    EventKind,
    TransitionNotAllowed,
    Workspace,
)

from .conftest import fresh_store_url
from .postgres_server import find_bin_dir

WORKERS = 4
ROUNDS = 25
CYCLE = {"Lead": "Prospect", "Prospect": "Quoted", "Quoted": "Customer", "Customer": "Inactive"}
CYCLE["Inactive"] = "Lead"


def shared_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL binaries")
    return fresh_store_url("postgres")


def increment(url: str, customer_id: int, rounds: int) -> int:
    """Read-modify-write a counter field, retrying on ConcurrencyError; return the retries."""
    retries = 0
    with Workspace.open(url) as ws:
        for _ in range(rounds):
            while True:
                current = ws.customers.get(customer_id)
                count = int(str(current.fields.get("count", 0)))
                try:
                    ws.customers.edit(
                        customer_id,
                        expected_version=current.version,
                        fields={**current.fields, "count": count + 1},
                    )
                    break
                except ConcurrencyError:
                    retries += 1
    return retries


def cycle_moves(url: str, customer_ids: list[int], rounds: int) -> int:
    """Move customers one step along the cycle from what was last read; return successes."""
    moved = 0
    with Workspace.open(url) as ws:
        for index in range(rounds):
            customer_id = customer_ids[index % len(customer_ids)]
            current = ws.customers.get(customer_id)
            try:
                ws.customers.move(
                    customer_id, CYCLE[current.status], expected_version=current.version
                )
                moved += 1
            except (ConcurrencyError, TransitionNotAllowed):
                pass
    return moved


def unpinned_edits(url: str, customer_id: int, rounds: int) -> int:
    """Edits that do not name a version: the workspace retries races itself."""
    tag = f"w{multiprocessing.current_process().pid}"
    with Workspace.open(url) as ws:
        for index in range(rounds):
            ws.customers.edit(customer_id, source=f"{tag}-{index}")
    return rounds


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_unpinned_concurrent_edits_all_land(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        target = ws.customers.add(Customer(name="Busy"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        done = sum(pool.starmap(unpinned_edits, [(url, target.id, ROUNDS)] * WORKERS))
    with Workspace.open(url) as ws:
        edits = [e.data for e in ws.customers.timeline(target.id) if e.kind is EventKind.EDITED]
        final = ws.customers.get(target.id)
    assert done == len(edits) == WORKERS * ROUNDS
    assert final.version == 1 + WORKERS * ROUNDS
    # Each edit saw the one before it: the chain of before/after values is unbroken.
    for previous, edit in itertools.pairwise(edits):
        assert edit["before"] == previous["after"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_increments_lose_no_update(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        target = ws.customers.add(Customer(name="Contended", fields={"count": 0}))
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        pool.starmap(increment, [(url, target.id, ROUNDS)] * WORKERS)
    with Workspace.open(url) as ws:
        final = ws.customers.get(target.id)
        edits = [e for e in ws.customers.timeline(target.id) if e.kind is EventKind.EDITED]
    assert final.fields["count"] == WORKERS * ROUNDS
    assert final.version == 1 + WORKERS * ROUNDS
    assert len(edits) == WORKERS * ROUNDS


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_moves_form_one_consistent_history(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        ids = [ws.customers.add(Customer(name=f"C{i}")).id for i in range(3)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        successes = sum(pool.starmap(cycle_moves, [(url, ids, ROUNDS)] * WORKERS))
    with Workspace.open(url) as ws:
        total_moves = 0
        for customer_id in ids:
            moves = [
                e.data
                for e in ws.customers.timeline(customer_id)
                if e.kind is EventKind.STATUS_CHANGED
            ]
            total_moves += len(moves)
            status = "Lead"
            for move in moves:
                # Every move starts where the previous one ended: none was lost or interleaved.
                assert move["from"] == status
                status = str(move["to"])
            assert ws.customers.get(customer_id).status == status
    assert total_moves == successes > 0


PHONES = [f"+1 415 555 {index:04d}" for index in range(100, 130)]


def add_overlapping(url: str, seed: int, policy: str) -> int:
    """Add a customer per phone of a shared list, in this worker's own order."""
    import random

    order = PHONES[:]
    random.Random(seed).shuffle(order)
    refused = 0
    with Workspace.open(url) as ws:
        for phone in order:
            try:
                ws.customers.add(
                    Customer(name=f"Caller {phone}", phones=[phone]),
                    on_duplicate=policy,  # type: ignore[arg-type]
                )
            except DuplicateCustomer:
                refused += 1
    return refused


@pytest.mark.parametrize("policy", ["block", "merge"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_adds_create_no_duplicates(backend: str, policy: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    Workspace.open(url).close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        refused = pool.starmap(add_overlapping, [(url, seed, policy) for seed in range(WORKERS)])
    with Workspace.open(url) as ws:
        customers = ws.customers.list()
        assert sorted(c.phones[0] for c in customers) == sorted(PHONES)
        assert ws.customers.dupes() == []
    if policy == "block":
        assert sum(refused) == (WORKERS - 1) * len(PHONES)


def contacts(url: str, customer_id: int, rounds: int) -> int:
    """Log contacts with notes: read-modify-write of the lead notes, version not pinned."""
    with Workspace.open(url) as ws:
        for index in range(rounds):
            ws.customers.contact(
                customer_id, f"call {multiprocessing.current_process().pid}-{index}"
            )
    return rounds


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_lifecycle_writes_queue_and_all_land(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        target = ws.customers.add(Customer(name="Popular"))
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        done = sum(pool.starmap(contacts, [(url, target.id, ROUNDS)] * WORKERS))
    with Workspace.open(url) as ws:
        final = ws.customers.get(target.id)
        logged = [e for e in ws.customers.timeline(target.id) if e.kind is EventKind.CONTACT_LOGGED]
    assert done == len(logged) == WORKERS * ROUNDS
    # Every note made it into the lead notes: no writer overwrote another's.
    assert final.lead_notes.count("call ") == WORKERS * ROUNDS
