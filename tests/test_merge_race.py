"""Merges race other writers in separate processes and lose nothing (SQLite and PostgreSQL).

Two worker processes start each round together (a barrier), so that on
PostgreSQL their transactions interleave: two merges of one customer into two
different primaries, or a merge against a tag edit of one of its customers.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from pipeline_core import Customer, PipelineError, Workspace

from .test_concurrency import shared_url

ROUNDS = 60
_barrier: Barrier | None = None


def _share_barrier(barrier: Barrier) -> None:
    global _barrier
    _barrier = barrier


def _together() -> None:
    assert _barrier is not None
    _barrier.wait(timeout=60)


def merge_rounds(url: str, rounds: list[tuple[int, int]]) -> list[str]:
    """Merge each round's victim into this worker's primary; "ok" or the refusal's text."""
    outcomes: list[str] = []
    with Workspace.open(url) as ws:
        for primary, victim in rounds:
            _together()
            try:
                ws.customers.merge(primary, [victim])
                outcomes.append("ok")
            except PipelineError as error:
                outcomes.append(str(error))
    return outcomes


def write_rounds(url: str, rounds: list[tuple[str, int, str]]) -> list[tuple[int, str]]:
    """Each round's write (no version pinned) on its customer: (the id it landed on, what).

    Kinds: ``tag`` (an edit adding the tag), ``note``, ``task`` (titled with the
    text) and ``time`` (a time entry noted with it).
    """
    acknowledged: list[tuple[int, str]] = []
    with Workspace.open(url) as ws:
        for kind, customer_id, text in rounds:
            _together()
            if kind == "tag":
                edited = ws.customers.edit(customer_id, add_tags=[text])
                assert text in edited.tags
                acknowledged.append((edited.id, text))
            elif kind == "note":
                acknowledged.append((ws.notes.add(customer_id, text).customer_id, text))
            elif kind == "task":
                acknowledged.append((ws.tasks.add(customer_id, text).customer_id, text))
            else:
                acknowledged.append(
                    (ws.time.log(customer_id, "wendy", 5, note=text).customer_id, text)
                )
    return acknowledged


def _run_pair(*jobs: tuple[Callable[..., Any], str, list[Any]]) -> list[Any]:
    """Run two workers' rounds in two processes started together; their results."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    with context.Pool(2, initializer=_share_barrier, initargs=(barrier,)) as pool:
        pending = [pool.apply_async(job[0], job[1:]) for job in jobs]
        return [result.get(timeout=120) for result in pending]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_merges_of_one_customer_into_two_primaries(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        trios = [
            tuple(
                ws.customers.add(Customer(name=name, emails=emails)).id
                for name, emails in (
                    (f"Left {i}", []),
                    (f"Right {i}", []),
                    (f"Victim {i}", [f"victim{i}@race.example"]),
                )
            )
            for i in range(ROUNDS)
        ]
    left, right = _run_pair(
        (merge_rounds, url, [(a, v) for a, _, v in trios]),
        (merge_rounds, url, [(b, v) for _, b, v in trios]),
    )
    assert isinstance(left, list) and isinstance(right, list)
    waited = 0
    with Workspace.open(url) as ws:
        for index, ((a, b, victim), *outcomes) in enumerate(zip(trios, left, right, strict=True)):
            assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
            winner, loser = (a, b) if outcomes[0] == "ok" else (b, a)
            refusal = next(o for o in outcomes if o != "ok")
            # Either it came second, or it waited for the winner's lock and then saw it.
            assert refusal in (
                f"customer {victim} was already merged into {winner}",
                f"customer {victim} was merged into {winner} meanwhile",
            )
            waited += refusal.endswith("meanwhile")
            assert ws.customers.get(victim).id == winner
            holders = ws.customers.list(f'emails ~ "victim{index}@race.example"')
            assert [c.id for c in holders] == [winner]
            assert ws.customers.get(loser).emails == ()
        assert ws.customers.dupes() == []
        assert ws.customers.count() == 2 * ROUNDS
    if backend == "postgres":
        assert waited > 0  # the merges did overlap: the race was run, not avoided


WRITES = ("tag", "tag", "note", "task", "time")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_merge_against_other_writes_loses_none(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        pairs = [
            (
                ws.customers.add(Customer(name=f"P{i}")).id,
                ws.customers.add(Customer(name=f"O{i}")).id,
            )
            for i in range(ROUNDS)
        ]
    # Every kind of write lands on the record merged away; one round in five edits
    # the primary it is merged into instead.
    writes = [
        (WRITES[index % 5], primary if index % 5 == 1 else other, f"w{index}")
        for index, (primary, other) in enumerate(pairs)
    ]
    merged, acknowledged = _run_pair((merge_rounds, url, pairs), (write_rounds, url, writes))
    assert merged == ["ok"] * ROUNDS
    assert isinstance(acknowledged, list)
    with Workspace.open(url) as ws:
        for (primary, other), (kind, _, text), (landed, _) in zip(
            pairs, writes, acknowledged, strict=True
        ):
            assert landed in (primary, other)  # acknowledged on the record or its survivor
            assert ws.customers.get(other).id == primary
            # ...and present on the survivor afterwards, also when asked by the old id.
            if kind == "tag":
                assert text in ws.customers.get(other).tags
            elif kind == "note":
                assert text in [note.data["text"] for note in ws.notes.list(other)]
            elif kind == "task":
                found = [task for task in ws.tasks.list(customer_id=other) if task.title == text]
                assert [task.customer_id for task in found] == [primary]
            else:
                entries = [e for e in ws.time.list(customer_id=other) if e.note == text]
                assert [entry.customer_id for entry in entries] == [primary]
            merges = [e for e in ws.customers.timeline(primary) if e.kind == "merged"]
            assert len(merges) == 1
