"""Use cases of the customer record: add, read, list, edit, move, search, timeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pipeline_core.customer import EDITABLE_FIELDS, Customer
from pipeline_core.domain.duplicates import DuplicatePolicy
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.domain.outcomes import enter_status
from pipeline_core.domain.records import kind_named
from pipeline_core.domain.search import DEFAULT_LIMIT, PHONE, parse_query
from pipeline_core.errors import ConcurrencyError, InvalidValue
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace import duplicates, records
from pipeline_core.workspace.changes import save_changes
from pipeline_core.workspace.dedupe import resolve
from pipeline_core.workspace.definitions import (
    checked_fields,
    defined_kinds,
    lifecycle,
    machine_for,
)
from pipeline_core.workspace.moves import check_folder_status, move_in
from pipeline_core.workspace.permissions import (
    check_contact_edit,
    check_folder_change,
    check_within_scope,
    contacts_hidden,
    hides_contacts,
    shown,
    shown_all,
    shown_events,
)
from pipeline_core.workspace.rules import RuleLike, bound
from pipeline_core.workspace.session import Session


@attrs.frozen
class RelativeEdit:
    """Tag and custom-field changes stated relative to the stored customer."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    set_fields: dict[str, Any] = attrs.Factory(dict)
    remove_fields: tuple[str, ...] = ()

    def applied(self, current: Customer, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        """``changes`` plus these, worked out against ``current``."""
        result = dict(changes)
        if self.add_tags or self.remove_tags:
            base = result.get("tags", current.tags)
            kept = [tag for tag in base if tag not in self.remove_tags]
            result["tags"] = [*kept, *self.add_tags]
        if self.set_fields or self.remove_fields:
            base_fields = result.get("fields", current.fields)
            fields = {k: v for k, v in base_fields.items() if k not in self.remove_fields}
            fields.update(self.set_fields)
            result["fields"] = fields
        return result


def add(s: Session, customer: Customer, *, on_duplicate: DuplicatePolicy | None = None) -> Customer:
    """Store a new customer; an empty status means the machine's initial status.

    If its phones, emails or WhatsApp match live customers, ``on_duplicate``
    decides (default: the ``allow_duplicates`` setting, else ``block``):
    ``block`` raises ``DuplicateCustomer`` naming them, ``allow`` adds it
    anyway, ``merge`` folds it into the oldest match (that customer wins,
    blanks are filled, contacts and tags are added) and ``update`` writes the
    new values over the oldest match; both return the existing customer.
    """
    now = s.now()
    check_within_scope(s, customer, "create")
    check_folder_change(s, None, customer.folder)
    machine = machine_for(s, customer.folder)
    status = machine.status(customer.status or machine.initial)
    if customer.parent_id is not None:
        s.get_customer(customer.parent_id)
    fields = checked_fields(s, customer.folder, customer.fields)
    draft = attrs.evolve(
        customer, status=status.name, fields=fields, created_at=now, updated_at=now, version=0
    )
    reason = None
    if status.outcome == "lost":
        reason = lifecycle(s).given_reason(customer.lost_reason)
    draft = enter_status(draft, status, now, reason)
    existing = duplicates.on_add(s, draft, on_duplicate)
    if existing is not None:
        return shown(s, existing)
    stored = s.insert_customer(draft)
    s.append_events([s.event(stored.id, EventKind.CREATED, status=stored.status)])
    return shown(s, stored)


def get(s: Session, customer_id: int) -> Customer:
    """The customer with that id (a merged one's id leads to its primary).

    ``NotFound`` if there is none or the actor may not see it.
    """
    return shown(s, s.get_customer(customer_id))


def list_customers(
    s: Session, where: RuleLike = MATCH_ALL, *, limit: int | None = None, offset: int = 0
) -> list[Customer]:
    """Customers satisfying ``where`` (a rule, rule text or saved filter name), oldest first."""
    return shown_all(s, s.find_customers(bound(s, where), limit=limit, offset=offset))


def count(s: Session, where: RuleLike = MATCH_ALL) -> int:
    """How many customers satisfy ``where``."""
    return s.count_customers(bound(s, where))


def current(s: Session, customer_id: int, expected_version: int | None) -> Customer:
    """The customer, locked for this session, at ``expected_version`` if one is given."""
    found = s.lock_customer(customer_id)
    # Checked here, before anything else: a change that turns out to be a no-op
    # must still be refused when it was based on a stale copy.
    if expected_version is not None and found.version != expected_version:
        raise ConcurrencyError(customer_id, expected_version, found.version)
    return found


def edit(
    s: Session,
    /,
    customer_id: int,
    *,
    expected_version: int | None = None,
    on_duplicate: DuplicatePolicy | None = None,
    relative: RelativeEdit = RelativeEdit(),
    **changes: Any,
) -> Customer:
    """Change fields of a customer; one event per changed field.

    Only fields in ``EDITABLE_FIELDS`` may change here: status moves go through
    ``move``. ``relative`` changes tags and custom fields relative to what is stored.
    """
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidValue(
            f"cannot edit {', '.join(unknown)}; editable fields: {', '.join(sorted(EDITABLE_FIELDS))}"
        )
    before = current(s, customer_id, expected_version)
    return edit_in(s, before, relative.applied(before, changes), on_duplicate)


def edit_in(
    s: Session,
    before: Customer,
    changes: Mapping[str, Any],
    on_duplicate: DuplicatePolicy | None = None,
) -> Customer:
    """Apply checked ``changes`` to the locked customer ``before``."""
    check_contact_edit(s, changes)
    edited = attrs.evolve(before, **changes)
    check_within_scope(s, edited, "edit")
    if edited.parent_id != before.parent_id and edited.parent_id is not None:
        parent_id = resolve(s, edited.parent_id)
        edited = attrs.evolve(edited, parent_id=parent_id)
        _check_parent(s, before.id, parent_id)
    if edited.folder != before.folder:
        check_folder_change(s, before.folder, edited.folder)
        check_folder_status(s, edited)
    if "fields" in changes:
        edited = attrs.evolve(edited, fields=checked_fields(s, edited.folder, edited.fields))
    duplicates.check_edit(s, before, edited, on_duplicate)
    return shown(s, save_changes(s, before, edited))


def _check_parent(s: Session, customer_id: int, parent_id: int) -> None:
    s.get_customer(parent_id)  # the new parent must be one the actor can see
    ancestor: int | None = parent_id
    while ancestor is not None:
        if ancestor == customer_id:
            raise InvalidValue(
                f"customer {parent_id} cannot be the parent of {customer_id}: that makes a cycle"
            )
        # Ancestors further up may be outside the actor's scope; a cycle is still a cycle.
        ancestor = s.unscoped.get_customer(ancestor).parent_id


def move(
    s: Session,
    customer_id: int,
    status: str,
    *,
    expected_version: int | None = None,
    reason: str | None = None,
    reason_text: str | None = None,
) -> Customer:
    """Move a customer to ``status`` through its folder's status machine.

    Refused with ``TransitionNotAllowed`` if the machine does not allow it;
    moving to the current status changes nothing and records nothing. A move
    into a lost status needs ``reason`` (from the lost reasons, or ``other``
    with ``reason_text``). Won and lost statuses set the outcome and close date.
    """
    before = current(s, customer_id, expected_version)
    return shown(s, move_in(s, before, status, reason=reason, reason_text=reason_text))


def timeline(
    s: Session, customer_id: int, kinds: Iterable[EventKind | str] | None = None
) -> list[Event]:
    """Every event of a customer, oldest first; only those of ``kinds`` if given.

    A kind is an event kind (``note``, ``status_changed``...) or a kind of linked
    record (``payment``, ``conversation``...): the changes of such records.
    """
    wanted_events: set[EventKind] = set()
    wanted_records: set[str] = set()
    if kinds is not None:
        defined = defined_kinds(s)
        for kind in kinds:
            if kind in EVENT_KINDS:
                wanted_events.add(EventKind(kind))
                continue
            try:
                wanted_records.add(kind_named(kind, defined).name)
            except InvalidValue:
                known = ", ".join(sorted(EVENT_KINDS))
                raise InvalidValue(
                    f"unknown kind {kind!r}: an event kind ({known})"
                    f" or a record kind ({', '.join(k.name for k in records.kinds(s))})"
                ) from None
    events = shown_events(s, s.events(customer_id))
    if kinds is None:
        return events
    return [
        event
        for event in events
        if event.kind in wanted_events
        or (event.kind in RECORD_EVENTS and event.data.get("record_kind") in wanted_records)
    ]


EVENT_KINDS = frozenset(kind.value for kind in EventKind)
RECORD_EVENTS = (EventKind.RECORD_ADDED, EventKind.RECORD_CHANGED)


def search(
    s: Session, text: str, *, where: RuleLike = MATCH_ALL, limit: int = DEFAULT_LIMIT
) -> list[Customer]:
    """Customers found by name, email, phone or tag, best match first.

    Names are matched by word prefix, ignoring case and accents; a phone query
    matches any number ending in its digits (at least 4). Only customers the
    actor may see, and that satisfy ``where``. When contact data is hidden from
    the actor, words match names and tags only, and a phone query is refused.
    """
    contacts = not hides_contacts(s)
    query = parse_query(text, contacts=contacts)
    if not contacts and any(kind == PHONE for kind, _ in query.parts):
        raise contacts_hidden(s, "search by phone number")
    if limit < 1:
        raise InvalidValue(f"a search limit must be 1 or more, not {limit}")
    return shown_all(s, s.search_customers(query, bound(s, where), limit=limit))
