"""Users, teams and the search index, shared by the SQL backends.

Scoped reads (``SqlBackend._scoped``) compile the actor's scope rule
(``access.scope_rule``) with the backend's dialect and add it to the query's
WHERE clause, so the database returns only what the actor may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pipeline_core.customer import Customer
from pipeline_core.domain.access import User
from pipeline_core.domain.search import SearchQuery, search_document
from pipeline_core.errors import NotFound
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import compile_sql
from pipeline_core.storage.sql.base import SqlBackend
from pipeline_core.storage.sql.common import LIVE_CLAUSE, SELECT_COLUMNS

_BACKFILL_BATCH = 10_000
"""Customers whose documents one bulk insert writes when a store is re-indexed."""

SEARCH_ATTRIBUTES = frozenset({"name", "emails", "phones", "whatsapp", "tags"})
"""Customer attributes whose change rewrites the customer's row of the search index."""


class AccessQueries(SqlBackend):
    """The SQL of users, teams and search; a backend supplies the hooks of ``SqlBackend``."""

    # users and teams --------------------------------------------------------------

    def get_user(self, name: str) -> User:
        row = self._rows("SELECT role FROM users WHERE name = ?", (name,))
        if not row:
            raise NotFound(f"no user called {name!r}")
        teams = self._rows("SELECT team FROM team_members WHERE user_name = ?", (name,))
        return User(name, row[0][0], tuple(team for (team,) in teams))

    def list_users(self) -> list[User]:
        teams: dict[str, list[str]] = {}
        for user, team in self._rows("SELECT user_name, team FROM team_members"):
            teams.setdefault(user, []).append(team)
        rows = self._rows("SELECT name, role FROM users ORDER BY name")
        return [User(name, role, tuple(teams.get(name, ()))) for name, role in rows]

    def put_user(self, user: User) -> None:
        known = set(self.list_teams())
        missing = sorted(set(user.teams) - known)
        if missing:
            raise NotFound(f"no team called {missing[0]!r}")
        self._rows(
            "INSERT INTO users (name, role) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET role = excluded.role RETURNING name",
            (user.name, user.role),
        )
        self._db.execute(self._sql("DELETE FROM team_members WHERE user_name = ?"), [user.name])
        self._executemany(
            self._sql("INSERT INTO team_members (team, user_name) VALUES (?, ?)"),
            [(team, user.name) for team in user.teams],
        )

    def list_teams(self) -> list[str]:
        return [name for (name,) in self._rows("SELECT name FROM teams ORDER BY name")]

    def add_team(self, name: str) -> bool:
        inserted = self._rows(
            "INSERT INTO teams (name) VALUES (?) ON CONFLICT (name) DO NOTHING RETURNING name",
            (name,),
        )
        return bool(inserted)

    # search -----------------------------------------------------------------------

    SEARCH_INSERT: ClassVar[str]
    """INSERT of one row of ``search_index``: (customer id, the four document columns)."""
    SEARCH_KEY: ClassVar[str]
    """The column of ``search_index`` holding the customer id."""

    def _write_terms(self, customer: Customer, *, replace: bool) -> None:
        if replace:
            self._db.execute(
                self._sql(f"DELETE FROM search_index WHERE {self.SEARCH_KEY} = ?"), [customer.id]
            )
        self._db.execute(self._sql(self.SEARCH_INSERT), [customer.id, *search_document(customer)])

    def _write_documents(self, rows: Sequence[tuple[int, str, str, str, str]]) -> None:
        """Add rows (customer id, document) to ``search_index`` in bulk."""
        self._executemany(self._sql(self.SEARCH_INSERT), rows)

    def reindex_search(self) -> None:
        """Index every stored customer anew, in bulk (a migration, another folding, a copy)."""
        self._db.execute("DELETE FROM search_index")
        last = 0
        while True:
            rows = self._db.execute(
                self._sql(
                    f"SELECT {SELECT_COLUMNS} FROM customers c WHERE c.id > ?"
                    f" ORDER BY c.id LIMIT {_BACKFILL_BATCH}"
                ),
                [last],
            ).fetchall()
            if not rows:
                return
            customers = [self._customer_from_row(row) for row in rows]
            self._write_documents([(c.id, *search_document(c)) for c in customers])
            last = customers[-1].id

    def _search_matches(self, query: SearchQuery) -> tuple[str, list[Any]]:
        """A query of (customer_id, score) for the customers matching every part of ``query``."""
        raise NotImplementedError

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        # The engine's text index finds the customers matching every part and scores
        # them; the rule, the scope and the merged filter apply to what it found.
        matched, params = self._search_matches(query)
        compiled = compile_sql(rule, self._dialect)
        sql = (
            f"SELECT {SELECT_COLUMNS} FROM ({matched}) s"
            f" JOIN customers c ON c.id = s.customer_id WHERE {LIVE_CLAUSE.format(rule=compiled.sql)}"
            f" ORDER BY s.score DESC, c.id LIMIT {self._dialect.placeholder}"
        )
        values = [*params, *compiled.params, limit]
        return [self._customer_from_row(row) for row in self._db.execute(sql, values).fetchall()]
