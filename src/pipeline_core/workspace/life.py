"""Use cases of the customer's life: notes, contacts, follow-ups and reminders, deals,
orders, families, folders, external activity, and the 360-degree view.

Each is one function over one session, recorded on the customer's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import prepend_note
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.records import LinkedRecord
from pipeline_core.domain.reminders import Reminder, last_due_day, reminder_moment
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.settings import SETTINGS_KEY as LIFECYCLE_KEY
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.view import CustomerTree, CustomerView
from pipeline_core.errors import AlreadyConverted, InvalidValue, NotFound
from pipeline_core.workspace import records
from pipeline_core.workspace.customers import current, edit_in
from pipeline_core.workspace.definitions import lifecycle
from pipeline_core.workspace.moves import set_folder_in
from pipeline_core.workspace.permissions import require_admin, shown, shown_all, shown_events
from pipeline_core.workspace.session import Session
from pipeline_core.workspace.work import summary

RECENT_EVENTS = 10


# settings -------------------------------------------------------------------------------


def settings(s: Session) -> LifecycleSettings:
    """The time zone, reminder hour and lost reasons in force."""
    return lifecycle(s)


def configure(
    s: Session,
    *,
    time_zone: str | None = None,
    reminder_hour: int | None = None,
    lost_reasons: Iterable[str] | None = None,
) -> LifecycleSettings:
    """Change some of the lifecycle settings; the others stay."""
    require_admin(s, "change workspace settings")
    changes: dict[str, Any] = {}
    if time_zone is not None:
        changes["time_zone"] = time_zone
    if reminder_hour is not None:
        changes["reminder_hour"] = reminder_hour
    if lost_reasons is not None:
        changes["lost_reasons"] = tuple(lost_reasons)
    updated = attrs.evolve(lifecycle(s), **changes)
    s.put_setting(LIFECYCLE_KEY, converter.unstructure(updated))
    return updated


# notes, contacts, follow-ups ---------------------------------------------------------------


def add_note(s: Session, customer_id: int, text: str) -> Event:
    """Add a note to the customer's timeline; the stored event."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidValue("a note must not be blank")
    owner = s.lock_customer(customer_id)  # a merge racing it waits, or is followed
    return s.record(owner.id, EventKind.NOTE, text=text.strip())


def notes(s: Session, customer_id: int) -> list[Event]:
    """The customer's notes, oldest first."""
    owner = s.get_customer(customer_id)  # a merged customer's old id: its primary
    return [event for event in s.events(owner.id) if event.kind is EventKind.NOTE]


def noted_change(
    s: Session,
    before: Customer,
    text: str | None,
    changes: dict[str, Any],
    kind: EventKind,
    **data: JSONValue,
) -> Customer:
    """Apply ``changes`` now, notes on top of the lead notes, and record a ``kind`` event."""
    now = s.now()
    # A person reads the stamp: it is written in the workspace's zone, with its offset.
    stamp = now.astimezone(lifecycle(s).zone)
    updated = attrs.evolve(
        before, updated_at=now, lead_notes=prepend_note(before.lead_notes, text, stamp), **changes
    )
    stored = s.update_customer(updated)
    s.append_events([s.event(before.id, kind, notes=_text(text), **data)])
    return stored


def log_contact(
    s: Session, customer_id: int, notes: str | None = None, *, channel: str | None = None
) -> Customer:
    """Record that someone contacted the customer now; notes go on top of the lead notes."""
    before = s.lock_customer(customer_id)
    stored = noted_change(
        s, before, notes, {"last_contacted_at": s.now()}, EventKind.CONTACT_LOGGED, channel=channel
    )
    return shown(s, stored)


def schedule_follow_up(
    s: Session, customer_id: int, on: date, notes: str | None = None
) -> Customer:
    """Set the customer's next follow-up date; its reminder falls due that day at the hour."""
    return shown(s, schedule_in(s, s.lock_customer(customer_id), on, notes))


def schedule_in(s: Session, before: Customer, on: date, notes: str | None) -> Customer:
    """Schedule a follow-up on the locked customer ``before``."""
    if isinstance(on, datetime) or not isinstance(on, date):
        raise InvalidValue(f"a follow-up is a date, not {on!r}")
    previous = None if before.next_follow_up is None else before.next_follow_up.isoformat()
    return noted_change(
        s, before, notes, {"next_follow_up": on}, EventKind.FOLLOW_UP_SCHEDULED,
        on=on.isoformat(), previous=previous,
    )  # fmt: skip


