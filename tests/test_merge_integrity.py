"""What a merge leaves behind, on every backend: tombstones nobody changes, and moved records
that name the survivor wherever they are stored or asked for (see docs/duplicates.md).

The races themselves, with processes, are in tests/test_merge_race.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, cast

import attrs
import pytest
from click.testing import CliRunner

from pipeline_core import Customer, Event, EventKind, Task, TimeEntry, Workspace
from pipeline_core.cli import cli
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.errors import ConcurrencyError, InvalidValue, MergedMeanwhile
from pipeline_core.storage import Transaction
from pipeline_core.workspace.dedupe import merge_records

from .conftest import StoreFactory

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _people(tx: Transaction, *names: str) -> list[int]:
    return [
        tx.insert_customer(Customer(name=name, created_at=T0, updated_at=T0)).id for name in names
    ]


# the store: a customer is merged once, and a tombstone never changes -----------------------


def test_a_customer_is_merged_only_once(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        a, b, c = _people(tx, "A", "B", "C")
        tx.mark_merged(b, a)
    refused = f"customer {b} was merged into {a}"
    with store.transaction() as tx, pytest.raises(MergedMeanwhile, match=refused) as error:
        tx.mark_merged(b, c)
    assert isinstance(error.value, ConcurrencyError) and error.value.into == a
    into_tombstone = f"cannot merge into customer {b}: it was merged into {a}"
    with store.transaction() as tx, pytest.raises(InvalidValue, match=into_tombstone):
        tx.mark_merged(c, b)
    with store.transaction() as tx, pytest.raises(InvalidValue, match="into itself"):
        tx.mark_merged(c, c)
    with store.transaction() as tx:
        assert [tx.merged_into(i) for i in (a, b, c)] == [None, a, None]


def test_a_tombstone_is_never_changed_nor_locked(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        a, b = _people(tx, "A", "B")
        stale = tx.get_customer(b)
        tx.mark_merged(b, a)
    # The version is still the one read: only the merge stops the write.
    refused = f"customer {b} was merged into {a}"
    with store.transaction() as tx, pytest.raises(MergedMeanwhile, match=refused):
        tx.update_customer(attrs.evolve(stale, tags=("lost",)))
    with store.transaction() as tx:
        with pytest.raises(MergedMeanwhile) as error:
            tx.lock_customer(b)
        assert (error.value.customer_id, error.value.into) == (b, a)
        assert tx.get_customer(b).tags == () and tx.get_customer(b).version == stale.version


def test_moved_tasks_name_their_new_customer(make_store: StoreFactory, backend: str) -> None:
    store = make_store()
    with store.transaction() as tx:
        a, b = _people(tx, "A", "B")
        task = tx.insert_task(Task(customer_id=b, title="Call back", created_at=T0))
        moved = tx.move_attachments(b, a)
        assert moved["tasks"] == [task.id]
    with store.transaction() as tx:
        assert tx.get_task(task.id).customer_id == a
        assert [t.customer_id for t in tx.find_tasks(customer_id=a)] == [a]
        assert tx.find_tasks(customer_id=b) == []
        if backend != "memory":
            # The stored body agrees with the row: a copy or a reader of the body sees a too.
            assert _stored_body(tx, task.id)["customer_id"] == a


def _stored_body(tx: Transaction, task_id: int) -> dict[str, Any]:
    sql = cast(Any, tx)
    body = sql._one("SELECT body FROM tasks WHERE id = ?", (task_id,))[0]
    found: dict[str, Any] = json.loads(body) if isinstance(body, str) else body
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_body_still_naming_the_old_customer_reads_as_its_row(
    make_store: StoreFactory, backend: str
) -> None:
    # Stores written before merges rewrote task bodies hold such rows.
    store = make_store()
    with store.transaction() as tx:
        a, b = _people(tx, "A", "B")
        task = tx.insert_task(Task(customer_id=b, title="Old", created_at=T0))
        cast(Any, tx)._db.execute(cast(Any, tx)._sql("UPDATE tasks SET customer_id = ?"), (a,))
    with store.transaction() as tx:
        assert _stored_body(tx, task.id)["customer_id"] == b
        assert tx.get_task(task.id).customer_id == a
        assert [t.customer_id for t in tx.find_tasks(customer_id=a)] == [a]


# merging: the customers are locked, and one merged meanwhile is refused -------------------


class MergedFirst:
    """A store transaction on which another writer's merge lands just before the first lock."""

    def __init__(self, tx: Transaction, customer_id: int, into: int) -> None:
        self.tx = tx
        self.pending: tuple[int, int] | None = (customer_id, into)

    def lock_customer(self, customer_id: int, **scope: Any) -> Customer:
        if self.pending is not None:
            self.tx.mark_merged(*self.pending)
            self.pending = None
        return self.tx.lock_customer(customer_id, **scope)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)


