"""Moving a customer through its status machine and between folders, inside a session.

Shared by the customers' and flows' use cases and by automations' actions.
"""

from __future__ import annotations

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.outcomes import enter_status, status_changes
from pipeline_core.errors import InvalidValue
from pipeline_core.workspace.definitions import lost_reason, machine_for
from pipeline_core.workspace.permissions import check_folder_change
from pipeline_core.workspace.session import Session


def move_in(
    s: Session,
    current: Customer,
    status: str,
    *,
    reason: str | None = None,
    reason_text: str | None = None,
) -> Customer:
    """Move ``current`` to ``status`` through its folder's machine; nothing if already there."""
    machine = machine_for(s, current.folder)
    target = machine.check(current.status, status)
    if current.status == status:
        return current
    reason_given = lost_reason(s, current, target, reason, reason_text)
    now = s.now()
    # The status columns alone change: the store writes those that differ and builds
    # the moved customer once, with its new version.
    stored = s.update_status(current, status_changes(current, target, now, reason_given))
    data: dict[str, JSONValue] = {"from": current.status, "to": status}
    if reason_given is not None:
        data["reason"] = reason_given
    # Stamped with the moment the customer records as its update: one reading of the clock.
    s.append_events([s.event_at(current.id, EventKind.STATUS_CHANGED, now, data)])
    return stored


def set_folder_in(
    s: Session,
    current: Customer,
    folder: str | None,
    status: str | None,
    reason: str | None = None,
    reason_text: str | None = None,
) -> Customer:
    """Move ``current`` into ``folder`` (None: out of any), switching status machine.

    If the folder's machine lacks the customer's status, ``status`` must name
    the status to take there; otherwise it is a clear error.
    """
    folder = folder.strip() or None if folder is not None else None
    check_folder_change(s, current.folder, folder)
    machine = machine_for(s, folder)
    target = status
    if target is None:
        if current.status not in machine:
            raise InvalidValue(
                f"folder {folder!r} uses status machine {machine.name!r}, which has no "
                f"status {current.status!r}; give the status to take there: "
                f"{', '.join(machine.names)}"
            )
        target = current.status
    entered = machine.status(target)
    if folder == current.folder and target == current.status:
        return current
    if machine == machine_for(s, current.folder):
        machine.check(current.status, target)
    now = s.now()
    updated = attrs.evolve(current, folder=folder, updated_at=now)
    events: list[Event] = []
    if folder != current.folder:
        events.append(
            s.event(current.id, EventKind.FOLDER_CHANGED, **{"from": current.folder, "to": folder})
        )
    if target != current.status:
        reason_given = lost_reason(s, current, entered, reason, reason_text)
        updated = enter_status(updated, entered, now, reason_given)
        data: dict[str, JSONValue] = {"from": current.status, "to": target}
        if reason_given is not None:
            data["reason"] = reason_given
        events.append(s.event(current.id, EventKind.STATUS_CHANGED, **data))
    stored = s.update_customer(updated)
    s.append_events(events)
    return stored


def check_folder_status(s: Session, edited: Customer) -> None:
    """Refuse an edit that leaves the customer in a status its folder's machine lacks."""
    machine = machine_for(s, edited.folder)
    if edited.status not in machine:
        raise InvalidValue(
            f"folder {edited.folder!r} uses status machine {machine.name!r}, which has no "
            f"status {edited.status!r}; use set_folder with one of: {', '.join(machine.names)}"
        )


def retag_in(s: Session, customer: Customer, tag: str, add: bool) -> Customer:
    """Add or remove one tag; nothing if it is already so."""
    if (tag in customer.tags) == add:
        return customer
    tags = (*customer.tags, tag) if add else tuple(t for t in customer.tags if t != tag)
    stored = s.update_customer(attrs.evolve(customer, tags=tags, updated_at=s.now()))
    s.append_events(
        [
            s.event(
                customer.id,
                EventKind.TAGS_CHANGED,
                added=[tag] if add else [],
                removed=[] if add else [tag],
            )
        ]
    )
    return stored
