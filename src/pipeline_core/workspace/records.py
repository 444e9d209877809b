"""Use cases of linked records: what other modules attach to a customer, keyed by reference.

Every change of a record is an event on its customer's timeline
(``record_added``, ``record_changed``), carrying ``activity`` = ``KIND_STATE``
(``payment_received``, ``appointment_booked``...) so that automations can wait
for it, as they wait for external activity.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.access import HIDDEN
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.records import (
    BUILTIN_KINDS,
    SETTINGS_KEY,
    LinkedRecord,
    ProfileParts,
    ProfileRecords,
    RecordImportSummary,
    RecordKind,
    RejectedRow,
    check_state,
    kind_named,
    profile_from_parts,
    replaced,
)
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.view import ListedCustomer
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.evaluate import Predicate, RecordLookup, compile_predicate
from pipeline_core.workspace.definitions import defined_kinds, rules_today
from pipeline_core.workspace.paging import EXPORT_PAGE, iterate
from pipeline_core.workspace.permissions import contacts_hidden, hides_contacts, require_admin
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import Session, SessionOpener

if TYPE_CHECKING:
    # Only a type here: the file readers behind it load with the import that uses them.
    from pipeline_core.importing.records import RecordRow

Outcome = Literal["added", "updated", "unchanged"]
"""What an upsert did to one record."""

_COMPARED = tuple(
    a.name for a in attrs.fields(LinkedRecord) if a.name not in {"id", "created_at", "updated_at"}
)


# kinds ----------------------------------------------------------------------------------------


def kinds(s: Session) -> list[RecordKind]:
    """Every kind a record may have: the built-in ones, then the workspace's own by name."""
    defined = defined_kinds(s)
    return [*BUILTIN_KINDS.values(), *(defined[name] for name in sorted(defined))]


def define_kind(
    s: Session, name: str, states: Iterable[str], *, description: str = ""
) -> RecordKind:
    """Define (or redefine) a kind of record of the workspace's own, with its states."""
    require_admin(s, "define record kinds")
    kind = RecordKind(
        name=name.strip().lower() if isinstance(name, str) else name,
        states=tuple(state.strip().lower() for state in states),
        description=description,
    )
    if kind.name in BUILTIN_KINDS:
        raise InvalidValue(f"record kind {kind.name!r} is built in; choose another name")
    defined = defined_kinds(s)
    defined[kind.name] = kind
    s.put_setting(SETTINGS_KEY, converter.unstructure(defined))
    return kind


# reading --------------------------------------------------------------------------------------


def shown_record(s: Session, record: LinkedRecord, hidden: bool | None = None) -> LinkedRecord:
    """The record as the actor may see it: a conversation's address is contact data."""
    if record.address is None:
        return record
    if hidden if hidden is not None else hides_contacts(s):
        return attrs.evolve(record, address=HIDDEN)
    return record


def shown_records(s: Session, records: list[LinkedRecord]) -> list[LinkedRecord]:
    """``shown_record`` for many, reading the access setting once."""
    hidden = hides_contacts(s)
    return [shown_record(s, record, hidden) for record in records]


def shown_profile(s: Session, parts: ProfileParts) -> ProfileRecords:
    """The profile's record sections from what the store read, as the actor may see them."""
    hidden = hides_contacts(s)
    visible = ProfileParts(
        listed=tuple(shown_record(s, r, hidden) for r in parts.listed),
        latest={channel: shown_record(s, r, hidden) for channel, r in parts.latest.items()},
        sums=parts.sums,
        counts=parts.counts,
    )
    return profile_from_parts(visible, s.now())


def show(s: Session, record_id: int) -> LinkedRecord:
    """The record with that id, if the actor may see its customer."""
    return shown_record(s, s.get_record(record_id))


def list_records(
    s: Session,
    customer_id: int | None = None,
    *,
    kinds: Iterable[str] = (),
    states: Iterable[str] = (),
) -> list[LinkedRecord]:
    """Records of one customer (None: of every customer the actor sees), by moment then id.

    ``kinds`` and ``states`` narrow them (empty: any).
    """
    defined = defined_kinds(s)
    wanted = [kind_named(kind, defined).name for kind in kinds]
    if customer_id is not None:
        customer_id = s.get_customer(customer_id).id
    return shown_records(
        s, s.find_records(customer_id=customer_id, kinds=wanted, states=tuple(states))
    )


