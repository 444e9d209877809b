"""Workspace use cases, on every backend: customers, moves, edits, flows, boards, timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pipeline_core import (
    Column,
    ConcurrencyError,
    Customer,
    EventKind,
    FixedClock,
    InvalidValue,
    NotFound,
    Status,
    StatusMachine,
    TransitionNotAllowed,
    Workspace,
)
from pipeline_core.rules import InSet, SetTest
from pipeline_core.workspace.demo import SALES_COLUMNS, create_demo


def add(ws: Workspace, name: str = "Ada", **details: object) -> Customer:
    return ws.customers.add(Customer(name=name, **details))  # type: ignore[arg-type]


def test_new_customer_gets_initial_status_timestamps_and_event(
    workspace: Workspace, clock: FixedClock
) -> None:
    ada = add(workspace)
    assert ada.status == "Lead"
    assert ada.created_at == ada.updated_at == clock.now()
    assert ada.version == 1
    [created] = workspace.customers.timeline(ada.id)
    assert created.kind is EventKind.CREATED and created.actor == "system"


def test_unknown_initial_status_is_refused(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="unknown status 'Nope'"):
        add(workspace, status="Nope")
    assert workspace.customers.count() == 0


def test_move_records_an_event_and_bumps_version(workspace: Workspace, clock: FixedClock) -> None:
    ada = add(workspace)
    clock.advance(timedelta(hours=1))
    moved = workspace.customers.move(ada.id, "Prospect")
    assert moved.status == "Prospect" and moved.version == 2
    assert moved.updated_at == clock.now()
    last = workspace.customers.timeline(ada.id)[-1]
    assert last.kind is EventKind.STATUS_CHANGED
    assert last.data == {"from": "Lead", "to": "Prospect"}


def test_refused_move_changes_nothing(workspace: Workspace) -> None:
    ada = workspace.customers.move(add(workspace).id, "Customer")
    with pytest.raises(TransitionNotAllowed, match=r"'Customer' to 'Lead'.*Inactive"):
        workspace.customers.move(ada.id, "Lead")
    assert workspace.customers.get(ada.id) == ada
    assert len(workspace.customers.timeline(ada.id)) == 2


def test_move_to_current_status_is_a_silent_no_op(workspace: Workspace) -> None:
    ada = add(workspace)
    assert workspace.customers.move(ada.id, "Lead") == ada
    assert len(workspace.customers.timeline(ada.id)) == 1


def test_converted_at_is_stamped_once(workspace: Workspace, clock: FixedClock) -> None:
    ada = add(workspace)
    converted = workspace.customers.move(ada.id, "Customer")
    first = converted.converted_at
    assert first == clock.now() and converted.outcome == "won"
    clock.advance(timedelta(days=3))
    workspace.customers.move(ada.id, "Inactive")
    workspace.customers.move(ada.id, "Prospect")
    again = workspace.customers.move(ada.id, "Customer")
    assert again.converted_at == first


def test_created_directly_as_customer_is_converted(workspace: Workspace, clock: FixedClock) -> None:
    assert add(workspace, status="Customer").converted_at == clock.now()


def test_stale_expected_version_is_refused(workspace: Workspace) -> None:
    ada = add(workspace)
    workspace.customers.edit(ada.id, name="Ada L.")
    with pytest.raises(ConcurrencyError, match="expected version 1, found 2"):
        workspace.customers.move(ada.id, "Prospect", expected_version=ada.version)
    with pytest.raises(ConcurrencyError):
        workspace.customers.edit(ada.id, expected_version=1, folder="X")
    assert workspace.customers.get(ada.id).status == "Lead"


def test_edit_records_one_event_per_field(workspace: Workspace) -> None:
    ada = add(workspace, tags=["A", "B"])
    edited = workspace.customers.edit(
        ada.id, folder="Clients", tags=["B", "C"], source="web", value="10"
    )
    assert (edited.folder, edited.tags, edited.source, str(edited.value)) == (
        "Clients",
        ("B", "C"),
        "web",
        "10",
    )
    events = {e.kind: e.data for e in workspace.customers.timeline(ada.id)[1:]}
    assert events[EventKind.FOLDER_CHANGED] == {"from": None, "to": "Clients"}
    assert events[EventKind.TAGS_CHANGED] == {"added": ["C"], "removed": ["A"]}
    edits = [e.data for e in workspace.customers.timeline(ada.id) if e.kind is EventKind.EDITED]
    assert {"field": "source", "before": None, "after": "web"} in edits
    assert {"field": "value", "before": None, "after": "10"} in edits


def test_edit_without_change_records_nothing(workspace: Workspace) -> None:
    ada = add(workspace, folder="X")
    assert workspace.customers.edit(ada.id, folder="X") == ada
    assert len(workspace.customers.timeline(ada.id)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "Prospect"}, "cannot edit status"),
        ({"version": 9}, "cannot edit version"),
        ({"name": " "}, "needs a name"),
        ({"currency": "EURO"}, "ISO 4217"),
    ],
)
def test_bad_edits_are_refused(workspace: Workspace, changes: dict[str, Any], message: str) -> None:
    ada = add(workspace)
    with pytest.raises(InvalidValue, match=message):
        workspace.customers.edit(ada.id, **changes)
    assert workspace.customers.get(ada.id) == ada


def test_parent_must_exist_and_not_make_a_cycle(workspace: Workspace) -> None:
    parent = add(workspace, "Acme")
    child = add(workspace, "Ada", parent_id=parent.id)
    with pytest.raises(InvalidValue, match="cycle"):
        workspace.customers.edit(parent.id, parent_id=child.id)
    with pytest.raises(NotFound):
        workspace.customers.edit(child.id, parent_id=999)
    with pytest.raises(NotFound):
        add(workspace, "Orphan", parent_id=999)


def test_flow_columns_must_map_known_statuses(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="unknown status 'Won'"):
        workspace.flows.add("Sales", columns=[Column("Won", "Won")])
    workspace.flows.add("Sales")
    with pytest.raises(InvalidValue, match="already exists"):
        workspace.flows.add("Sales")
    with pytest.raises(InvalidValue, match="share the status"):
        workspace.flows.add("Other", columns=[Column("A", "Lead"), Column("B", "Lead")])


def test_columns_add_and_remove_keep_positions(workspace: Workspace) -> None:
    workspace.flows.add(
        "Sales", columns=[Column("Lead", "Lead"), Column("Won", "Customer", position=1)]
    )
    flow = workspace.columns.add("Sales", "Prospect", "Prospect", position=1, colour="#123456")
    assert [(c.name, c.position) for c in flow.columns] == [
        ("Lead", 0),
        ("Prospect", 1),
        ("Won", 2),
    ]
    assert flow.column("Prospect").colour == "#123456"
    flow = workspace.columns.remove("Sales", "Lead")
    assert [(c.name, c.position) for c in flow.columns] == [("Prospect", 0), ("Won", 1)]
    with pytest.raises(NotFound, match="no column 'Lead'"):
        workspace.columns.remove("Sales", "Lead")
    with pytest.raises(InvalidValue, match="colour"):
        workspace.columns.add("Sales", "X", "Quoted", colour="red")


def test_board_counts_cards_limits_and_unmapped(workspace: Workspace, clock: FixedClock) -> None:
    workspace.flows.add(
        "Sales",
        SetTest("tags", "any", ("VIP",)),
        [Column("Lead", "Lead", position=0), Column("Prospect", "Prospect", position=1)],
    )
    ids = []
    for index in range(5):
        clock.advance(timedelta(minutes=1))
        ids.append(add(workspace, f"C{index}", tags=["VIP"]).id)
    add(workspace, "Not a member")
    workspace.customers.move(ids[0], "Prospect")
    workspace.customers.move(ids[1], "Quoted")
    board = workspace.flows.board("Sales", limit=2)
    lead, prospect = board.columns
    assert (lead.count, [c.id for c in lead.cards], lead.more) == (3, [ids[4], ids[3]], 1)
    assert (prospect.count, [c.id for c in prospect.cards]) == (1, [ids[0]])
    assert board.unmapped.count == 1 and board.unmapped.cards[0].id == ids[1]
    assert board.total == 5


def test_board_newest_activity_first(workspace: Workspace, clock: FixedClock) -> None:
    workspace.flows.add("Sales", columns=[Column("Lead", "Lead")])
    old, new = add(workspace, "Old"), add(workspace, "New")
    clock.advance(timedelta(minutes=5))
    workspace.customers.edit(old.id, folder="touched")
    cards = workspace.flows.board("Sales").columns[0].cards
    assert [c.name for c in cards] == ["Old", "New"]
    assert new.id > old.id


def test_hide_and_unhide_leave_the_customer_unchanged(workspace: Workspace) -> None:
    workspace.flows.add("Sales", columns=[Column("Lead", "Lead")])
    workspace.flows.add("Service", columns=[Column("Lead", "Lead")])
    ada = add(workspace)
    assert workspace.flows.hide("Sales", ada.id) is True
    assert workspace.flows.board("Sales").total == 0
    assert workspace.flows.board("Service").total == 1
    assert workspace.customers.get(ada.id) == ada
    assert workspace.flows.unhide("Sales", ada.id) is True
    assert workspace.flows.unhide("Sales", ada.id) is False
    assert workspace.flows.board("Sales").columns[0].cards[0].id == ada.id
    kinds = [e.kind for e in workspace.customers.timeline(ada.id)]
    assert kinds == [EventKind.CREATED, EventKind.HIDDEN_FROM_FLOW, EventKind.SHOWN_IN_FLOW]


def test_drop_on_column_moves_through_the_machine(workspace: Workspace) -> None:
    workspace.flows.add("Sales", columns=SALES_COLUMNS)
    ada = add(workspace)
    assert workspace.flows.move(ada.id, "Sales", "Quoted").status == "Quoted"
    with pytest.raises(TransitionNotAllowed):
        workspace.flows.move(ada.id, "Sales", "Lead")
    with pytest.raises(NotFound, match="no column 'Nope'"):
        workspace.flows.move(ada.id, "Sales", "Nope")


def test_unknown_flow_customer_and_board_limit(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="no flow called 'Nope'"):
        workspace.flows.board("Nope")
    with pytest.raises(NotFound, match="no customer with id 1"):
        workspace.customers.move(1, "Lead")
    workspace.flows.add("Sales")
    with pytest.raises(InvalidValue, match="limit"):
        workspace.flows.board("Sales", limit=-1)


def test_status_machine_replacement_is_checked(workspace: Workspace) -> None:
    add(workspace)
    service = StatusMachine([Status("Open"), Status("Closed")], {"Open": ["Closed"]})
    with pytest.raises(InvalidValue, match="status 'Lead'"):
        workspace.statuses.set(service)
    assert workspace.statuses.show().names[0] == "Lead"


def test_demo_fills_a_sales_board(workspace: Workspace) -> None:
    create_demo(workspace, count=50)
    board = workspace.flows.board("Sales", limit=3)
    assert [c.name for c in board.columns] == ["Lead", "Prospect", "Quoted", "Customer", "Inactive"]
    assert board.total == 50 and board.unmapped.count == 0
    assert len({c.folder for c in workspace.customers.list()}) > 1
    assert workspace.customers.list(InSet("status", ("Lead",)))


def test_stale_no_op_edit_is_still_refused(workspace: Workspace) -> None:
    # Someone else made the same change first: the stale writer must hear about it.
    ada = add(workspace)
    workspace.customers.edit(ada.id, folder="Clients")
    with pytest.raises(ConcurrencyError):
        workspace.customers.edit(ada.id, expected_version=ada.version, folder="Clients")
    with pytest.raises(ConcurrencyError):
        workspace.customers.move(ada.id, "Lead", expected_version=ada.version)
