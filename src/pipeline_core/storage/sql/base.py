"""What a SQL backend hands the shared query mixins: its connection, dialect and adapters.

The mixins (``sql_setup``, ``sql_life``, ``sql_customers``, ``sql_lists``,
``sql_reports``, ``sql_access``) write their SQL once, with ``?`` marks, and
pass every value through the hooks below; each backend says how its dialect
spells a placeholder, writes and reads a moment, a day or a JSON value, and
the few clauses that differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from pipeline_core.customer import Customer
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions
from pipeline_core.rules.ast import MATCH_ALL, MatchAll, Rule
from pipeline_core.rules.sql import Dialect, SqlValue, compile_sql
from pipeline_core.storage.sql.common import LIVE_CLAUSE, SELECT_COLUMNS


class SqlBackend:
    """The hooks and helpers every shared query mixin builds on; a backend fills in the hooks."""

    _db: Any
    _dialect: Dialect

    TRUE: ClassVar[str] = "TRUE"
    """A WHERE condition that always holds (SQLite spells it ``1``)."""

    # hooks a backend provides ------------------------------------------------------

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        raise NotImplementedError

    def _customer_from_row(self, row: Sequence[Any]) -> Customer:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _insert_id(self, text: str, params: Sequence[Any]) -> int:
        """Run an INSERT (``?`` marks) into a table with an ``id`` key; the new row's id."""
        raise NotImplementedError

    def _write_keys(self, customer_id: int, keys: Sequence[ContactKey]) -> None:
        """Index a customer's contact keys."""
        raise NotImplementedError

    def _insert_keys(self, rows: list[tuple[str, str, int]]) -> None:
        """Add contact-key rows (kind, key, customer id), skipping ones held; empties ``rows``."""
        raise NotImplementedError

    # provided by the shared mixins ------------------------------------------------

    def _normalize_options(self) -> NormalizeOptions:
        raise NotImplementedError

    def _write_terms(self, customer: Customer, *, replace: bool) -> None:
        """Write the customer's row of the search index (replacing the one it had)."""
        raise NotImplementedError

    # value adapters ----------------------------------------------------------------

    def _moment_out(self, moment: datetime | None) -> Any:
        """A moment as the backend binds it."""
        raise NotImplementedError

    def _moment_in(self, stored: Any) -> datetime:
        """A stored moment (never NULL) as a datetime."""
        raise NotImplementedError

    def _day_out(self, day: date | None) -> Any:
        """A day as the backend binds it."""
        raise NotImplementedError

    def _json_out(self, value: Any) -> Any:
        """A JSON value as the backend binds it."""
        raise NotImplementedError

    def _json_in(self, stored: Any) -> Any:
        """A stored JSON value (never NULL) as Python data."""
        raise NotImplementedError

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        """``load()``, or what the backend keeps of it between calls (nothing, by default)."""
        return load()

    def _forget(self, key: tuple[str, str]) -> None:
        """Drop what ``_cached`` keeps under ``key`` (a write changed it)."""

    # helpers -----------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        """``text`` written with ``?`` marks, in the backend's placeholder."""
        return text.replace("?", self._dialect.placeholder)

    def _rows(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = self._db.execute(self._sql(text), list(params)).fetchall()
        return rows

    def _one(self, text: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query (``?`` marks), or None."""
        return self._db.execute(self._sql(text), params).fetchone()

    def _scalar(self, text: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self._one(text, params)
        return None if row is None else row[0]

    def _equal(self, **equal_to: Any) -> tuple[str, list[Any]]:
        """``column = ? AND ...`` for the arguments that are not None (``TRUE`` if none are)."""
        given = {column: value for column, value in equal_to.items() if value is not None}
        sql = " AND ".join(f"{column} = ?" for column in given) or self.TRUE
        return sql, list(given.values())

    def _scoped(self, where: str, params: Sequence[Any], scope: Rule) -> tuple[str, list[Any]]:
        """``where`` (``?`` marks) and the compiled scope, in the backend's placeholder."""
        where = self._sql(where)
        if isinstance(scope, MatchAll):
            return where, list(params)
        compiled = compile_sql(scope, self._dialect)
        return f"{where} AND {compiled.sql}", [*params, *compiled.params]

    def _scoped_customers(
        self, where: str, params: Sequence[Any], scope: Rule, order: str = "c.id"
    ) -> list[Customer]:
        condition, values = self._scoped(where, params, scope)
        live = LIVE_CLAUSE.format(rule=condition)
        sql = f"SELECT {SELECT_COLUMNS} FROM customers c WHERE {live} ORDER BY {order}"
        return [self._customer_from_row(row) for row in self._db.execute(sql, values).fetchall()]

    def _customer_ids_in(
        self, scope: Rule, column: str = "customer_id"
    ) -> tuple[str, list[SqlValue]]:
        """`` AND column IN (customers in scope)`` for side tables; empty for everything."""
        if isinstance(scope, MatchAll):
            return "", []
        compiled = compile_sql(scope, self._dialect)
        sql = f" AND {column} IN (SELECT c.id FROM customers c WHERE {compiled.sql})"
        return sql, list(compiled.params)
