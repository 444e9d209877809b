"""Storing an edited customer with one event per changed field: shared by edits, imports, merges."""

from __future__ import annotations

import attrs

from pipeline_core.customer import EDITABLE_FIELDS, Customer
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.serialization import converter
from pipeline_core.workspace.session import Session


def edit_events(s: Session, before: Customer, after: Customer) -> list[Event]:
    """One event per editable field that differs between ``before`` and ``after``."""
    events = []
    for name in sorted(EDITABLE_FIELDS):
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        if name == "folder":
            events.append(s.event(before.id, EventKind.FOLDER_CHANGED, **{"from": old, "to": new}))
        elif name == "tags":
            events.append(
                s.event(
                    before.id,
                    EventKind.TAGS_CHANGED,
                    added=[tag for tag in new if tag not in old],
                    removed=[tag for tag in old if tag not in new],
                )
            )
        else:
            events.append(
                s.event(
                    before.id,
                    EventKind.EDITED,
                    field=name,
                    before=_json(before, name),
                    after=_json(after, name),
                )
            )
    return events


def save_changes(s: Session, before: Customer, after: Customer) -> Customer:
    """Store an edited customer with one event per changed field (nothing if unchanged)."""
    events = edit_events(s, before, after)
    if not events:
        return before
    stored = s.update_customer(attrs.evolve(after, updated_at=s.now()))
    s.append_events(events)
    return stored


def _json(customer: Customer, name: str) -> JSONValue:
    value: JSONValue = converter.unstructure(customer)[name]
    return value
