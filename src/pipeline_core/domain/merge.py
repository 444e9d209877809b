"""Combining customer records: the pure part of a merge (what the merged record looks like).

The primary's values win; an empty one is filled from the others in the order
given. Emails, phones, WhatsApp, tags and workers are unions, de-duplicated by
normalized key (a phone by its number and extension, so that two extensions of
one number are both kept), the primary's first. Custom fields merge key by key like
scalars. Status, outcome and converted_at belong to the status machine and stay
the primary's. Moving what is attached to the others (events, sub-customers,
flow hides) is the workspace's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.normalize import (
    ContactKey,
    NormalizeOptions,
    email_key,
    international,
    phone_with_extension,
)

FILLED_SCALARS = (
    "name",
    "country",
    "folder",
    "source",
    "team",
    "parent_id",
    "order_id",
    "lead_notes",
    "next_follow_up",
    "last_contacted_at",
)
"""Single-valued fields an empty primary takes from the others (value and currency go as a pair)."""


@attrs.frozen
class Contribution:
    """What one merged record added to the primary."""

    customer_id: int
    filled: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    whatsapp: str | None = None
    tags: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@attrs.frozen
class Combined:
    """The merged primary and what each other record contributed, in the order given."""

    customer: Customer
    contributions: tuple[Contribution, ...]


def _empty(value: object) -> bool:
    return value is None or value == "" or value == ()


def combine(
    primary: Customer,
    others: Sequence[Customer],
    options: NormalizeOptions,
    *,
    parent_allowed: Callable[[int], bool] = lambda _: True,
) -> Combined:
    """The record ``primary`` becomes when ``others`` merge into it.

    ``parent_allowed`` says whether a parent id may be taken (the workspace
    refuses the merged records themselves and anything that would make a cycle).
    """
    filled: dict[int, list[str]] = {other.id: [] for other in others}
    changes: dict[str, Any] = {}
    for name in FILLED_SCALARS:
        current = getattr(primary, name)
        if name == "parent_id" and current is not None and not parent_allowed(current):
            current = None
            changes[name] = None
        if not _empty(current):
            continue
        for other in others:
            value = getattr(other, name)
            if _empty(value) or (name == "parent_id" and not parent_allowed(value)):
                continue
            changes[name] = value
            filled[other.id].append(name)
            break
    if primary.value is None:
        for other in others:
            if other.value is not None:
                changes.update(value=other.value, currency=other.currency)
                filled[other.id].extend(["value", "currency"] if other.currency else ["value"])
                break
    fields: dict[str, FieldValue] = dict(primary.fields)
    added_fields: dict[int, list[str]] = {other.id: [] for other in others}
    for other in others:
        for key, value in other.fields.items():
            if key not in fields:
                fields[key] = value
                added_fields[other.id].append(key)
    changes["fields"] = fields
    draft = attrs.evolve(primary, **changes)
    region = draft.country or options.default_region
    contacts = _Contacts(options, region)
    contacts.add_all(primary)
    added: dict[int, _Added] = {}
    for other in others:
        added[other.id] = contacts.add_all(other)
    tags = list(primary.tags)
    workers = list(primary.workers)
    new_tags: dict[int, list[str]] = {}
    new_workers: dict[int, list[str]] = {}
    for other in others:
        new_tags[other.id] = [tag for tag in other.tags if tag not in tags]
        tags.extend(new_tags[other.id])
        new_workers[other.id] = [w for w in other.workers if w not in workers]
        workers.extend(new_workers[other.id])
    merged = attrs.evolve(
        draft,
        emails=contacts.emails,
        phones=contacts.phones,
        whatsapp=contacts.whatsapp,
        tags=tags,
        workers=workers,
    )
    contributions = tuple(
        Contribution(
            customer_id=other.id,
            filled=tuple(filled[other.id]),
            emails=tuple(added[other.id].emails),
            phones=tuple(added[other.id].phones),
            whatsapp=added[other.id].whatsapp,
            tags=tuple(new_tags[other.id]),
            workers=tuple(new_workers[other.id]),
            fields=tuple(added_fields[other.id]),
        )
        for other in others
    )
    return Combined(customer=merged, contributions=contributions)


@attrs.define
class _Added:
    emails: list[str] = attrs.Factory(list)
    phones: list[str] = attrs.Factory(list)
    whatsapp: str | None = None


@attrs.define
class _Contacts:
    """The union of contacts being built, keyed by normalized key (typed text if invalid)."""

    options: NormalizeOptions
    region: str | None
    emails: list[str] = attrs.Factory(list)
    phones: list[str] = attrs.Factory(list)
    whatsapp: str | None = None
    seen: set[ContactKey] = attrs.Factory(set)

    def add_all(self, customer: Customer) -> _Added:
        added = _Added()
        source = customer.country or self.options.default_region
        for email in customer.emails:
            key = email_key(email, fold_gmail=self.options.fold_gmail)
            if key is not None and key not in self.seen:
                self.seen.add(key)
                self.emails.append(email)
                added.emails.append(email)
        for phone in customer.phones:
            text = self._phone(phone, source, whatsapp=False)
            if text is not None:
                self.phones.append(text)
                added.phones.append(text)
        if customer.whatsapp:
            key = phone_with_extension(customer.whatsapp, source, whatsapp=True)
            if self.whatsapp is None:
                self.whatsapp = added.whatsapp = self._spelled(customer.whatsapp, key, True)
                self.seen.add(key)
            elif key not in self.seen:
                # Only one WhatsApp per customer: another number is kept as a phone.
                self.seen.add(key)
                text = self._spelled(customer.whatsapp, key, False)
                self.phones.append(text)
                added.phones.append(text)
        return added

    def _phone(self, typed: str, source: str | None, *, whatsapp: bool) -> str | None:
        """The text to keep for a number, or None if the union has it already."""
        key = phone_with_extension(typed, source, whatsapp=whatsapp)
        if key in self.seen:
            return None
        self.seen.add(key)
        return self._spelled(typed, key, whatsapp)

    def _spelled(self, typed: str, key: ContactKey, as_whatsapp: bool) -> str:
        """``typed``, unless the merged record would read it as another number."""
        if key.valid and phone_with_extension(typed, self.region, whatsapp=as_whatsapp) != key:
            # Read in the merged record's region it would be another number: spell it out.
            return international(key.key, None) or key.key
        return typed


def contribution_data(contribution: Contribution, name: str) -> dict[str, JSONValue]:
    """A contribution as plain data for the ``merged`` event (empty parts left out)."""
    data: dict[str, JSONValue] = {"id": contribution.customer_id, "name": name}
    for part in ("filled", "emails", "phones", "tags", "workers", "fields"):
        values: tuple[str, ...] = getattr(contribution, part)
        if values:
            data[part] = list(values)
    if contribution.whatsapp:
        data["whatsapp"] = contribution.whatsapp
    return data
