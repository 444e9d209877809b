"""The board, complete (issue 16): editable flows and columns, board-aware moves with an
expected version, values per column, hiding recorded per flow, paging, on every backend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.board import BoardFilters
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.flows import Column, FlowEventKind
from pipeline_core.errors import (
    InvalidValue,
    NotFound,
    NotOnBoard,
    PermissionDenied,
    StaleCard,
    TransitionNotAllowed,
)

from .conftest import StoreFactory

COLUMNS = [
    Column("New", "Lead", position=0),
    Column("Talking", "Prospect", position=1),
    Column("Quoted", "Quoted", position=2),
]


@pytest.fixture
def ws(make_store: StoreFactory, clock: FixedClock) -> Workspace:
    """A workspace with users ann and bob (agents) and root (admin), and a Sales flow."""
    workspace = Workspace(make_store(), clock=clock)
    workspace.init()
    workspace.teams.add("North")
    workspace.users.add("ann", "agent", ["North"])
    workspace.users.add("bob", "agent", ["North"])
    workspace.users.add("root", "admin", [])
    workspace.flows.add("Sales", 'tags any ("web")', COLUMNS)
    return workspace


def add(ws: Workspace, name: str, **values: object) -> Customer:
    """A customer of team North, tagged web unless told otherwise."""
    values.setdefault("tags", ["web"])
    return ws.customers.add(Customer(name=name, team="North", **values))  # type: ignore[arg-type]


# board-aware moves -------------------------------------------------------------------------


def test_a_stale_drag_is_refused_naming_who_moved_the_card_and_where(
    ws: Workspace, clock: FixedClock
) -> None:
    ada = add(ws, "Ada")
    seen_by_bob = ws.as_user("bob").flows.board("Sales").columns[0].cards[0]
    assert (seen_by_bob.id, seen_by_bob.version) == (ada.id, ada.version)
    clock.advance(timedelta(minutes=5))
    moved = ws.as_user("ann").flows.move(ada.id, "Sales", "Talking", expected_version=ada.version)
    assert (moved.status, moved.version) == ("Prospect", ada.version + 1)
    with pytest.raises(StaleCard) as refused:
        ws.as_user("bob").flows.move(
            ada.id, "Sales", "Quoted", expected_version=seen_by_bob.version
        )
    error = refused.value
    assert (error.changed_by, error.expected, error.actual) == ("ann", 1, 2)
    assert "by ann (moved from 'Lead' to column 'Talking'" in str(error)
    assert "version 1" in str(error) and "version 2" in str(error)
    assert ws.customers.get(ada.id).status == "Prospect"  # bob's drag changed nothing
    # With the version the board shows now, the drag goes through.
    fresh = ws.as_user("bob").flows.board("Sales").columns[1].cards[0]
    assert ws.as_user("bob").flows.move(
        ada.id, "Sales", "Quoted", expected_version=fresh.version
    ).status == ("Quoted")


def test_a_card_move_goes_through_the_status_machine_and_the_board(ws: Workspace) -> None:
    ws.columns.add("Sales", "Won", "Customer")
    ada = add(ws, "Ada")
    won = ws.customers.move(add(ws, "Won one").id, "Customer")
    with pytest.raises(TransitionNotAllowed, match="cannot move from 'Customer' to 'Lead'"):
        ws.flows.move(won.id, "Sales", "New")
    stranger = add(ws, "Stranger", tags=["paper"])
    with pytest.raises(NotOnBoard, match="its rule does not hold"):
        ws.flows.move(stranger.id, "Sales", "Talking")
    ws.flows.hide("Sales", ada.id)
    with pytest.raises(NotOnBoard, match="hidden from the board"):
        ws.flows.move(ada.id, "Sales", "Talking")
    with pytest.raises(NotFound, match="no column 'Nope'"):
        ws.flows.move(ada.id, "Sales", "Nope")
    assert ws.customers.get(stranger.id).status == "Lead"


# editable flows and columns -------------------------------------------------------------


def test_a_renamed_flow_keeps_its_hides_history_filters_and_automations(ws: Workspace) -> None:
    ada, bob = add(ws, "Ada"), add(ws, "Bob", tags=["web", "VIP"])
    ws.flows.hide("Sales", ada.id)
    ws.filters.save("vips", 'tags any ("VIP")', shared=True)
    ws.automations.add(
        Automation(
            name="stamp",
            on=EventKind.STATUS_CHANGED,
            rule='status = "Prospect"',
            actions=[Action(kind="add_tag", value="talked")],
        )
    )
    renamed = ws.flows.rename("Sales", "Web Sales")
    assert renamed.columns == ws.flows.get("Web Sales").columns
    with pytest.raises(NotFound):
        ws.flows.get("Sales")
    assert [h.customer_id for h in ws.flows.hidden("Web Sales")] == [ada.id]
    board = ws.flows.board("Web Sales", where="vips")
    assert [c.id for c in board.columns[0].cards] == [bob.id] and board.filtered
    assert board.hidden == 0  # Ada is hidden, but no VIP: not a member of this view
    assert ws.flows.board("Web Sales").hidden == 1
    moved = ws.flows.move(bob.id, "Web Sales", "Talking")
    assert "talked" in moved.tags  # the automation still reacts to moves on the board
    kinds = [e.kind for e in ws.flows.history("Web Sales")]
    assert kinds == [FlowEventKind.CREATED, FlowEventKind.RENAMED]
    assert dict(ws.flows.history("Web Sales")[1].data) == {"from": "Sales", "to": "Web Sales"}
    ws.flows.add("Other")
    with pytest.raises(InvalidValue, match="already exists"):
        ws.flows.rename("Other", "Web Sales")


def test_a_rule_change_counts_who_joins_and_leaves_and_a_dry_run_changes_nothing(
    ws: Workspace,
) -> None:
    add(ws, "Web only")
    add(ws, "Both", tags=["web", "fair"])
    add(ws, "Fair only", tags=["fair"])
    add(ws, "Fair hidden", tags=["fair"])
    ws.flows.hide("Sales", 4)
    dry = ws.flows.set_rule("Sales", 'tags any ("fair")', dry_run=True)
    assert (dry.joining, dry.leaving, dry.members_before, dry.members_after) == (1, 1, 2, 2)
    assert not dry.applied and ws.flows.get("Sales").rule == ws.rules.check('tags any ("web")')
    assert [e.kind for e in ws.flows.history("Sales")] == [FlowEventKind.CREATED]
    done = ws.flows.set_rule("Sales", 'tags any ("fair")')
    assert done.applied and (done.before, done.after) == ('tags any ("web")', 'tags any ("fair")')
    assert ws.flows.board("Sales").total == 2
    last = ws.flows.history("Sales")[-1]
    assert last.kind == FlowEventKind.RULE_CHANGED and last.data["joining"] == 1


def test_columns_move_rename_and_recolour_and_each_change_is_recorded(ws: Workspace) -> None:
    assert [c.name for c in ws.columns.move("Sales", "Quoted", to=0).columns] == [
        "Quoted",
        "New",
        "Talking",
    ]
    assert [c.name for c in ws.columns.move("Sales", "Quoted", after="Talking").columns] == [
        "New",
        "Talking",
        "Quoted",
    ]
    assert [c.name for c in ws.columns.move("Sales", "New", before="Quoted").columns] == [
        "Talking",
        "New",
        "Quoted",
    ]
    moved = ws.columns.move("Sales", "New", to=99).columns
    assert [(c.name, c.position) for c in moved] == [("Talking", 0), ("Quoted", 1), ("New", 2)]
    renamed = ws.columns.rename("Sales", "Talking", "In talks")
    assert renamed.column("In talks").status == "Prospect"
    assert ws.columns.recolour("Sales", "In talks", "#FF8800").column("In talks").colour == (
        "#ff8800"
    )
    with pytest.raises(InvalidValue, match="#rrggbb"):
        ws.columns.recolour("Sales", "In talks", "orange")
    with pytest.raises(InvalidValue, match="exactly one"):
        ws.columns.move("Sales", "New", to=0, before="Quoted")
    with pytest.raises(NotFound, match="no column 'Nope'"):
        ws.columns.move("Sales", "New", after="Nope")
    with pytest.raises(InvalidValue, match="share the name"):
        ws.columns.rename("Sales", "New", "Quoted")
    with pytest.raises(PermissionDenied):
        ws.as_user("ann").columns.rename("Sales", "New", "Fresh")
    history = ws.flows.history("Sales")
    assert [e.kind for e in history] == [
        FlowEventKind.CREATED,
        *[FlowEventKind.COLUMN_MOVED] * 4,
        FlowEventKind.COLUMN_RENAMED,
        FlowEventKind.COLUMN_RECOLOURED,
    ]
    assert dict(history[-1].data) == {"column": "In talks", "from": "#64748b", "to": "#ff8800"}
    assert {e.actor for e in history} == {"system"}


# values, hiding, paging -----------------------------------------------------------------


def test_each_column_sums_its_deal_values_per_currency_in_the_store(ws: Workspace) -> None:
    add(ws, "A", value=Decimal("100.25"), currency="EUR")
    add(ws, "B", value=Decimal("50"), currency="USD")
    add(ws, "C", value=Decimal("0.75"), currency="EUR")
    add(ws, "D", value=Decimal("7"))
    add(ws, "E")
    ws.customers.move(add(ws, "F", value=Decimal("1000"), currency="EUR").id, "Prospect")
    add(ws, "G", value=Decimal("5"), currency="EUR", tags=["paper"])  # not on the board
    board = ws.flows.board("Sales", limit=0)
    new, talking, quoted = board.columns
    assert new.count == 5
    assert [(v.currency, v.valued, v.total) for v in new.values] == [
        ("EUR", 2, Decimal("101")),
        ("USD", 1, Decimal("50")),
        (None, 1, Decimal("7")),
    ]
    assert [(v.currency, v.valued, v.total) for v in talking.values] == [
        ("EUR", 1, Decimal("1000"))
    ]
    assert (quoted.count, quoted.values) == (0, ())


def test_hiding_is_per_flow_for_everyone_recorded_counted_and_reversible(
    ws: Workspace, clock: FixedClock
) -> None:
    ada, grace = add(ws, "Ada"), add(ws, "Grace")
    ws.flows.add("All", columns=[Column("New", "Lead")])
    assert ws.as_user("ann").flows.hide("Sales", ada.id) is True
    assert ws.as_user("bob").flows.hide("Sales", ada.id) is False
    [hide] = ws.as_user("bob").flows.hidden("Sales")
    assert (hide.customer_id, hide.hidden_by, hide.hidden_at) == (ada.id, "ann", clock.now())
    for who in (ws, ws.as_user("bob"), ws.as_user("root")):
        board = who.flows.board("Sales")
        assert [c.id for c in board.columns[0].cards] == [grace.id]
        assert (board.total, board.hidden) == (1, 1)
    assert ws.flows.board("All").total == 2 and ws.flows.hidden("All") == []
    report = ws.reports.pipeline("Sales")
    assert report.hidden == 1  # the report says what it leaves out
    assert ws.flows.unhide("Sales", ada.id) is True
    assert ws.flows.hidden("Sales") == [] and ws.flows.board("Sales").hidden == 0
    kinds = [e.kind.value for e in ws.customers.timeline(ada.id)]
    assert kinds[-2:] == ["hidden_from_flow", "shown_in_flow"]


def test_a_long_column_is_walked_page_by_page_without_reading_the_others(
    ws: Workspace, clock: FixedClock
) -> None:
    for number in range(23):
        clock.advance(timedelta(seconds=1))
        add(ws, f"C{number}")
    ws.customers.move(1, "Prospect")
    seen: list[int] = []
    page = 1
    while True:
        board = ws.flows.board("Sales", limit=5, column="New", page=page)
        new, talking = board.columns[0], board.columns[1]
        assert (new.count, new.offset, talking.count, talking.cards) == (22, (page - 1) * 5, 1, ())
        if not new.cards:
            break
        assert new.more == max(22 - page * 5, 0)
        seen += [card.id for card in new.cards]
        page += 1
    assert seen == list(range(23, 1, -1))  # each once, newest activity first
    with pytest.raises(InvalidValue, match="numbered from 1"):
        ws.flows.board("Sales", column="New", page=0)
    with pytest.raises(NotFound, match="no column 'Old'"):
        ws.flows.board("Sales", column="Old")


def test_board_filters_narrow_the_board_and_say_so(ws: Workspace, clock: FixedClock) -> None:
    start = clock.now()
    add(ws, "Web", source="Wébsite form", workers=["eve"])
    clock.advance(timedelta(days=2))
    add(ws, "Fair", source="trade fair", tags=["web", "fair"], folder="Leads")
    board = ws.flows.board("Sales", filters=BoardFilters(source="WEBSITE"))
    assert [c.name for c in board.columns[0].cards] == ["Web"] and board.filtered
    assert ws.flows.board("Sales", filters=BoardFilters(tags=["web", "fair"])).total == 1
    assert (
        ws.flows.board("Sales", filters=BoardFilters(tags=["fair", "x"], any_tag=True)).total == 1
    )
    assert ws.flows.board("Sales", filters=BoardFilters(workers=["eve"])).total == 1
    assert ws.flows.board("Sales", filters=BoardFilters(folders=["Leads"])).total == 1
    early = BoardFilters(created_to=start.date())
    assert [c.name for c in ws.flows.board("Sales", filters=early).columns[0].cards] == ["Web"]
    moment = BoardFilters(created_from=start + timedelta(hours=1))
    assert [c.name for c in ws.flows.board("Sales", filters=moment).columns[0].cards] == ["Fair"]
    assert not ws.flows.board("Sales", filters=BoardFilters()).filtered
    with pytest.raises(InvalidValue, match="is after"):
        BoardFilters(created_from=start.date() + timedelta(days=1), created_to=start.date())


def test_a_merge_moves_a_hide_with_who_made_it_and_when(ws: Workspace, clock: FixedClock) -> None:
    ada, copy = add(ws, "Ada", emails=["ada@example.com"]), add(ws, "Ada L.")
    hidden_at = clock.now()
    ws.as_user("ann").flows.hide("Sales", copy.id)
    clock.advance(timedelta(hours=1))
    ws.customers.merge(ada.id, [copy.id])
    [hide] = ws.flows.hidden("Sales")
    assert (hide.customer_id, hide.hidden_by, hide.hidden_at) == (ada.id, "ann", hidden_at)
