"""Property: no read path ever returns a customer outside the actor's visibility.

For random users, teams, customers and rules, on every backend: each read as a
user returns exactly the admin's answer to the same question, less what the
user may not see (so the admin's answer is always a superset).
"""

from __future__ import annotations

import io
from datetime import date

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, NotFound, RuleSyntaxError, User, Workspace
from pipeline_core.domain.access import Principal, scope_rule
from pipeline_core.domain.flows import Column
from pipeline_core.domain.search import words
from pipeline_core.rules import Rule, compile_predicate
from pipeline_core.testing import customers, rules

from .conftest import fresh_store_url

TEAMS = ("A", "B", "C")
USERS = ("u0", "u1", "u2", "u3")
EXAMPLES = {"memory": 25, "sqlite": 25, "postgres": 6}

users = st.tuples(
    *(
        st.builds(
            User,
            st.just(name),
            st.sampled_from(("admin", "manager", "agent")),
            st.lists(st.sampled_from(TEAMS), max_size=2).map(tuple),
        )
        for name in USERS
    )
)
Drawn = tuple[Customer, str | None, list[str], int | None]
"""A customer as drawn: the record, its team, its workers, the index of its parent."""

people = st.lists(
    st.tuples(
        customers(),
        st.sampled_from((None, *TEAMS, "Z")),
        st.lists(st.sampled_from((*USERS, "x")), max_size=2),
        st.none() | st.integers(0, 5),
    ),
    max_size=8,
)


def _populate(url: str, team_users: tuple[User, ...], drawn: list[Drawn]) -> Workspace:
    system = Workspace.open(url)
    system.init()
    system.settings.duplicates(allow_duplicates=True)
    system.flows.add("F", "true", [Column("Lead", "Lead", "#000000", 0)])
    for name in TEAMS:
        system.teams.add(name)
    for user in team_users:
        system.users.add(user.name, user.role, user.teams)
    stored: list[Customer] = []
    for customer, team, workers, parent in drawn:
        parent_id = stored[parent].id if parent is not None and parent < len(stored) else None
        draft = attrs.evolve(
            customer, team=team, workers=tuple(workers), parent_id=parent_id, folder=None
        )
        stored.append(system.customers.add(draft))
        if customer.next_follow_up is not None:
            system.customers.follow_up(stored[-1].id, date(2026, 1, 1))
    return system


def _ids(found: list[Customer]) -> list[int]:
    return [customer.id for customer in found]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_no_read_path_leaks(backend: str) -> None:
    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(users, people, rules(), st.data())
    def check(
        team_users: tuple[User, ...], drawn: list[Drawn], rule: Rule, data: st.DataObject
    ) -> None:
        system = _populate(fresh_store_url(backend), team_users, drawn)
        try:
            everyone = system.customers.list()
            try:
                admin_found = system.customers.list(rule)
            except RuleSyntaxError:
                admin_found = None  # a custom field the drawn customers do not type alike
            name_words = [w for c in everyone for w in words(c.name) if not w.isdigit()]
            word = data.draw(st.sampled_from(name_words)) if name_words else None
            for user in team_users:
                visible = compile_predicate(scope_rule(Principal(user)))
                ws = Workspace(system.store, actor=user.name, clock=system.clock)
                expected = [c.id for c in everyone if visible(c)]
                assert _ids(ws.customers.list()) == expected
                assert ws.customers.count() == len(expected)
                if admin_found is not None:
                    found = _ids(ws.customers.list(rule))
                    assert found == [c.id for c in admin_found if visible(c)]
                    assert set(found) <= set(_ids(admin_found))
                if word is not None:
                    admin_hits = system.customers.search(word, limit=100)
                    hits = _ids(ws.customers.search(word, limit=100))
                    assert sorted(hits) == sorted(c.id for c in admin_hits if visible(c))
                board = ws.flows.board("F", limit=100)
                cards = [c for column in (*board.columns, board.unmapped) for c in column.cards]
                assert sorted(_ids(cards)) == expected
                assert sum(col.count for col in (*board.columns, board.unmapped)) == len(expected)
                assert ws.reports.pipeline("F").total.count == len(expected)
                assert ws.reports.group("team").total.total == len(expected)
                assert ws.customers.export(io.StringIO(), "jsonl") == len(expected)
                clustered = {i for c in ws.customers.dupes() for i in c.customer_ids}
                assert clustered <= set(expected)
                due = {r.customer_id for r in ws.reminders.due()}
                assert due == {r.customer_id for r in system.reminders.due()} & set(expected)
                for customer in everyone:
                    if visible(customer):
                        assert ws.customers.get(customer.id) == customer
                        kids = _ids(ws.customers.children(customer.id))
                        assert kids == [
                            k for k in _ids(system.customers.children(customer.id)) if k in expected
                        ]
                        assert len(ws.customers.timeline(customer.id)) == len(
                            system.customers.timeline(customer.id)
                        )
                    else:
                        with pytest.raises(NotFound):
                            ws.customers.get(customer.id)
                        with pytest.raises(NotFound):
                            ws.customers.timeline(customer.id)
                        with pytest.raises(NotFound):
                            ws.flows.explain("F", customer.id)
        finally:
            system.close()

    check()
