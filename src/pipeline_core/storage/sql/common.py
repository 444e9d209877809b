"""What the SQL backends share: the customers table's columns and the side tables' rows."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.domain.serialization import dumps, typed_field_value
from pipeline_core.errors import StoreError
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import Dialect, SqlValue, compile_sql
from pipeline_core.storage.protocol import SCHEMA_VERSION

READ_COLUMNS = (
    "id", "name", "status", "folder", "source", "team", "country", "whatsapp", "parent_id",
    "value", "currency", "outcome", "order_id", "lead_notes", "created_at", "updated_at",
    "converted_at", "last_contacted_at", "next_follow_up", "version", "emails", "phones",
    "tags", "workers", "fields", "closed_at", "lost_reason",
)  # fmt: skip
"""Columns read back into a Customer, in the order the backends select them."""

SELECT_COLUMNS = ", ".join(f"c.{name}" for name in READ_COLUMNS)
"""``READ_COLUMNS`` of the customers table aliased ``c``, for a SELECT."""

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
    return [(customer_id, *values) for values in field_values(fields)]


def field_values(fields: Mapping[str, FieldValue]) -> tuple[tuple[Any, ...], ...]:
    """``field_rows`` without the customer's id: (key, kind, text_value, num_value) each."""
    rows = []
    for key, value in fields.items():
        kind, raw = typed_field_value(value)
        number = float(raw) if kind in ("int", "float", "decimal", "bool") else None
        text = dumps(raw) if kind == "list" else (None if number is not None else str(raw))
        if isinstance(value, datetime):
            # Rules compare timestamps by UTC day, and the index compares text: store UTC.
            text = value.astimezone(UTC).isoformat(timespec="microseconds")
        rows.append((key, kind, text, number))
    return tuple(rows)


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


# rows written as text -------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a batch stamps many rows with one moment
def iso_moment(moment: datetime | None) -> str | None:
    """A moment as stored text: UTC, ISO 8601 with microseconds."""
    # Always UTC with microseconds, so text order is time order.
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


_JSON_ESCAPED = re.compile(r'[\x00-\x1f"\\]')  # what compact JSON text escapes (not ASCII)


def texts_json(values: tuple[str, ...]) -> str:
    """A list of texts as compact JSON (what ``dumps`` gives), the common case without the encoder."""
    if not values:
        return "[]"
    # One scan of all the values at once (the pattern matches single characters).
    if _JSON_ESCAPED.search("".join(values)):
        return dumps(list(values))
    return '["' + '","'.join(values) + '"]'


def _fields_out(fields: Any) -> str:
    return dumps(typed_fields(fields)) if fields else "{}"


