"""Contact data hidden from agents cannot be inferred: not by rules, search or duplicate messages.

With ``hide_contacts_from_agents`` on, an agent sees "(hidden)" for emails, phones
and WhatsApp. The property: for any rule or search text the agent submits, two
stores that differ only in those hidden values give the agent the same answer
(the same customers in the same order, or the same error), on every backend.
A rule of the agent's that tests contact data is refused naming the setting. A
flow's rule, written by an admin, may test it: which customers are on such a
board is what the admin chose to show, so the property's board has a rule on
tags (docs/access.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import (
    Customer,
    DuplicateCustomer,
    FixedClock,
    PermissionDenied,
    PipelineError,
    Workspace,
)
from pipeline_core.domain.flows import Column
from pipeline_core.rules.printer import to_text
from pipeline_core.testing import DAY, customers, rules, texts
from pipeline_core.workspace.duplicates import HIDDEN_MATCH

from .conftest import fresh_store_url

EMAILS = (
    "nora.secret@north.example",
    "nora@south.example",
    "vip@leads.example",  # words that are also tags and names in testing.WORDS
    "Google@x.org",
    "cafe@CAFÉ.example",
    "ss@straße.example",
)
PHONES = (
    "+14155550132",
    "+1 (415) 555-0132 ext. 99",
    "+442079460000",
    "0470 12 34 56",
    "+14155550100",
)
WHATSAPP = ("+14155550132", "+442079460000", "32470123456")
PROBES = (
    'emails ~ "nora.sec"',
    'email any ("nora.secret@north.example")',
    'phones ~ "0132"',
    'has whatsapp and status = "Lead"',
    'whatsapp = "+14155550132"',
    'not (phone none ("+14155550132"))',
    'tags any ("vip") or emails ~ "vip"',
)
SEARCHES = (
    "nora",
    "nora.secret@north.example",
    "secret",
    "north.example",
    "vip",
    "leads",
    "google",
    "cafe",
    "0132",
    "4155550132",
    "+1 415 555 0132",
    "ss",
)
EXAMPLES = {"memory": 40, "sqlite": 25, "postgres": 6}
CLOCK = datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC)


@attrs.frozen
class Contacts:
    """One store's contact values of one customer."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    whatsapp: str | None


@st.composite
def contact_pairs(draw: st.DrawFn) -> tuple[Contacts, Contacts]:
    """Two sets of contacts of the same shape (how many of each, as an agent sees them)."""
    sizes = draw(st.tuples(st.integers(0, 2), st.integers(0, 2), st.booleans()))

    def one() -> Contacts:
        return Contacts(
            tuple(draw(st.lists(st.sampled_from(EMAILS), min_size=sizes[0], max_size=sizes[0]))),
            tuple(draw(st.lists(st.sampled_from(PHONES), min_size=sizes[1], max_size=sizes[1]))),
            draw(st.sampled_from(WHATSAPP)) if sizes[2] else None,
        )

    return one(), one()


people = st.lists(
    st.tuples(
        customers(),
        st.sampled_from(("A", "B", None)),
        st.lists(st.sampled_from(("ann", "bob")), max_size=1),
        contact_pairs(),
    ),
    max_size=7,
)
Drawn = tuple[Customer, str | None, list[str], tuple[Contacts, Contacts]]

rule_texts = st.one_of(st.sampled_from(PROBES), rules(max_leaves=4).map(to_text), texts())
search_texts = st.one_of(st.sampled_from(SEARCHES), texts())


def _workspace(url: str, drawn: list[Drawn], side: int) -> Workspace:
    """A store holding the drawn customers with the contacts of ``side`` (0 or 1)."""
    ws = Workspace.open(url, clock=FixedClock(CLOCK))
    ws.init()
    ws.teams.add("A")
    ws.teams.add("B")
    ws.users.add("ann", "agent", ["A"])
    ws.access.set(hide_contacts_from_agents=True)
    ws.flows.add("VIP", 'tags any ("VIP", "vip")', [Column("Lead", "Lead", "#000000", 0)])
    for customer, team, workers, pair in drawn:
        contacts = pair[side]
        draft = attrs.evolve(
            customer,
            team=team,
            workers=tuple(workers),
            folder=None,
            emails=contacts.emails,
            phones=contacts.phones,
            whatsapp=contacts.whatsapp,
        )
        ws.customers.add(draft, on_duplicate="allow")
    return ws