def record_lookup(s: Session) -> RecordLookup:
    """How rules evaluated in Python read a customer's linked records: in this session."""
    return lambda customer: s.find_records(customer_id=customer.id)


def predicate(s: Session, rule: Rule) -> Predicate:
    """``rule`` as a function of a customer, meaning in Python what it means in the store.

    Relative dates are this session's day (``rules_today``), rolling windows end at its
    clock's now, and record tests read the customer's linked records in this session.
    """
    return compile_predicate(rule, today=rules_today(s), now=s.now(), records=record_lookup(s))


# writing --------------------------------------------------------------------------------------


def add(s: Session, record: LinkedRecord) -> LinkedRecord:
    """Attach a record to its customer, or update the one it holds with that kind and ref."""
    return upsert(s, [record])[0][0]


def upsert(s: Session, records: Sequence[LinkedRecord]) -> list[tuple[LinkedRecord, Outcome]]:
    """Attach or update many records in this session; each stored record and what was done.

    A record is matched by its customer, kind and reference: a known one takes
    the new values (an empty state keeps the stored one) and is only written,
    and recorded on the timeline, if something changed, so a re-run of the
    same records changes nothing. Of two records with the same key in
    ``records``, the later wins.
    """
    defined = defined_kinds(s)
    now = s.now()
    hidden = hides_contacts(s)
    # Customers are locked in id order, so that two imports touching the same customers
    # wait for each other instead of deadlocking (PostgreSQL locks rows).
    owners = {i: s.lock_customer(i).id for i in sorted({r.customer_id for r in records})}
    checked: list[LinkedRecord] = []
    for record in records:
        kind = kind_named(record.kind, defined)
        state = "" if record.state == "" else check_state(kind, record.state)
        checked.append(
            replaced(record, kind=kind.name, state=state, customer_id=owners[record.customer_id])
        )
    held: dict[tuple[int, str, str], LinkedRecord] = {}
    by_kind: dict[str, list[str]] = {}
    for record in checked:
        by_kind.setdefault(record.kind, []).append(record.ref)
    for kind_name, refs in by_kind.items():
        for found in s.records_by_ref(kind_name, refs):
            held[(found.customer_id, found.kind, found.ref)] = found
    results: dict[tuple[int, str, str], tuple[LinkedRecord, Outcome]] = {}
    new: dict[tuple[int, str, str], LinkedRecord] = {}
    events: list[Event] = []
    for record in checked:
        key = (record.customer_id, record.kind, record.ref)
        before = held.get(key)
        if before is None:
            state = record.state or kind_named(record.kind, defined).initial
            new[key] = replaced(record, state=state, created_at=now, updated_at=now)
            continue
        address = record.address
        if hidden and address != before.address:
            # The actor sees "(hidden)" for it: what they send back keeps the stored one.
            if address not in (None, HIDDEN):
                raise contacts_hidden(s, "change a conversation's address")
            address = before.address
        after = replaced(
            record,
            id=before.id,
            state=record.state or before.state,
            address=address,
            created_at=before.created_at,
            updated_at=now,
        )
        changed = [name for name in _COMPARED if getattr(before, name) != getattr(after, name)]
        if not changed:
            results[key] = (before, "unchanged")
            continue
        stored = s.update_record(after)
        held[key] = stored
        results[key] = (stored, "updated")
        events.append(_event(s, stored, EventKind.RECORD_CHANGED, before, changed))
    if new:
        for stored in s.insert_records(list(new.values())):
            key = (stored.customer_id, stored.kind, stored.ref)
            results[key] = (stored, "added")
            events.append(_event(s, stored, EventKind.RECORD_ADDED, None, []))
    if events:
        s.append_events(events)
    return [
        (shown_record(s, stored, hidden), outcome)
        for stored, outcome in (results[(r.customer_id, r.kind, r.ref)] for r in checked)
    ]


def set_state(s: Session, record_id: int, state: str) -> LinkedRecord:
    """Move a record to another state of its kind (paid, cancelled, done...)."""
    before = s.get_record(record_id)
    s.lock_customer(before.customer_id)
    kind = kind_named(before.kind, defined_kinds(s))
    after = attrs.evolve(before, state=check_state(kind, state))
    return upsert(s, [after])[0][0]


