"""What the SQL backends share: the customers table's columns and the side tables' rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline_core.customer import FieldValue
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import Dialect, SqlValue, compile_sql
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


HIDDEN_SET_CLAUSE = (
    " AND c.id NOT IN (SELECT h.customer_id FROM flow_hides h JOIN flows f ON f.id = h.flow_id"
    " WHERE f.name = {mark})"
)
"""Leaves out customers hidden from one flow. Reports scan every member, so the hidden set
is read once (an uncorrelated subquery) instead of probed per customer as boards do."""


def live_where(
    rule: Rule, dialect: Dialect, hidden_from: str | None = None, *, hidden_set: bool = False
) -> tuple[str, list[SqlValue]]:
    """The WHERE clause (alias ``c``) of live customers satisfying ``rule``, and its params.

    Tombstones of merged customers are left out; so are customers hidden from the
    flow ``hidden_from`` (``hidden_set``: read that flow's hidden set once, which
    suits whole-table reports better than a probe per row).
    """
    compiled = compile_sql(rule, dialect)
    sql, params = LIVE_CLAUSE.format(rule=compiled.sql), list(compiled.params)
    if hidden_from is not None:
        clause = HIDDEN_SET_CLAUSE if hidden_set else HIDDEN_CLAUSE
        sql += clause.format(mark=dialect.placeholder)
        params.append(hidden_from)
    return sql, params


def customers_query(
    select: str,
    where: str,
    params: list[SqlValue],
    dialect: Dialect,
    *,
    order: str,
    limit: int | None,
    offset: int,
    after_id: int,
) -> tuple[str, list[Any]]:
    """A page of ``SELECT {select} FROM customers c WHERE {where}`` in the given order."""
    mark = dialect.placeholder
    values: list[Any] = list(params)
    if after_id:
        where += f" AND c.id > {mark}"
        values.append(after_id)
    ordering = "c.updated_at DESC, c.id DESC" if order == "activity" else "c.id"
    # SQLite spells "no limit" -1; PostgreSQL, NULL.
    unlimited = -1 if dialect.placeholder == "?" else None
    values.extend([unlimited if limit is None else limit, offset])
    sql = f"SELECT {select} FROM customers c WHERE {where} ORDER BY {ordering}"
    return f"{sql} LIMIT {mark} OFFSET {mark}", values


COUNT_SQL = "SELECT COUNT(*) FROM customers c WHERE {where}"
COUNT_BY_STATUS_SQL = "SELECT c.status, COUNT(*) FROM customers c WHERE {where} GROUP BY c.status"