Outcome = tuple[str, object]


def _outcome(call: Callable[[], object]) -> Outcome:
    """What the agent is told: the answer, or the error's kind and message."""
    try:
        return ("answer", call())
    except PipelineError as error:
        return (type(error).__name__, str(error))


def _answers(ann: Workspace, rule: str, text: str) -> list[Outcome]:
    return [
        _outcome(lambda: ann.customers.list(rule)),
        _outcome(lambda: ann.customers.count(rule)),
        _outcome(lambda: ann.customers.search(text, limit=100)),
        _outcome(lambda: ann.customers.search(text, where=rule)),
        _outcome(lambda: ann.flows.board("VIP", limit=100, where=rule)),
        _outcome(lambda: ann.customers.dupes(with_customers=True)),
    ]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_no_rule_or_search_tells_an_agent_anything_of_hidden_contacts(backend: str) -> None:
    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(people, rule_texts, search_texts)
    def check(drawn: list[Drawn], rule: str, text: str) -> None:
        stores = [_workspace(fresh_store_url(backend), drawn, side) for side in (0, 1)]
        try:
            first, second = (
                _answers(Workspace(ws.store, actor="ann", clock=ws.clock), rule, text)
                for ws in stores
            )
            assert first == second
        finally:
            for ws in stores:
                ws.close()

    check()


# the refusals, case by case --------------------------------------------------------


@pytest.fixture
def admin(make_store: Callable[[], object], clock: FixedClock) -> Workspace:
    """Agent ann (team North) who may not see contacts; manager max; Nora has a secret email."""
    ws = Workspace(make_store(), clock=clock)  # type: ignore[arg-type]
    ws.init()
    ws.teams.add("North")
    ws.users.add("ann", "agent", ["North"])
    ws.users.add("max", "manager", ["North"])
    ws.access.set(hide_contacts_from_agents=True)
    ws.customers.add(
        Customer(
            name="Nora Northwind",
            team="North",
            emails=("nora.secret@north.example",),
            phones=("+1 (415) 555-0132",),
            tags=("vip",),
        )
    )
    return ws


def _as(admin: Workspace, name: str) -> Workspace:
    return Workspace(admin.store, actor=name, clock=admin.clock)


def test_an_agents_rule_on_hidden_contacts_is_refused_naming_the_setting(
    admin: Workspace,
) -> None:
    ann = _as(admin, "ann")
    refusals: list[Callable[[], object]] = [
        lambda: ann.customers.list('emails ~ "nora.sec"'),
        lambda: ann.customers.count('phone ~ "0132"'),
        lambda: ann.customers.search("nora", where="has whatsapp"),
        lambda: ann.reports.group("team", where='emails ~ "n"'),
        lambda: ann.filters.save("probe", 'email ~ "n"'),
        lambda: ann.rules.check('not (tags any ("x") and phones ~ "1")'),
    ]
    for refused in refusals:
        with pytest.raises(PermissionDenied, match="hide_contacts_from_agents") as raised:
            refused()
        assert "'ann' may not filter by" in str(raised.value)
    # A shared filter an admin wrote is the agent's where too: refused the same way.
    admin.filters.save("secret-ones", 'emails ~ "secret"', shared=True)
    with pytest.raises(PermissionDenied, match="filter by emails"):
        ann.customers.list("secret-ones")
    # Rules that leave contacts alone work; the manager and the admin are not limited.
    assert [c.name for c in ann.customers.list('tags any ("vip")')] == ["Nora Northwind"]
    for name in ("max", "system"):
        assert _as(admin, name).customers.count('emails ~ "nora.sec"') == 1
    admin.access.set(hide_contacts_from_agents=False)
    assert ann.customers.count('emails ~ "nora.sec"') == 1