def _event(
    s: Session,
    record: LinkedRecord,
    kind: EventKind,
    before: LinkedRecord | None,
    changed: list[str],
) -> Event:
    data: dict[str, JSONValue] = {
        "record_id": record.id,
        "record_kind": record.kind,
        "ref": record.ref,
        "state": record.state,
        "activity": f"{record.kind}_{record.state}",
        "title": record.title,
        "amount": None if record.amount is None else str(record.amount),
        "currency": record.currency,
    }
    if record.channel is not None:
        data["channel"] = record.channel
    if before is not None:
        # The address is contact data: named as changed, its values never recorded.
        data["changed"] = list[JSONValue](changed)
        data["previous_state"] = before.state
    return s.event(record.customer_id, kind, **data)


# new activity (list badges) -------------------------------------------------------------------


def mark_opened(s: Session, customer_id: int) -> None:
    """Remember that the actor has seen the customer's activity up to now."""
    # The newest event alone (its id is the highest), not the whole timeline.
    latest, _ = s.latest_events(customer_id, 1)
    if latest:
        s.mark_seen(s.actor, latest[0].customer_id, latest[0].id)


def badges(s: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    """Per customer, how many events others made since the actor last opened it (0: none)."""
    counts = s.new_activity(s.actor, customer_ids)
    return {customer_id: counts.get(customer_id, 0) for customer_id in customer_ids}


def listing(
    opener: SessionOpener,
    where: RuleLike = MATCH_ALL,
    *,
    unseen: bool = False,
    limit: int | None = None,
    offset: int = 0,
    page: int = EXPORT_PAGE,
) -> Iterator[ListedCustomer]:
    """Customers satisfying ``where``, oldest first, each with its new-activity count.

    ``unseen``: only those with new activity (``limit`` and ``offset`` then count
    those). Read ``page`` customers at a time, each page in a session of its own.
    """
    customers = iterate(
        opener,
        where,
        page=page,
        limit=None if unseen else limit,
        offset=0 if unseen else offset,
    )
    return _listed(opener, customers, unseen, limit, offset, page)


def _listed(
    opener: SessionOpener,
    customers: Iterator[Customer],
    unseen: bool,
    limit: int | None,
    offset: int,
    page: int,
) -> Iterator[ListedCustomer]:
    skip, left = (offset, limit) if unseen else (0, None)
    while left is None or left > 0:
        chunk = list(itertools.islice(customers, page))
        if not chunk:
            return
        counts = opener.run(badges, [c.id for c in chunk])
        for customer in chunk:
            count = counts[customer.id]
            if unseen and count == 0:
                continue
            if skip:
                skip -= 1
                continue
            yield ListedCustomer(customer=customer, new_activity=count)
            if left is not None:
                left -= 1
                if left == 0:
                    return


# files ----------------------------------------------------------------------------------------


def import_rows(s: Session, file: str, rows: Sequence[RecordRow]) -> RecordImportSummary:
    """Upsert the records of a file's rows; a bad row is reported and the good ones still land.

    A row is refused, with its line and column, when it cannot be read, names a
    customer the actor cannot see, or a kind or state that does not exist.
    Running the same file again changes nothing (every record ``unchanged``).
    """
    defined = defined_kinds(s)
    rejected: list[RejectedRow] = []
    good: list[LinkedRecord] = []
    visible: dict[int, bool] = {}
    for row in rows:
        if row.error is not None or row.record is None:
            error = row.error
            assert error is not None
            rejected.append(RejectedRow(line=row.line, column=error.column, reason=error.reason))
            continue
        record = row.record
        column = "kind"
        try:
            kind = kind_named(record.kind, defined)
            column = "state"
            if record.state:
                check_state(kind, record.state)
        except InvalidValue as error:
            rejected.append(RejectedRow(line=row.line, column=column, reason=str(error)))
            continue
        if record.customer_id not in visible:
            try:
                s.get_customer(record.customer_id)
                visible[record.customer_id] = True
            except NotFound:
                visible[record.customer_id] = False
        if not visible[record.customer_id]:
            rejected.append(
                RejectedRow(
                    line=row.line,
                    column="customer_id",
                    reason=f"no customer with id {record.customer_id}",
                )
            )
            continue
        good.append(record)
    outcomes = [outcome for _, outcome in upsert(s, good)] if good else []
    return RecordImportSummary(
        file=file,
        added=outcomes.count("added"),
        updated=outcomes.count("updated"),
        unchanged=outcomes.count("unchanged"),
        rejected=tuple(rejected),
    )