def _merge(tx: Transaction, primary: int, others: list[int]) -> None:
    def event(customer_id: int, kind: EventKind, **data: Any) -> Event:
        return Event(customer_id=customer_id, kind=kind, at=T0, actor="test", data=data)

    merge_records(tx, primary, others, options=NormalizeOptions(), now=T0, event=event)


def test_a_merge_refuses_a_customer_merged_meanwhile(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        a, b, c = _people(tx, "A", "B", "C")
    other_gone = f"^customer {c} was merged into {b} meanwhile$"
    with pytest.raises(InvalidValue, match=other_gone), store.transaction() as tx:
        _merge(cast(Transaction, MergedFirst(tx, c, b)), a, [c])
    primary_gone = (
        f"^cannot merge into customer {a}: it was merged into {b} meanwhile; merge into {b}"
    )
    with pytest.raises(InvalidValue, match=primary_gone), store.transaction() as tx:
        _merge(cast(Transaction, MergedFirst(tx, a, b)), a, [c])
    with store.transaction() as tx:  # both refusals rolled back everything
        assert [tx.merged_into(i) for i in (a, b, c)] == [None, None, None]


def test_a_session_lock_follows_a_customer_merged_while_it_waited(workspace: Workspace) -> None:
    a = workspace.customers.add(Customer(name="A")).id
    b = workspace.customers.add(Customer(name="B")).id
    with workspace.session() as s:
        assert s.get_customer(b).id == b  # the session now knows b as live
        s.unscoped.mark_merged(b, a)  # as another writer's merge would, behind its back
        assert s.lock_customer(b).id == a
        s.record(b, EventKind.NOTE, text="after the merge")
    assert workspace.customers.get(b).id == a
    assert [n.data["text"] for n in workspace.notes.list(a)] == ["after the merge"]


# tasks and time asked for by a merged id --------------------------------------------------


def _merged_twice(ws: Workspace) -> tuple[int, list[int], Task, TimeEntry]:
    """``customers merge 1 12 13 14`` with a task and time on 13, then 1 merged into another."""
    first, *others = (ws.customers.add(Customer(name=f"C{i}")).id for i in range(4))
    task = ws.tasks.add(others[1], "Send the quote", due=date(2020, 1, 1))
    entry = ws.time.log(others[1], "wendy", 30)
    details = ws.customers.merge(first, others).details["merged"]
    assert isinstance(details, list) and isinstance(details[1], dict)
    assert details[1]["tasks"] == [task.id] and details[1]["time_entries"] == [entry.id]
    survivor = ws.customers.add(Customer(name="Survivor")).id
    ws.customers.merge(survivor, [first])
    return survivor, [first, *others], task, entry


def test_tasks_and_time_of_a_merged_id_are_the_survivors(workspace: Workspace) -> None:
    survivor, old_ids, task, entry = _merged_twice(workspace)
    assert workspace.tasks.get(task.id).customer_id == survivor
    for customer_id in [survivor, *old_ids]:
        assert [(t.id, t.customer_id) for t in workspace.tasks.list(customer_id=customer_id)] == [
            (task.id, survivor)
        ]
        assert [t.id for t in workspace.tasks.overdue(customer_id=customer_id)] == [task.id]
        listed = workspace.time.list(customer_id=customer_id)
        assert [(e.id, e.customer_id) for e in listed] == [(entry.id, survivor)]
        assert workspace.time.summary(customer_id=customer_id).by_customer == {survivor: 30}
    assert [t.customer_id for t in workspace.tasks.list()] == [survivor]


@pytest.fixture
def store_url(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    """A --store URL for the CLI naming the workspace's store.

    A ``memory:`` store lives in this process only, so the command is handed a
    view of the same workspace instead of opening a new, empty one.
    """
    if workspace.store.url.startswith("memory"):

        def opened(
            cls: type[Workspace], /, url: str, *, actor: str = "system", **_: Any
        ) -> Workspace:
            return workspace.as_user(actor)

        monkeypatch.setattr(Workspace, "open", classmethod(opened))
    return workspace.store.url


def test_the_cli_lists_tasks_by_a_merged_id(workspace: Workspace, store_url: str) -> None:
    survivor, old_ids, task, _ = _merged_twice(workspace)
    for customer_id in [survivor, *old_ids]:
        result = CliRunner().invoke(
            cli,
            [
                "--store",
                store_url,
                "tasks",
                "list",
                "--customer",
                str(customer_id),
                "--format",
                "json",
            ],
        )
        assert result.exit_code == 0, result.output
        listed = json.loads(result.output)
        assert [(t["id"], t["customer_id"]) for t in listed] == [(task.id, survivor)]
