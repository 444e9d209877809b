"""Duplicate policies on create and edit, and store-wide duplicate clusters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, DuplicateCustomer, EventKind, FixedClock, Workspace
from pipeline_core.domain.duplicates import clusters
from pipeline_core.domain.normalize import ContactKey, index_keys
from pipeline_core.errors import InvalidValue

URLS = ["memory:", "sqlite:///:memory:"]  # hypothesis runs: fresh stores per example


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The conftest workspace (memory, SQLite and PostgreSQL in turn), set up for these tests."""
    workspace.settings.duplicates(default_region="US")
    return workspace


def ada(**changes: object) -> Customer:
    values: dict[str, object] = {
        "name": "Ada Lovelace",
        "phones": ["+1 (415) 555-0132"],
        "emails": ["ada@example.com"],
    }
    values.update(changes)
    return Customer(**values)  # type: ignore[arg-type]


# policies on create ---------------------------------------------------------------


def test_block_names_the_key_and_the_customer(ws: Workspace) -> None:
    first = ws.customers.add(ada())
    with pytest.raises(DuplicateCustomer) as raised:
        ws.customers.add(Customer(name="A. Lovelace", phones=["415.555.0132"]))
    error = raised.value
    assert str(error) == f"phone +14155550132 matches customer {first.id} (Ada Lovelace)"
    assert [c.id for c in error.existing] == [first.id]
    assert error.keys == (ContactKey("phone", "+14155550132"),)
    assert ws.customers.count() == 1


def test_block_lists_every_match_with_its_field(ws: Workspace) -> None:
    first = ws.customers.add(ada())
    second = ws.customers.add(Customer(name="Bob", emails=["bob@example.com"]))
    with pytest.raises(DuplicateCustomer) as raised:
        ws.customers.add(
            Customer(name="X", emails=["BOB@example.com"], whatsapp="14155550132"),
            on_duplicate="block",
        )
    assert str(raised.value) == (
        f"whatsapp +14155550132 matches customer {first.id} (Ada Lovelace); "
        f"email bob@example.com matches customer {second.id} (Bob)"
    )
    assert {c.id for c in raised.value.existing} == {first.id, second.id}


def test_invalid_numbers_never_match(ws: Workspace) -> None:
    ws.customers.add(Customer(name="A", phones=["12345"]))
    again = ws.customers.add(Customer(name="B", phones=["12345"]))
    assert again.phones == ("12345",)
    assert ws.customers.dupes() == []


def test_a_malformed_email_is_refused_on_create(ws: Workspace) -> None:
    with pytest.raises(InvalidValue, match="holds more than one email address"):
        ws.customers.add(Customer(name="A", emails=["a@x.org; b@y.org"]))


def test_allow_adds_anyway_per_call_or_by_setting(ws: Workspace) -> None:
    ws.customers.add(ada())
    ws.customers.add(ada(name="Second"), on_duplicate="allow")
    ws.settings.duplicates(allow_duplicates=True)
    ws.customers.add(ada(name="Third"))
    assert ws.customers.count() == 3
    with pytest.raises(DuplicateCustomer):
        ws.customers.add(ada(name="Fourth"), on_duplicate="block")


def test_merge_folds_the_new_record_into_the_oldest_match(ws: Workspace) -> None:
    first = ws.customers.add(ada(folder=None))
    merged = ws.customers.add(
        Customer(
            name="Ada L.",
            phones=["415 555 0132", "+44 20 7946 0018"],
            folder="Leads",
            tags=["VIP"],
        ),
        on_duplicate="merge",
    )
    assert merged.id == first.id
    assert merged.name == "Ada Lovelace"  # the existing customer wins
    assert merged.folder == "Leads"  # its blanks are filled
    assert merged.phones == ("+1 (415) 555-0132", "+44 20 7946 0018")
    assert merged.tags == ("VIP",)
    assert ws.customers.count() == 1
    last = ws.customers.timeline(first.id)[-1]
    assert last.kind == EventKind.MERGED
    assert last.data["merged"] == [
        {
            "id": None,
            "name": "Ada L.",
            "filled": ["folder"],
            "phones": ["+44 20 7946 0018"],
            "tags": ["VIP"],
            "matched": ["phone +14155550132"],
        }
    ]


def test_update_writes_the_new_values_over_the_match(ws: Workspace) -> None:
    first = ws.customers.add(ada(team="Old team", tags=["A"]))
    ws.customers.move(first.id, "Prospect")
    updated = ws.customers.add(
        Customer(name="Ada King", emails=["ADA@example.com"], team="New team", tags=["B"]),
        on_duplicate="update",
    )
    assert updated.id == first.id
    assert (updated.name, updated.team, updated.status) == ("Ada King", "New team", "Prospect")
    # The new record wins like a merge primary: its contacts first, nothing dropped.
    assert updated.tags == ("B", "A")
    assert updated.emails == ("ADA@example.com",)
    assert updated.phones == ("+1 (415) 555-0132",)
    edits = [e.data["field"] for e in ws.customers.timeline(first.id) if e.kind == EventKind.EDITED]
    assert sorted(edits) == ["emails", "name", "team"]  # type: ignore[type-var]


def test_an_unknown_policy_is_an_error(ws: Workspace) -> None:
    with pytest.raises(InvalidValue, match="on_duplicate must be one of"):
        ws.customers.add(ada(), on_duplicate="ignore")  # type: ignore[arg-type]


# policies on edit -------------------------------------------------------------------