def complete_follow_up(s: Session, customer_id: int, notes: str | None = None) -> Customer:
    """Mark the customer's follow-up done: its reminder is no longer due."""
    before = s.lock_customer(customer_id)
    if before.next_follow_up is None:
        raise InvalidValue(f"customer {customer_id} has no follow-up scheduled")
    stored = noted_change(
        s, before, notes, {"next_follow_up": None}, EventKind.FOLLOW_UP_DONE,
        on=before.next_follow_up.isoformat(),
    )  # fmt: skip
    return shown(s, stored)


def due_reminders(s: Session, at: datetime | None = None) -> list[Reminder]:
    """Follow-ups due at ``at`` (default: now) and not done, earliest first.

    A follow-up on day D falls due at the reminder hour on D in the workspace's zone.
    """
    if at is not None and at.tzinfo is None:
        raise InvalidValue(f"--at {at.isoformat()} needs a time zone offset")
    moment = s.now() if at is None else at
    current_settings = lifecycle(s)
    hour, zone = current_settings.reminder_hour, current_settings.zone
    reminders = []
    for customer in s.follow_ups_until(last_due_day(moment, hour, zone)):
        assert customer.next_follow_up is not None
        reminders.append(
            Reminder(
                customer_id=customer.id,
                name=customer.name,
                due_on=customer.next_follow_up,
                due_at=reminder_moment(customer.next_follow_up, hour, zone),
                workers=customer.workers,
                notes=customer.lead_notes.partition("\n")[0],
            )
        )
    return reminders


# deal, order, family, folder -----------------------------------------------------------------


def set_deal(
    s: Session,
    customer_id: int,
    value: Decimal | int | str | None,
    currency: str | None = None,
    *,
    expected_version: int | None = None,
) -> Customer:
    """Set the deal value (a decimal) and its currency; a value needs a currency."""
    before = current(s, customer_id, expected_version)
    changes: dict[str, object] = {"value": value}
    if currency is not None:
        changes["currency"] = currency
    if value not in (None, "") and currency is None and before.currency is None:
        raise InvalidValue("a deal value needs a currency (an ISO 4217 code such as EUR)")
    return edit_in(s, before, changes)


def convert_to_order(
    s: Session, customer_id: int, order_id: str, *, force: bool = False
) -> Customer:
    """Record the order the customer became; stamps ``converted_at`` the first time.

    The order is a linked record (kind ``order``, reference ``order_id``), so a
    customer keeps every order it was converted to; ``order_id`` names the
    latest. Converting again is refused with ``AlreadyConverted`` unless
    ``force``; even then ``converted_at`` keeps its first value.
    """
    if not isinstance(order_id, str) or not order_id.strip():
        raise InvalidValue("an order id must not be blank")
    before = s.lock_customer(customer_id)
    if before.order_id is not None and not force:
        raise AlreadyConverted(
            f"customer {customer_id} was already converted to order "
            f"{before.order_id!r}; force it to record another order"
            " (the earlier ones stay in its orders)"
        )
    now = s.now()
    updated = attrs.evolve(
        before, order_id=order_id, converted_at=before.converted_at or now, updated_at=now
    )
    stored = s.update_customer(updated)
    s.append_events(
        [
            s.event(
                before.id,
                EventKind.CONVERTED,
                order_id=stored.order_id,
                previous=before.order_id,
                forced=force and before.order_id is not None,
            )
        ]
    )
    held = [r for r in s.records_by_ref("order", [order_id.strip()]) if r.customer_id == before.id]
    if not held:  # converting to an order already attached keeps it as it is
        records.upsert(s, [LinkedRecord(customer_id=before.id, kind="order", ref=order_id, at=now)])
    return shown(s, stored)


def set_parent(s: Session, customer_id: int, parent_id: int | None) -> Customer:
    """Make ``parent_id`` the customer's parent (None: none); a cycle is refused."""
    return edit_in(s, s.lock_customer(customer_id), {"parent_id": parent_id})


def children(s: Session, customer_id: int) -> list[Customer]:
    """The customer's direct sub-customers, oldest first."""
    owner = s.get_customer(customer_id)
    return shown_all(s, s.children(owner.id))


