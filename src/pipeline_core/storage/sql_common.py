"""What the SQL backends share: the customers table's columns and the side tables' rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline_core.customer import FieldValue
from pipeline_core.serialization import dumps, typed_field_value

READ_COLUMNS = (
    "id", "name", "status", "folder", "source", "team", "country", "whatsapp", "parent_id",
    "value", "currency", "outcome", "order_id", "lead_notes", "created_at", "updated_at",
    "converted_at", "last_contacted_at", "next_follow_up", "version", "emails", "phones",
    "tags", "workers", "fields", "closed_at", "lost_reason",
)  # fmt: skip
"""Columns read back into a Customer, in the order the backends select them."""

STORED_ATTRIBUTES = tuple(name for name in READ_COLUMNS if name not in ("id", "version"))
"""Customer attributes a backend writes; ``value`` also fills ``value_num``."""

MOMENT_ATTRIBUTES = frozenset(
    {"created_at", "updated_at", "converted_at", "last_contacted_at", "closed_at"}
)
"""Customer attributes that are timezone-aware datetimes."""

CONTACT_ATTRIBUTES = frozenset({"emails", "phones", "whatsapp", "country"})
"""Customer attributes that contact keys are computed from: changing one re-indexes the keys."""

LIVE_CLAUSE = "c.merged_into IS NULL AND ({rule})"
"""A compiled rule restricted to live customers: tombstones of merges leave every list."""

HIDDEN_CLAUSE = (
    " AND NOT EXISTS (SELECT 1 FROM flow_hides h JOIN flows f ON f.id = h.flow_id"
    " WHERE f.name = {mark} AND h.customer_id = c.id)"
)
"""Appended to a WHERE clause to leave out customers hidden from one flow's board."""


def typed_fields(fields: Mapping[str, FieldValue]) -> dict[str, list[Any]]:
    """Custom fields as ``{key: [kind, json]}``, the form the customers row keeps."""
    return {key: typed_field_value(value) for key, value in fields.items()}


def field_rows(customer_id: int, fields: Mapping[str, FieldValue]) -> list[tuple[Any, ...]]:
    """Rows of ``customer_fields``: numbers in ``num_value``, everything else as text."""
    rows = []
    for key, value in fields.items():
        kind, raw = typed_field_value(value)
        number = float(raw) if kind in ("int", "float", "decimal", "bool") else None
        text = dumps(raw) if kind == "list" else (None if number is not None else str(raw))
        if isinstance(value, datetime):
            # Rules compare timestamps by UTC day, and the index compares text: store UTC.
            text = value.astimezone(UTC).isoformat(timespec="microseconds")
        rows.append((customer_id, key, kind, text, number))
    return rows
