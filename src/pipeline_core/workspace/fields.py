"""Use cases of typed custom fields: define, list, change options, remove."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from pipeline_core.domain.custom_fields import FieldDefinition, renamed_value
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.serialization import plain_field_value
from pipeline_core.errors import InvalidValue, NotFound, StaleDefinition
from pipeline_core.workspace.definitions import field_definitions, put_field_definitions
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session


@attrs.frozen
class OptionRenamed:
    """The outcome of a select-option rename: the new definition and how many customers changed."""

    definition: FieldDefinition
    changed: int


def add(s: Session, definition: FieldDefinition) -> FieldDefinition:
    """Add a custom field definition; its key must be new.

    Once any field is defined, customers' fields are validated and typed against
    the definitions, and unknown keys are refused.
    """
    require_admin(s, "define custom fields")
    fields = field_definitions(s)
    if definition.key in fields:
        raise InvalidValue(f"a custom field {definition.key!r} is already defined")
    stored = attrs.evolve(definition, version=1)
    fields[stored.key] = stored
    put_field_definitions(s, fields)
    return stored


def list_fields(s: Session) -> list[FieldDefinition]:
    """Every custom field definition, by key."""
    return [d for _, d in sorted(field_definitions(s).items())]


def get(s: Session, key: str) -> FieldDefinition:
    """The definition of custom field ``key``."""
    fields = field_definitions(s)
    if key not in fields:
        known = ", ".join(sorted(fields)) or "none"
        raise NotFound(f"no custom field {key!r}; defined fields: {known}")
    return fields[key]


def remove(s: Session, key: str) -> None:
    """Delete a custom field definition; refused while customers hold a value for it."""
    require_admin(s, "remove custom fields")
    fields = field_definitions(s)
    get(s, key)
    holders = s.customers_with_field(key)
    if holders:
        raise InvalidValue(f"{len(holders)} customer(s) hold a value for {key!r}; clear them first")
    del fields[key]
    put_field_definitions(s, fields)


def _fresh(s: Session, key: str, expected_version: int | None) -> FieldDefinition:
    found = get(s, key)
    if expected_version is not None and expected_version != found.version:
        raise StaleDefinition(f"custom field {key!r}", expected_version, found.version)
    return found


def add_options(
    s: Session, key: str, options: Iterable[str], *, expected_version: int | None = None
) -> FieldDefinition:
    """Add options to a select field."""
    require_admin(s, "change custom fields")
    before = _fresh(s, key, expected_version)
    if before.type not in ("select", "multi_select"):
        raise InvalidValue(f"field {key!r} is {before.type}, not a select")
    updated = attrs.evolve(before, options=(*before.options, *options), version=before.version + 1)
    fields = field_definitions(s)
    fields[key] = updated
    put_field_definitions(s, fields)
    return updated


def rename_option(
    s: Session, key: str, old: str, new: str, *, expected_version: int | None = None
) -> OptionRenamed:
    """Rename a select option and every customer's value with it, in one transaction.

    Refused if ``new`` is an option already, and with ``StaleDefinition`` (a
    ``ConcurrencyError``) if the definition is no longer at ``expected_version``.
    """
    require_admin(s, "change custom fields")
    before = _fresh(s, key, expected_version)
    updated = before.rename_option(old, new)
    fields = field_definitions(s)
    fields[key] = updated
    put_field_definitions(s, fields)
    changed = 0
    now = s.now()
    for customer in s.customers_with_field(key):
        value = renamed_value(customer.fields[key], old, updated.options[before.options.index(old)])
        if value is None:
            continue
        previous = plain_field_value(customer.fields[key])
        new_fields = {**customer.fields, key: value}
        s.update_customer(attrs.evolve(customer, fields=new_fields, updated_at=now))
        s.append_events(
            [
                s.event(
                    customer.id,
                    EventKind.EDITED,
                    field=f"fields.{key}",
                    before=previous,
                    after=plain_field_value(value),
                )
            ]
        )
        changed += 1
    return OptionRenamed(updated, changed)
