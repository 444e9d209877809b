"""Use cases of flows and their boards: define flows and columns, show a board, move a card."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.board import (
    Board,
    BoardColumn,
    BoardFilters,
    ColumnValue,
    column_values,
)
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.flows import (
    PALETTE,
    Column,
    FlowDefinition,
    FlowEvent,
    FlowEventKind,
    FlowExplanation,
    FlowHide,
    RuleChange,
)
from pipeline_core.domain.report_keys import GroupKey
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue, NotOnBoard, StaleCard
from pipeline_core.rules.ast import MATCH_ALL, And, InSet, Not, Rule, all_of
from pipeline_core.rules.dates import bind_dates
from pipeline_core.rules.explain import explain as explain_rule
from pipeline_core.rules.printer import to_text
from pipeline_core.workspace import records
from pipeline_core.workspace.definitions import machine, rules_today
from pipeline_core.workspace.moves import move_in
from pipeline_core.workspace.permissions import require_admin, shown, shown_all
from pipeline_core.workspace.rules import RuleLike, bound, checked
from pipeline_core.workspace.session import Session

DEFAULT_BOARD_LIMIT = 20

BOARD_KEYS = (GroupKey("status"), GroupKey("currency"))
"""A board's counts and values: one GROUP BY status and currency, in the store."""


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
    s.record_flow(
        flow.name,
        FlowEventKind.CREATED,
        rule=to_text(flow.rule),
        columns=[column.name for column in flow.columns],
    )
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
    added = updated.column(name)
    s.record_flow(
        updated.name,
        FlowEventKind.COLUMN_ADDED,
        column=added.name,
        status=added.status,
        colour=added.colour,
        position=added.position,
    )
    return updated


def remove_column(s: Session, flow: str, name: str) -> FlowDefinition:
    """Remove a column; its customers show in the unmapped bucket until a column takes them."""
    require_admin(s, "change flows")
    updated = s.get_flow(flow).without_column(name)
    s.put_flow(updated)
    s.record_flow(updated.name, FlowEventKind.COLUMN_REMOVED, column=name)
    return updated


def rename(s: Session, flow: str, new_name: str) -> FlowDefinition:
    """Rename a flow; its columns, hidden cards and history stay with it.

    Saved filters and automations hold rules, not flow names, so they work on as before.
    """
    require_admin(s, "change flows")
    before = s.get_flow(flow)
    renamed = attrs.evolve(before, name=new_name)
    if renamed.name == before.name:
        return before
    s.rename_flow(before.name, renamed)
    s.record_flow(renamed.name, FlowEventKind.RENAMED, **{"from": before.name, "to": renamed.name})
    return renamed


def set_rule(s: Session, flow: str, rule: RuleLike, *, dry_run: bool = False) -> RuleChange:
    """Give a flow a new membership rule, or (``dry_run``) only count who would join and leave."""
    require_admin(s, "change flows")
    definition = s.get_flow(flow)
    new_rule = checked(s, rule)
    today, now = rules_today(s), s.now()
    old, new = bind_dates(definition.rule, today, now), bind_dates(new_rule, today, now)
    name = definition.name
    change = RuleChange(
        flow=name,
        before=to_text(definition.rule),
        after=to_text(new_rule),
        joining=s.count_customers(all_of(new, Not(old)), hidden_from=name),
        leaving=s.count_customers(all_of(old, Not(new)), hidden_from=name),
        members_before=s.count_customers(old, hidden_from=name),
        members_after=s.count_customers(new, hidden_from=name),
        applied=not dry_run,
    )
    if not dry_run and change.before != change.after:
        s.put_flow(attrs.evolve(definition, rule=new_rule))
        s.record_flow(
            name,
            FlowEventKind.RULE_CHANGED,
            **{"from": change.before, "to": change.after},
            joining=change.joining,
            leaving=change.leaving,
        )
    return change


