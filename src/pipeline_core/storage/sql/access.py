"""Users, teams and search terms, shared by the SQL backends.

Scoped reads (``SqlBackend._scoped``) compile the actor's scope rule
(``access.scope_rule``) with the backend's dialect and add it to the query's
WHERE clause, so the database returns only what the actor may see.
"""

from __future__ import annotations

from typing import Any

from pipeline_core.customer import Customer
from pipeline_core.domain.access import User
from pipeline_core.domain.search import PREFIX_END, SearchQuery, term_rows
from pipeline_core.errors import NotFound
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.sql import compile_sql
from pipeline_core.storage.sql.base import SqlBackend
from pipeline_core.storage.sql.common import LIVE_CLAUSE, SELECT_COLUMNS

_BACKFILL_BATCH = 10_000
"""Customers whose terms one bulk insert writes when a store is re-indexed."""

SEARCH_ATTRIBUTES = frozenset({"name", "emails", "phones", "whatsapp", "tags"})
"""Customer attributes whose change rewrites the customer's search terms."""


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

    def _write_terms(self, customer: Customer, *, replace: bool) -> None:
        if replace:
            self._db.execute(
                self._sql("DELETE FROM search_terms WHERE customer_id = ?"), [customer.id]
            )
        self._executemany(
            self._sql(
                "INSERT INTO search_terms (kind, term, customer_id, weight) VALUES (?, ?, ?, ?)"
            ),
            [(kind, text, customer.id, weight) for kind, text, weight in term_rows(customer)],
        )

    def _backfill_terms(self) -> None:
        """Index every stored customer anew (a store migrating past ``SEARCH_VERSION``)."""
        # One DELETE and bulk inserts, not a DELETE per customer: a migration
        # re-indexes every customer of the store at once.
        self._db.execute("DELETE FROM search_terms")
        rows = self._db.execute(f"SELECT {SELECT_COLUMNS} FROM customers c").fetchall()
        insert = self._sql(
            "INSERT INTO search_terms (kind, term, customer_id, weight) VALUES (?, ?, ?, ?)"
        )
        for start in range(0, len(rows), _BACKFILL_BATCH):
            terms = []
            for row in rows[start : start + _BACKFILL_BATCH]:
                customer = self._customer_from_row(row)
                terms += [
                    (kind, text, customer.id, weight) for kind, text, weight in term_rows(customer)
                ]
            self._executemany(insert, terms)

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        # Each part is a range seek on the (kind, term) primary key; a customer must
        # match every part, and scores the best weight per part (doubled when whole).
        parts: list[str] = []
        params: list[Any] = []
        for kind, prefix in query.parts:
            # A word matches names, tags and (unless hidden) emails: one seek per kind.
            kinds = query.kinds(kind)
            parts.append(
                "SELECT customer_id, MAX(weight * CASE WHEN term = ? THEN 2 ELSE 1 END) AS best"
                f" FROM search_terms WHERE kind IN ({', '.join('?' * len(kinds))})"
                " AND term >= ? AND term < ? GROUP BY customer_id"
            )
            params.extend([prefix, *kinds, prefix, prefix + PREFIX_END])
        matched = (
            "SELECT customer_id, SUM(best) AS score FROM ("
            + " UNION ALL ".join(parts)
            + ") u GROUP BY customer_id HAVING COUNT(*) = ?"
        )
        params.append(len(parts))
        compiled = compile_sql(rule, self._dialect)
        sql = (
            f"SELECT {SELECT_COLUMNS} FROM ({self._sql(matched)}) s"
            f" JOIN customers c ON c.id = s.customer_id WHERE {LIVE_CLAUSE.format(rule=compiled.sql)}"
            f" ORDER BY s.score DESC, c.id LIMIT {self._dialect.placeholder}"
        )
        values = [*params, *compiled.params, limit]
        return [self._customer_from_row(row) for row in self._db.execute(sql, values).fetchall()]