def tree(s: Session, customer_id: int, *, from_root: bool = False) -> CustomerTree:
    """The customer and all its sub-customers; ``from_root``: its topmost ancestor's tree.

    Only customers the actor may see: the root is the topmost visible ancestor,
    and invisible sub-customers are left out with everything below them.
    """
    top = s.get_customer(customer_id)
    while from_root and top.parent_id is not None:
        parent = _visible_or_none(s, top.parent_id)
        if parent is None:
            break
        top = parent
    return _subtree(s, top, set())


def _visible_or_none(s: Session, customer_id: int) -> Customer | None:
    try:
        return s.get_customer(customer_id)
    except NotFound:
        return None


def _subtree(s: Session, customer: Customer, seen: set[int]) -> CustomerTree:
    seen.add(customer.id)
    kids = [child for child in s.children(customer.id) if child.id not in seen]
    return CustomerTree(
        customer=shown(s, customer), children=tuple(_subtree(s, kid, seen) for kid in kids)
    )


def set_folder(
    s: Session,
    customer_id: int,
    folder: str | None,
    *,
    status: str | None = None,
    reason: str | None = None,
    reason_text: str | None = None,
) -> Customer:
    """Move a customer into ``folder`` (None: out of any), switching status machine.

    If the folder's machine lacks the customer's status, ``status`` must name
    the status to take there; otherwise it is a clear error.
    """
    before = s.lock_customer(customer_id)
    return shown(s, set_folder_in(s, before, folder, status, reason, reason_text))


# external activity ----------------------------------------------------------------------------


def record_activity(
    s: Session,
    customer_id: int,
    kind: str,
    summary_text: str,
    *,
    at: datetime | None = None,
    ref: str | None = None,
    data: Mapping[str, JSONValue] | None = None,
) -> Event:
    """Put something the host application did on the customer's timeline; the stored event.

    ``kind`` names it (``email_sent``, ``order_paid``...), ``at`` is when it
    happened (default: now), ``ref`` an id or link into the host's system.
    Automations can wait for it (``on: external``, ``activity: KIND``).
    """
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidValue("an external activity needs a kind, such as 'email_sent'")
    if not isinstance(summary_text, str) or not summary_text.strip():
        raise InvalidValue("an external activity needs a summary")
    if at is not None and at.tzinfo is None:
        raise InvalidValue(f"activity time {at.isoformat()} needs a time zone offset")
    happened = s.now() if at is None else at
    owner = s.lock_customer(customer_id)  # a merge racing it waits, or is followed
    return s.record(
        owner.id,
        EventKind.EXTERNAL,
        activity=kind.strip(),
        summary=summary_text.strip(),
        occurred_at=happened.isoformat(),
        ref=ref,
        details=dict(data or {}),
    )


# the 360-degree view --------------------------------------------------------------------------


def view(s: Session, customer_id: int, *, recent: int = RECENT_EVENTS) -> CustomerView:
    """Everything about one customer: profile, family, tasks, follow-up, time, latest events,
    and the sections of its linked records (invoices, payments, appointments...)."""
    customer = s.get_customer(customer_id)
    customer_id = customer.id  # a merged customer's old id shows its primary
    current_settings = lifecycle(s)
    today = s.now().astimezone(current_settings.zone).date()
    parent = None if customer.parent_id is None else _visible_or_none(s, customer.parent_id)
    open_tasks = s.find_tasks(customer_id=customer_id, open_only=True)
    # The latest one at least: marking the customer seen needs the last event's id.
    latest, event_count = s.latest_events(customer_id, max(recent, 1))
    events = shown_events(s, latest)
    if events:  # the actor has now seen this customer's activity (list badges)
        s.mark_seen(s.actor, customer_id, events[-1].id)
    follow_up = customer.next_follow_up
    return CustomerView(
        customer=shown(s, customer),
        parent=None if parent is None else shown(s, parent),
        children=tuple(shown_all(s, s.children(customer_id))),
        open_tasks=tuple(open_tasks),
        overdue_tasks=tuple(t.id for t in open_tasks if t.overdue(today)),
        follow_up_due_at=None
        if follow_up is None
        else reminder_moment(follow_up, current_settings.reminder_hour, current_settings.zone),
        time=summary(s.time_entries(customer_id=customer_id)),
        recent_events=tuple(events[-recent:] if recent > 0 else ()),
        event_count=event_count,
        records=records.shown_profile(s, s.record_profile(customer_id)),
    )


def _text(notes: str | None) -> str | None:
    return None if notes is None or not notes.strip() else notes.strip()
