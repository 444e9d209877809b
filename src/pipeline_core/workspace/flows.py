"""Use cases of flows and their boards: define flows and columns, show a board, move a card."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline_core.customer import Customer
from pipeline_core.domain.board import Board, BoardColumn
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.flows import PALETTE, Column, FlowDefinition, FlowExplanation
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue, NotOnBoard
from pipeline_core.rules.ast import MATCH_ALL, InSet, Not, Rule, all_of
from pipeline_core.rules.dates import bind_dates
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.rules.explain import explain as explain_rule
from pipeline_core.workspace import records
from pipeline_core.workspace.customers import current
from pipeline_core.workspace.definitions import machine, rules_today
from pipeline_core.workspace.moves import move_in
from pipeline_core.workspace.permissions import require_admin, shown, shown_all
from pipeline_core.workspace.rules import RuleLike, bound, checked
from pipeline_core.workspace.session import Session

DEFAULT_BOARD_LIMIT = 20


def add(
    s: Session, name: str, rule: RuleLike = MATCH_ALL, columns: Sequence[Column] = ()
) -> FlowDefinition:
    """Create a flow; its name must be new, its rule must check and its columns map to statuses."""
    require_admin(s, "define flows")
    flow = FlowDefinition(name, checked(s, rule), columns)
    if any(existing.name == flow.name for existing in s.list_flows()):
        raise InvalidValue(f"a flow called {flow.name!r} already exists")
    _check_columns(machine(s), flow)
    s.put_flow(flow)
    return flow


def _check_columns(statuses: StatusMachine, flow: FlowDefinition) -> None:
    for column in flow.columns:
        statuses.status(column.status)


def list_flows(s: Session) -> list[FlowDefinition]:
    """Every flow, by name."""
    return s.list_flows()


def get(s: Session, name: str) -> FlowDefinition:
    """The flow called ``name``."""
    return s.get_flow(name)


def remove(s: Session, name: str) -> None:
    """Delete a flow (customers are untouched)."""
    require_admin(s, "remove flows")
    s.delete_flow(name)


def add_column(
    s: Session,
    flow: str,
    name: str,
    status: str,
    *,
    colour: str | None = None,
    position: int | None = None,
) -> FlowDefinition:
    """Add a column to a flow, at ``position`` (default: last)."""
    require_admin(s, "change flows")
    before = s.get_flow(flow)
    at = len(before.columns) if position is None else position
    column = Column(name, status, colour or PALETTE[at % len(PALETTE)], at)
    updated = before.with_column(column)
    _check_columns(machine(s), updated)
    s.put_flow(updated)
    return updated


def remove_column(s: Session, flow: str, name: str) -> FlowDefinition:
    """Remove a column; its customers show in the unmapped bucket until a column takes them."""
    require_admin(s, "change flows")
    updated = s.get_flow(flow).without_column(name)
    s.put_flow(updated)
    return updated


def set_hidden(s: Session, flow: str, customer_id: int, *, hidden: bool) -> bool:
    """Hide (or show again) a customer on one flow's board; whether anything changed."""
    kind = EventKind.HIDDEN_FROM_FLOW if hidden else EventKind.SHOWN_IN_FLOW
    s.get_flow(flow)  # an unknown flow is named before an unknown customer
    customer_id = s.lock_customer(customer_id).id  # a concurrent merge waits, or is followed
    changed = s.set_hidden(flow, customer_id, hidden)
    if changed:
        s.append_events([s.event(customer_id, kind, flow=flow)])
    return changed


def members(s: Session, definition: FlowDefinition, where: RuleLike = MATCH_ALL) -> Rule:
    """The rule of a flow's members as of today, narrowed by ``where``."""
    return all_of(bind_dates(definition.rule, rules_today(s)), bound(s, where))


def board(
    s: Session, flow: str, *, limit: int = DEFAULT_BOARD_LIMIT, where: RuleLike = MATCH_ALL
) -> Board:
    """A flow's board: each column's count and first ``limit`` cards, newest activity first.

    Members whose status no column maps are never dropped: they are in ``unmapped``.
    """
    if limit < 0:
        raise InvalidValue(f"board limit must be zero or more, not {limit}")
    definition = s.get_flow(flow)
    rule = members(s, definition, where)
    counts = s.count_by_status(rule, hidden_from=flow)

    def cards(of: Rule) -> tuple[Customer, ...]:
        if limit == 0:
            return ()
        found = s.find_customers(of, hidden_from=flow, order="activity", limit=limit)
        return tuple(shown_all(s, found))

    columns = tuple(
        BoardColumn(
            name=column.name,
            status=column.status,
            colour=column.colour,
            count=counts.get(column.status, 0),
            cards=cards(all_of(rule, InSet("status", (column.status,))))
            if counts.get(column.status)
            else (),
        )
        for column in definition.columns
    )
    mapped = tuple(column.status for column in definition.columns)
    unmapped_rule = all_of(rule, Not(InSet("status", mapped))) if mapped else rule
    unmapped_count = sum(n for status, n in counts.items() if status not in mapped)
    unmapped = BoardColumn(
        name="Unmapped",
        status=None,
        colour=None,
        count=unmapped_count,
        cards=cards(unmapped_rule) if unmapped_count else (),
    )
    return Board(flow=definition.name, columns=columns, unmapped=unmapped)


def move_to_column(
    s: Session,
    customer_id: int,
    flow: str,
    column: str,
    *,
    expected_version: int | None = None,
    reason: str | None = None,
    reason_text: str | None = None,
) -> Customer:
    """Drop a customer's card on a column: a move to the status the column maps to.

    Refused with ``NotOnBoard`` if the customer is not on the flow's board (its
    rule does not hold for them, or they are hidden from it).
    """
    definition = s.get_flow(flow)
    target = definition.column(column)
    before = current(s, customer_id, expected_version)
    holds = compile_predicate(
        definition.rule, today=rules_today(s), records=records.record_lookup(s)
    )
    if not holds(before):
        raise NotOnBoard(
            f"customer {before.id} ({before.name}) is not on the board of flow "
            f"{definition.name!r}: its rule does not hold for them"
        )
    if definition.name in s.hidden_flows(before.id):
        raise NotOnBoard(
            f"customer {before.id} ({before.name}) is hidden from the board of flow "
            f"{definition.name!r}; show them again first"
        )
    return shown(s, move_in(s, before, target.status, reason=reason, reason_text=reason_text))


def explain(s: Session, flow: str, customer_id: int) -> FlowExplanation:
    """Why a customer is (or is not) on a flow's board: each clause of the rule, and hiding.

    The values quoted are the customer's as the actor may see them (contact data masked).
    """
    definition = s.get_flow(flow)
    customer = s.get_customer(customer_id)
    hidden = definition.name in s.hidden_flows(customer.id)
    # The flow's rule is an admin's, so it may test contact data; the values quoted are
    # what the actor may see.
    tree = explain_rule(
        definition.rule,
        customer,
        today=rules_today(s),
        shown=shown(s, customer),
        records=records.record_lookup(s),
    )
    on_board = tree.holds and not hidden
    column = next((c.name for c in definition.columns if c.status == customer.status), None)
    return FlowExplanation(
        flow=definition.name,
        customer_id=customer.id,
        customer_name=customer.name,
        status=customer.status,
        on_board=on_board,
        hidden=hidden,
        column=column if on_board else None,
        rule=tree,
    )