def test_a_flow_rule_by_an_admin_may_test_contacts_but_quotes_them_hidden(
    admin: Workspace,
) -> None:
    admin.flows.add("Secret", 'emails ~ "secret"', [Column("Lead", "Lead", "#000000", 0)])
    ann = _as(admin, "ann")
    board = ann.flows.board("Secret")
    assert [c.name for c in board.columns[0].cards] == ["Nora Northwind"]
    assert board.columns[0].cards[0].emails == ("(hidden)",)
    explained = ann.flows.explain("Secret", 1)
    assert explained.on_board and explained.rule.holds
    assert explained.rule.actual == 'emails: "(hidden)"'
    assert "nora.secret" not in explained.rule.render()
    assert "nora.secret" in admin.flows.explain("Secret", 1).rule.render()
    # The agent's own where on that board is still theirs.
    with pytest.raises(PermissionDenied, match="filter by phones"):
        ann.flows.board("Secret", where='phones ~ "0132"')


def test_search_matches_no_hidden_contact_and_refuses_phone_numbers(admin: Workspace) -> None:
    ann = _as(admin, "ann")
    for text in ("nora.secret@north.example", "secret", "north.example"):
        assert ann.customers.search(text) == []
        assert [c.name for c in _as(admin, "max").customers.search(text)] == ["Nora Northwind"]
    # Names and tags are still found, and a word in a name and an email ranks the same.
    assert [c.name for c in ann.customers.search("nora")] == ["Nora Northwind"]
    assert [c.name for c in ann.customers.search("vip")] == ["Nora Northwind"]
    for number in ("0132", "+1 415 555 0132"):
        with pytest.raises(PermissionDenied, match="may not search by phone number"):
            ann.customers.search(number)
        assert len(_as(admin, "max").customers.search(number)) == 1


def test_a_duplicate_refusal_names_no_customer_nor_key_to_such_an_agent(
    admin: Workspace,
) -> None:
    admin.customers.add(Customer(name="Other", team="East", phones=("+44 20 7946 0000",)))
    ann = _as(admin, "ann")
    messages = set()
    guesses = (
        {"emails": ("nora.secret@north.example",)},  # Nora, visible, by email
        {"phones": ("+14155550132 ext. 5",)},  # Nora by phone (the extension is ignored)
        {"whatsapp": "+442079460000"},  # a customer ann cannot see, by WhatsApp
    )
    for guess in guesses:
        for policy in (None, "block", "merge", "update"):
            with pytest.raises(DuplicateCustomer) as refused:
                ann.customers.add(Customer(name="X", team="North", **guess), on_duplicate=policy)
            assert (refused.value.existing, refused.value.keys) == ((), ())
            messages.add(str(refused.value))
    assert messages == {HIDDEN_MATCH}
    assert "Nora" not in HIDDEN_MATCH and "email " not in HIDDEN_MATCH
    # An edit that changes how a phone reads (its country) is refused alike.
    own = ann.customers.add(Customer(name="Mine", team="North", phones=("020 7946 0000",)))
    with pytest.raises(DuplicateCustomer) as refused:
        ann.customers.edit(own.id, country="GB")
    assert str(refused.value) == HIDDEN_MATCH
    # The manager, who sees contacts, is told which customer matched.
    with pytest.raises(DuplicateCustomer, match=r"matches customer 1 \(Nora Northwind\)"):
        _as(admin, "max").customers.add(
            Customer(name="X", team="North", emails=("nora.secret@north.example",))
        )


def test_clusters_are_refused_and_merges_show_such_an_agent_no_contact_data(
    admin: Workspace,
) -> None:
    copy = admin.customers.add(
        Customer(
            name="Nora N.",
            team="North",
            emails=("Nora.Secret@north.example", "nora.second@north.example"),
        ),
        on_duplicate="allow",
    )
    ann = _as(admin, "ann")
    # Which customers share a contact is the hidden data itself.
    with pytest.raises(PermissionDenied, match=r"hide_contacts_from_agents.*duplicate clusters"):
        ann.customers.dupes()
    assert [c.customer_ids for c in _as(admin, "max").customers.dupes()] == [(1, copy.id)]
    # Merging two customers the agent chose is allowed; the result shows no contact.
    result = ann.customers.merge(1, [copy.id], dry_run=True)
    assert result.customer.emails == ("(hidden)",)
    assert "north.example" not in str(result.details).lower()
    merged = admin.customers.merge(1, [copy.id], dry_run=True)
    assert "nora.second@north.example" in str(merged.details)