def test_an_edit_that_collides_is_blocked(ws: Workspace) -> None:
    first = ws.customers.add(ada())
    other = ws.customers.add(Customer(name="Bob", phones=["+44 20 7946 0018"]))
    with pytest.raises(DuplicateCustomer, match=f"matches customer {first.id} "):
        ws.customers.edit(other.id, emails=["Ada@Example.com"])
    assert ws.customers.get(other.id).emails == ()
    edited = ws.customers.edit(other.id, emails=["ada@example.com"], on_duplicate="allow")
    assert edited.emails == ("ada@example.com",)
    with pytest.raises(InvalidValue, match="an edit can only block or allow"):
        ws.customers.edit(other.id, phones=["1"], on_duplicate="merge")


def test_an_edit_keeping_an_existing_shared_key_is_not_blocked(ws: Workspace) -> None:
    ws.customers.add(ada())
    twin = ws.customers.add(ada(name="Twin"), on_duplicate="allow")
    edited = ws.customers.edit(twin.id, name="Twin 2", phones=["415-555-0132", "+3225551212"])
    assert edited.name == "Twin 2"


# store-wide clusters ------------------------------------------------------------------


def test_clusters_are_transitive(ws: Workspace) -> None:
    a = ws.customers.add(Customer(name="A", phones=["+1 415 555 0132"]))
    b = ws.customers.add(
        Customer(name="B", phones=["(415) 555-0132"], emails=["b@x.org"]), on_duplicate="allow"
    )
    c = ws.customers.add(Customer(name="C", emails=["B@X.org"]), on_duplicate="allow")
    d = ws.customers.add(Customer(name="D", phones=["+44 20 7946 0018"]))
    found = ws.customers.dupes(with_customers=True)
    assert [cluster.customer_ids for cluster in found] == [(a.id, b.id, c.id)]
    assert found[0].keys == (ContactKey("email", "b@x.org"), ContactKey("phone", "+14155550132"))
    assert [customer.name for customer in found[0].customers] == ["A", "B", "C"]
    assert d.id not in found[0].customer_ids
    assert ws.customers.dupes()[0].customers == ()


def test_union_find_joins_chains_in_any_order() -> None:
    p, q, r = (ContactKey("phone", f"+1415555{n:04d}") for n in range(3))
    groups = [(p, (5, 9)), (q, (1, 2)), (r, (2, 9)), (ContactKey("email", "x@y.z"), (7, 8))]
    assert [c.customer_ids for c in clusters(groups)] == [(1, 2, 5, 9), (7, 8)]
    assert clusters([]) == []


PHONES = [
    ("+1 415 555 0132", "(415) 555-0132", "001 415 555 0132", "14155550132"),
    ("+44 20 7946 0018", "020 7946 0018"),  # national: only a GB customer matches
    ("+55 11 91234-5678", "(11) 91234-5678"),
    ("12345", "12345"),  # invalid: never matches
]
EMAILS = [("a@x.org", "A <A@X.ORG>"), ("b@y.org", "b@Y.org"), ("j.d+1@gmail.com", "jd@gmail.com")]


@st.composite
def records(draw: st.DrawFn) -> Customer:
    phones = draw(st.lists(st.sampled_from([v for group in PHONES for v in group]), max_size=2))
    emails = draw(st.lists(st.sampled_from([v for group in EMAILS for v in group]), max_size=2))
    whatsapp = draw(st.one_of(st.none(), st.sampled_from(["14155550132", "5511912345678"])))
    country = draw(st.sampled_from([None, "GB", "BR"]))
    return Customer(name="x", phones=phones, emails=emails, whatsapp=whatsapp, country=country)


def reference_clusters(ws: Workspace) -> set[frozenset[int]]:
    """Brute force: compare every pair of live customers' keys, then take components."""
    options = ws.settings.duplicates().normalize_options
    live = ws.customers.list()
    keys = {c.id: set(index_keys(c, options)) for c in live}
    links: dict[int, set[int]] = {c.id: set() for c in live}
    for a in live:
        for b in live:
            if a.id != b.id and keys[a.id] & keys[b.id]:
                links[a.id].add(b.id)
    seen: set[int] = set()
    found: set[frozenset[int]] = set()
    for start in links:
        if start in seen or not links[start]:
            continue
        component, stack = {start}, [start]
        while stack:
            for nxt in links[stack.pop()] - component:
                component.add(nxt)
                stack.append(nxt)
        seen |= component
        found.add(frozenset(component))
    return found


@pytest.mark.parametrize("url", URLS)
@settings(max_examples=40, deadline=None)
@given(
    people=st.lists(records(), max_size=12),
    merges=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=3),
    fold=st.booleans(),
)
def test_find_duplicates_equals_a_brute_force_reference(
    url: str, people: list[Customer], merges: list[tuple[int, int]], fold: bool
) -> None:
    with Workspace.open(url, clock=FixedClock()) as ws:
        ws.settings.duplicates(default_region="US")
        ws.settings.duplicates(fold_gmail=fold)
        ids = [ws.customers.add(p, on_duplicate="allow").id for p in people]
        for a, b in merges:
            if a < len(ids) and b < len(ids) and a != b:
                live_a, live_b = ws.customers.get(ids[a]).id, ws.customers.get(ids[b]).id
                if live_a != live_b:
                    ws.customers.merge(live_a, [live_b])
        found = ws.customers.dupes()
        assert {frozenset(c.customer_ids) for c in found} == reference_clusters(ws)
        live = {c.id for c in ws.customers.list()}
        options = ws.settings.duplicates().normalize_options
        for cluster in found:
            assert set(cluster.customer_ids) <= live  # tombstones leave clusters
            holders = [set(index_keys(ws.customers.get(i), options)) for i in cluster.customer_ids]
            for key in cluster.keys:  # each listed key is shared inside the cluster
                assert sum(key in held for held in holders) >= 2