def move_column(
    s: Session,
    flow: str,
    name: str,
    *,
    to: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> FlowDefinition:
    """Put a column at 0-based position ``to``, or just before or after another column."""
    require_admin(s, "change flows")
    if sum(x is not None for x in (to, before, after)) != 1:
        raise InvalidValue("say where the column goes: exactly one of to, before or after")
    definition = s.get_flow(flow)
    column = definition.column(name)
    others = [c.name for c in definition.columns if c.name != name]
    if to is not None:
        if to < 0:
            raise InvalidValue(f"a column position is 0 or more, not {to}")
        target = min(to, len(others))
    else:
        anchor = before if before is not None else after
        assert anchor is not None
        if anchor == name:
            raise InvalidValue(f"column {name!r} cannot go before or after itself")
        definition.column(anchor)
        target = others.index(anchor) + (0 if before is not None else 1)
    updated = definition.moved_column(name, target)
    if updated != definition:
        s.put_flow(updated)
        s.record_flow(
            updated.name,
            FlowEventKind.COLUMN_MOVED,
            column=name,
            **{"from": column.position, "to": updated.column(name).position},
        )
    return updated


def edit_column(
    s: Session, flow: str, name: str, *, new_name: str | None = None, colour: str | None = None
) -> FlowDefinition:
    """Rename and/or recolour a column; its status, position and cards stay."""
    require_admin(s, "change flows")
    if new_name is None and colour is None:
        raise InvalidValue("give a new name, a colour or both")
    definition = s.get_flow(flow)
    column = definition.column(name)
    updated = definition.edited_column(name, new_name=new_name, colour=colour)
    changed = updated.column(new_name if new_name is not None else name)
    if changed.name != column.name:
        s.record_flow(
            updated.name,
            FlowEventKind.COLUMN_RENAMED,
            **{"from": column.name, "to": changed.name},
        )
    if changed.colour != column.colour:
        s.record_flow(
            updated.name,
            FlowEventKind.COLUMN_RECOLOURED,
            column=changed.name,
            **{"from": column.colour, "to": changed.colour},
        )
    if updated != definition:
        s.put_flow(updated)
    return updated


def history(s: Session, flow: str) -> list[FlowEvent]:
    """A flow's own history (created, renamed, rule and column changes), oldest first."""
    return s.flow_events(flow)


def set_hidden(s: Session, flow: str, customer_id: int, *, hidden: bool) -> bool:
    """Hide (or show again) a customer on one flow's board, for everyone; whether it changed.

    Who hid the card and when is kept (``hidden``); the customer's timeline says so too.
    """
    kind = EventKind.HIDDEN_FROM_FLOW if hidden else EventKind.SHOWN_IN_FLOW
    s.get_flow(flow)  # an unknown flow is named before an unknown customer
    customer_id = s.lock_customer(customer_id).id  # a concurrent merge waits, or is followed
    if hidden:
        changed = s.hide_from_flow(flow, customer_id, s.actor, s.now())
    else:
        changed = s.set_hidden(flow, customer_id, False)
    if changed:
        s.append_events([s.event(customer_id, kind, flow=flow)])
    return changed


def hidden(s: Session, flow: str) -> list[FlowHide]:
    """The customers hidden from a flow's board that the actor may see, with who hid them."""
    hides = s.flow_hides(s.get_flow(flow).name)
    visible = {c.id for c in s.get_customers([h.customer_id for h in hides])} if hides else set()
    return [hide for hide in hides if hide.customer_id in visible]


def members(s: Session, definition: FlowDefinition, where: RuleLike = MATCH_ALL) -> Rule:
    """The rule of a flow's members as of today, narrowed by ``where``."""
    return all_of(bind_dates(definition.rule, rules_today(s), s.now()), bound(s, where))


def board(
    s: Session,
    flow: str,
    *,
    limit: int = DEFAULT_BOARD_LIMIT,
    where: RuleLike = MATCH_ALL,
    filters: BoardFilters | None = None,
    column: str | None = None,
    page: int = 1,
) -> Board:
    """A flow's board: each column's count, deal values per currency and newest cards.

    ``where`` and ``filters`` narrow the members (composed with the flow's rule by
    'and', in the store). ``column`` shows the cards of that column only, page
    ``page`` of ``limit`` cards (the other columns keep their counts and values),
    so that a long column is walked without loading the others. Members whose
    status no column maps are never dropped: they are in ``unmapped``; members
    hidden from the flow are counted in ``hidden``.
    """
    if limit < 0:
        raise InvalidValue(f"board limit must be zero or more, not {limit}")
    if page < 1:
        raise InvalidValue(f"board pages are numbered from 1, not {page}")
    definition = s.get_flow(flow)
    narrowed = filters.rule() if filters is not None else MATCH_ALL
    rule = all_of(members(s, definition, where), narrowed)
    if column is not None and column != UNMAPPED:
        definition.column(column)
    rows = s.aggregate(rule, BOARD_KEYS, hidden_from=definition.name)
    counts: dict[str | None, int] = {}
    for row in rows:
        counts[row.keys[0]] = counts.get(row.keys[0], 0) + row.count
    offset = (page - 1) * limit

    def cards(name: str, of: Rule, count: int) -> tuple[tuple[Customer, ...], int]:
        start = offset if column == name else 0
        if limit == 0 or not count or (column is not None and column != name) or start >= count:
            return (), start
        found = s.find_customers(
            of, hidden_from=definition.name, order="activity", limit=limit, offset=start
        )
        return tuple(shown_all(s, found)), start

    def lane(
        name: str,
        status: str | None,
        colour: str | None,
        of: Rule,
        count: int,
        values: tuple[ColumnValue, ...],
    ) -> BoardColumn:
        shown_cards, start = cards(name, of, count)
        return BoardColumn(
            name=name,
            status=status,
            colour=colour,
            count=count,
            cards=shown_cards,
            values=values,
            offset=start,
        )

    columns = tuple(
        lane(
            c.name,
            c.status,
            c.colour,
            in_status(rule, c.status),
            counts.get(c.status, 0),
            column_values(rows, (c.status,)),
        )
        for c in definition.columns
    )
    mapped = tuple(c.status for c in definition.columns)
    others = {status for status in counts if status not in mapped and status is not None}
    unmapped = lane(
        UNMAPPED,
        None,
        None,
        all_of(rule, Not(InSet("status", mapped))) if mapped else rule,
        sum(counts[status] for status in others),
        column_values(rows, others),
    )
    return Board(
        flow=definition.name,
        columns=columns,
        unmapped=unmapped,
        hidden=hidden_members(s, definition.name, rule),
        filtered=rule != members(s, definition),
    )


def in_status(rule: Rule, status: str) -> Rule:
    """``rule and status = STATUS``, folding a top-level status list that allows it into it.

    One status test lets a store walk its (status, activity) index in order; a list
    and an equality together make it collect and sort the column first.
    """
    parts = rule.operands if isinstance(rule, And) else (rule,)
    lists = [p for p in parts if isinstance(p, InSet) and p.field == "status"]
    if not all(status in p.values for p in lists):
        return all_of(rule, InSet("status", (status,)))
    rest = [p for p in parts if p not in lists]
    return all_of(*rest, InSet("status", (status,)))


UNMAPPED = "Unmapped"
"""The name of the bucket of members whose status no column maps."""


def hidden_members(s: Session, flow: str, rule: Rule) -> int:
    """How many members the actor may see (the rule holds) are hidden from the flow."""
    hides = s.flow_hides(flow)
    if not hides:
        return 0
    holds = records.predicate(s, rule)
    return sum(1 for c in s.get_customers([h.customer_id for h in hides]) if holds(c))


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
    before = s.lock_customer(customer_id)
    if expected_version is not None and before.version != expected_version:
        raise stale_card(s, definition, before, expected_version)
    if not records.predicate(s, definition.rule)(before):
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


def stale_card(
    s: Session, definition: FlowDefinition, customer: Customer, expected: int
) -> StaleCard:
    """The refusal of a card dragged from an old board: who changed it last, and how."""
    # The timeline's last change names who made it; a move says where the card went.
    changes = [e for e in s.events(customer.id) if e.kind != EventKind.HIDDEN_FROM_FLOW]
    if not changes:
        return StaleCard(customer.id, expected, customer.version)
    last = changes[-1]
    if last.kind == EventKind.STATUS_CHANGED:
        to = str(last.data.get("to"))
        where = next((c.name for c in definition.columns if c.status == to), None)
        landed = f"column {where!r}" if where else f"status {to!r}"
        change = f"moved from {last.data.get('from')!r} to {landed} at {last.at:%Y-%m-%d %H:%M} UTC"
    else:
        change = f"{last.kind.value.replace('_', ' ')} at {last.at:%Y-%m-%d %H:%M} UTC"
    return StaleCard(customer.id, expected, customer.version, last.actor, change)


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
        now=s.now(),
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
