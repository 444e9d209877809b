"""Report queries for the SQL backends: GROUP BY and the stage-time median, inside the database.

The rule arrives already compiled to a WHERE condition; only the few
dialect differences (placeholders, month and JSON syntax, the median) are
spelled out here, so SQLite and PostgreSQL run the same query shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from pipeline_core.domain.report_keys import (
    AggregateRow,
    GroupKey,
    StageTime,
    field_label,
    merge_rows,
)
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import SqlValue
from pipeline_core.storage.sql.base import SqlBackend
from pipeline_core.storage.sql.common import live_where

SQLITE_MONTH = "substr(c.created_at, 1, 7)"  # stored as UTC ISO text
POSTGRES_MONTH = "to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM')"


def aggregate_query(
    keys: Sequence[GroupKey], where: str, mark: str, month: str, value_sum: str
) -> tuple[str, list[Any]]:
    """The GROUP BY statement and the parameters that come before the WHERE's own.

    Tags and custom fields join their side tables (LEFT JOIN: customers without
    one form the None group); a custom field selects its kind, text and number,
    which ``aggregate_rows`` turns into the field's label.
    """
    selects: list[str] = []
    joins: list[str] = []
    params: list[Any] = []
    for index, key in enumerate(keys):
        if key.kind == "tag":
            joins.append(f"LEFT JOIN customer_tags t{index} ON t{index}.customer_id = c.id")
            selects.append(f"t{index}.tag")
        elif key.kind == "field":
            alias = f"f{index}"
            joins.append(
                f"LEFT JOIN customer_fields {alias} ON {alias}.customer_id = c.id"
                f" AND {alias}.key = {mark}"
            )
            params.append(key.field)
            selects.extend(f"{alias}.{column}" for column in ("kind", "text_value", "num_value"))
        elif key.kind == "created_month":
            selects.append(month)
        else:
            selects.append(f"c.{key.kind}")  # one of COLUMN_KEYS: a fixed name, never user text
    grouped = ", ".join(selects)
    head = f"SELECT {grouped}, " if selects else "SELECT "
    sql = (
        f"{head}COUNT(*), COUNT(c.value_num), SUM({value_sum}) FROM customers c"
        f" {' '.join(joins)} WHERE {where}"
    )
    if selects:
        sql += f" GROUP BY {grouped}"
    return sql, params


def aggregate_rows(
    keys: Sequence[GroupKey], rows: Iterable[Sequence[Any]], to_decimal: Callable[[Any], Decimal]
) -> list[AggregateRow]:
    """Decode the statement's rows; custom fields' kind/text/number become one label each."""
    decoded = []
    for row in rows:
        values: list[str | None] = []
        at = 0
        for key in keys:
            if key.kind == "field":
                kind, text, number = row[at : at + 3]
                values.append(None if kind is None else field_label(kind, text, number))
                at += 3
            else:
                values.append(row[at])
                at += 1
        count, valued, total = row[at : at + 3]
        if count:
            decoded.append(AggregateRow(tuple(values), count, valued, to_decimal(total)))
    # Different stored numbers (3 and 3.0) can share a label: merge them.
    return merge_rows(decoded)


def sqlite_decimal(total: float | None) -> Decimal:
    """SQLite sums ``value_num`` in double precision; None (no values) is zero."""
    return Decimal(0) if total is None else Decimal(repr(total))


def postgres_decimal(total: Decimal | None) -> Decimal:
    """PostgreSQL sums the NUMERIC ``value`` exactly."""
    return Decimal(0) if total is None else total


_MARKS = """marks AS (
    SELECT e.customer_id AS cid, e.id AS eid, e.at AS at,
           CASE e.kind WHEN 'created' THEN {status} ELSE {to} END AS status
    FROM customers c JOIN events e ON e.customer_id = c.id
    WHERE e.kind IN ('created', 'status_changed') AND ({where})
)"""

SQLITE_STAGE_TIMES = (
    "WITH "
    + _MARKS.replace("{status}", "json_extract(e.data, '$.status')").replace(
        "{to}", "json_extract(e.data, '$.to')"
    )
    + """, stays AS (
    SELECT status, (julianday(COALESCE(LEAD(at) OVER (PARTITION BY cid ORDER BY eid), ?))
                    - julianday(at)) * 86400.0 AS seconds
    FROM marks
), ranked AS (
    SELECT status, seconds,
           ROW_NUMBER() OVER (PARTITION BY status ORDER BY seconds) AS n,
           COUNT(*) OVER (PARTITION BY status) AS total
    FROM stays
)
SELECT status, total, AVG(seconds) FROM ranked
WHERE n IN ((total + 1) / 2, (total + 2) / 2)
GROUP BY status, total"""
)
"""Median stay per status on SQLite (no median aggregate: the middle one or two by rank).

Format with ``where``; parameters: the WHERE's, then now as UTC ISO text.
"""

POSTGRES_STAGE_TIMES = (
    "WITH "
    + _MARKS.replace("{status}", "e.data->>'status'").replace("{to}", "e.data->>'to'")
    + """, stays AS (
    SELECT status,
           EXTRACT(EPOCH FROM COALESCE(LEAD(at) OVER (PARTITION BY cid ORDER BY eid), %s) - at)
               ::float8 AS seconds
    FROM marks
)
SELECT status, COUNT(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)
FROM stays GROUP BY status"""
)
"""Median stay per status on PostgreSQL; format with ``where``; parameters: the WHERE's, now."""


class ReportQueries(SqlBackend):
    """Reports run in the database; a backend names its month, sum column and median query."""

    MONTH: ClassVar[str]
    """The SQL of a customer's creation month (``YYYY-MM``)."""
    SUMMED: ClassVar[str]
    """The column whose total a report gives (SQLite sums doubles, PostgreSQL NUMERIC)."""
    STAGE_TIMES: ClassVar[str]
    """The stage-time median query; format with ``where``."""

    def _total(self, total: Any) -> Decimal:
        """A report's summed value as a Decimal."""
        raise NotImplementedError

    def _report_where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, self._dialect, hidden_from, hidden_set=True)

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        where, params = self._report_where(rule, hidden_from)
        mark = self._dialect.placeholder
        sql, join_params = aggregate_query(keys, where, mark, self.MONTH, self.SUMMED)
        rows = self._db.execute(sql, [*join_params, *params])
        return aggregate_rows(keys, rows, self._total)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        where, params = self._report_where(rule, hidden_from)
        sql = self.STAGE_TIMES.replace("{where}", where)
        rows = self._db.execute(sql, [*params, self._moment_out(now)])
        return {status: StageTime(stays, float(seconds)) for status, stays, seconds in rows}
