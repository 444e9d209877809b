"""Board pages and counts of live customers, shared by the SQL backends."""

from __future__ import annotations

from pipeline_core.customer import Customer
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import SqlValue
from pipeline_core.storage.protocol import Order
from pipeline_core.storage.sql.base import SqlBackend
from pipeline_core.storage.sql.common import (
    COUNT_BY_STATUS_SQL,
    COUNT_SQL,
    SELECT_COLUMNS,
    customers_query,
    live_where,
)


class ListQueries(SqlBackend):
    """The SQL of rule-filtered customer lists: pages in id or activity order, and counts."""

    def _where(self, rule: Rule, hidden_from: str | None) -> tuple[str, list[SqlValue]]:
        return live_where(rule, self._dialect, hidden_from)

    def find_customers(
        self,
        rule: Rule,
        *,
        hidden_from: str | None = None,
        order: Order = "id",
        limit: int | None = None,
        offset: int = 0,
        after_id: int = 0,
    ) -> list[Customer]:
        where, params = self._where(rule, hidden_from)
        sql, values = customers_query(
            SELECT_COLUMNS,
            where,
            params,
            self._dialect,
            order=order,
            limit=limit,
            offset=offset,
            after_id=after_id,
        )
        return [self._customer_from_row(row) for row in self._db.execute(sql, values)]

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        where, params = self._where(rule, hidden_from)
        count: int = self._db.execute(COUNT_SQL.format(where=where), params).fetchone()[0]
        return count

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        where, params = self._where(rule, hidden_from)
        rows = self._db.execute(COUNT_BY_STATUS_SQL.format(where=where), params)
        return {status: count for status, count in rows}