def _day_out(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _decimal_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


_ENCODERS: dict[str, Any] = {
    **dict.fromkeys(("emails", "phones", "tags", "workers"), texts_json),
    **dict.fromkeys(MOMENT_ATTRIBUTES, iso_moment),
    "fields": _fields_out,
    "next_follow_up": _day_out,
    "value": _decimal_out,
}
_ROW_ENCODERS = [
    (index, _ENCODERS[name]) for index, name in enumerate(STORED_ATTRIBUTES) if name in _ENCODERS
]
"""(position, encoder) of the attributes not stored as they are (the rest are copied)."""
_STORED_VALUES = operator.attrgetter(*STORED_ATTRIBUTES)
TEXT_ROW_COLUMNS = ", ".join(["id", *STORED_ATTRIBUTES, "value_num"])
"""The columns of ``text_row``."""


def encode_attributes(customer: Customer, names: Iterable[str]) -> list[tuple[str, Any]]:
    """(column, text value) pairs for the given attributes (``value`` also gives ``value_num``)."""
    pairs: list[tuple[str, Any]] = []
    for name in names:
        value = getattr(customer, name)
        pairs.append((name, _ENCODERS.get(name, _same)(value)))
        if name == "value":
            pairs.append(("value_num", None if value is None else float(value)))
    return pairs


def text_row(customer_id: int, customer: Customer) -> list[Any]:
    """A whole customers row for a bulk insert, in ``TEXT_ROW_COLUMNS`` order.

    Values are text (JSON for lists and custom fields, ISO for dates and moments),
    numbers or None: what SQLite stores and what PostgreSQL's COPY text reads.
    """
    return [customer_id, *customer_values(customer)]


def customer_values(customer: Customer) -> tuple[Any, ...]:
    """``text_row`` but the id: what an import's drafting workers hand the writer.

    A plain function of the module (it pickles by name, for worker processes).
    """
    # One C-level read of every attribute, then only the encoded ones touched: most
    # are text or None, stored as they are (a third of the per-row cost otherwise).
    values = [*_STORED_VALUES(customer), None]
    for index, encode in _ROW_ENCODERS:
        values[index] = encode(values[index])
    if customer.value is not None:
        values[-1] = float(customer.value)
    return tuple(values)


def customer_rows(customer: Customer) -> tuple[Any, ...]:
    """The SQL stores' ``row_encoder``: (``customer_values``, tags, ``field_values``).

    Everything a new customer's tables get but the id, so that the writer of a bulk
    import only numbers the rows. A plain function of the module (it pickles by name).
    """
    fields = customer.fields
    return (customer_values(customer), customer.tags, field_values(fields) if fields else ())


# opening ---------------------------------------------------------------------------

META_TABLE = "pipeline_meta"
"""The table that marks a database as a store and holds its schema version."""


FOLDING_KEY = "search_folding"
"""The ``META_TABLE`` key holding the ``domain.folding.FOLDING`` the stored search terms were made with."""


def no_workspace(name: str) -> StoreError:
    """The error for a store that is not there (or is empty) when the caller would not create one."""
    return StoreError(f"no workspace at {name}; run 'pipeline init' to create one")


def stored_schema_version(
    name: str,
    kind: str,
    tables: Collection[str],
    fetch_one: Callable[[str], Sequence[Any] | None],
) -> int:
    """The schema version of the database ``name`` (0 when it is empty), before anything changes.

    ``kind`` says what it is in messages ("a SQLite database"); ``fetch_one`` runs a
    query. A database of other tables, or a schema newer than this pipeline_core
    understands, is refused with ``StoreError``.
    """
    if tables and META_TABLE not in tables:
        raise StoreError(
            f"{name} is {kind} but not a pipeline_core store "
            f"(it has tables {', '.join(sorted(tables)[:5])}); refusing to change it"
        )
    if not tables:
        return 0
    row = fetch_one(f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{name} has schema version {version}, newer than this pipeline_core "
            f"understands ({SCHEMA_VERSION}); upgrade pipeline_core to open it"
        )
    return version


STATUS_ATTRIBUTES = (
    "status",
    "updated_at",
    "converted_at",
    "outcome",
    "closed_at",
    "lost_reason",
)
"""The attributes a move may change (``domain.outcomes.status_changes``), ``update_status``'s."""


@functools.lru_cache(maxsize=128)
def status_update_sql(placeholder: str, columns: tuple[str, ...] = STATUS_ATTRIBUTES) -> str:
    """The checked ``UPDATE`` of ``update_status``: ``columns``, then id and version."""
    assignments = "".join(f"{column} = {placeholder}, " for column in columns)
    return (
        f"UPDATE customers SET {assignments}version = version + 1"
        f" WHERE id = {placeholder} AND version = {placeholder} AND merged_into IS NULL"
    )


# None for the columns stored as they are: no call for them.
_STATUS_ENCODER_OF = {name: _ENCODERS.get(name) for name in STATUS_ATTRIBUTES}


def status_update(
    customer: Customer, changes: Mapping[str, Any], placeholder: str
) -> tuple[str, list[Any]]:
    """``update_status``'s statement and parameters: ``changes`` made to ``customer``.

    ``customer`` is the stored customer at its version, so only the changes that differ
    from it are written (a move leaves most status columns as they were, and every
    column written costs the indexes that hold it). A name outside
    ``STATUS_ATTRIBUTES`` is a caller's bug: ``KeyError``.
    """
    columns: list[str] = []
    params: list[Any] = []
    for name, value in changes.items():
        encode = _STATUS_ENCODER_OF[name]
        if value != getattr(customer, name):
            columns.append(name)
            params.append(value if encode is None else encode(value))
    params.append(customer.id)
    params.append(customer.version)
    return status_update_sql(placeholder, tuple(columns)), params
