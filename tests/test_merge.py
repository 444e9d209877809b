"""Merging customers: field rules, moved history, tombstones, errors, and a no-loss property."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, EventKind, FixedClock, Workspace
from pipeline_core.domain.normalize import customer_keys, index_keys
from pipeline_core.errors import InvalidValue, NotFound

URLS = ["memory:", "sqlite:///:memory:"]  # hypothesis runs: fresh stores per example


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The conftest workspace (memory, SQLite and PostgreSQL in turn), set up for these tests."""
    workspace.settings.duplicates(default_region="US")
    workspace.settings.duplicates(allow_duplicates=True)
    return workspace


def test_scalars_primary_wins_blanks_filled_in_order(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="Primary", team="P team", fields={"a": 1}))
    first = ws.customers.add(
        Customer(name="First", source="web", value="10", currency="EUR", fields={"a": 2, "b": 3})
    )
    second = ws.customers.add(
        Customer(name="Second", folder="Leads", source="fair", team="S", fields={"b": 4, "c": 5})
    )
    result = ws.customers.merge(primary.id, [first.id, second.id])
    merged = result.customer
    assert (merged.name, merged.team) == ("Primary", "P team")
    assert (merged.source, merged.folder) == ("web", "Leads")
    assert (merged.value, merged.currency) == (Decimal("10"), "EUR")
    assert dict(merged.fields) == {"a": 1, "b": 3, "c": 5}
    assert result.merged == (first.id, second.id)
    assert result.details["merged"] == [
        {
            "id": first.id,
            "name": "First",
            "filled": ["source", "value", "currency"],
            "fields": ["b"],
            "events": [2],
        },
        {"id": second.id, "name": "Second", "filled": ["folder"], "fields": ["c"], "events": [3]},
    ]


def test_contacts_and_tags_are_unions_by_key_primary_first(ws: Workspace) -> None:
    primary = ws.customers.add(
        Customer(name="P", emails=["p@x.org"], phones=["415 555 0132"], tags=["A", "B"])
    )
    other = ws.customers.add(
        Customer(
            name="O",
            emails=["P@X.ORG", "o@x.org"],
            phones=["+1 (415) 555-0132", "+44 20 7946 0018"],
            whatsapp="5511912345678",
            tags=["B", "C"],
            workers=["w1"],
        )
    )
    merged = ws.customers.merge(primary.id, [other.id]).customer
    assert merged.emails == ("p@x.org", "o@x.org")
    assert merged.phones == ("415 555 0132", "+44 20 7946 0018")
    assert merged.whatsapp == "5511912345678"
    assert merged.tags == ("A", "B", "C")
    assert merged.workers == ("w1",)


def test_a_second_whatsapp_is_kept_as_a_phone(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P", whatsapp="14155550132"))
    other = ws.customers.add(Customer(name="O", whatsapp="447400123456"))
    merged = ws.customers.merge(primary.id, [other.id]).customer
    assert merged.whatsapp == "14155550132"
    assert merged.phones == ("+44 7400 123456",)  # as a phone it needs its +
    assert "+447400123456" in {
        k.key for k in index_keys(merged, ws.settings.duplicates().normalize_options)
    }


def test_a_national_number_from_another_country_is_spelled_out(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P", country="US", phones=["415 555 0132"]))
    other = ws.customers.add(Customer(name="O", country="GB", phones=["020 7946 0018"]))
    merged = ws.customers.merge(primary.id, [other.id]).customer
    assert merged.country == "US"
    assert merged.phones == ("415 555 0132", "+44 20 7946 0018")
    keys = {k.key for k in index_keys(merged, ws.settings.duplicates().normalize_options)}
    assert keys == {"+14155550132", "+442079460018"}


def test_filling_the_country_does_not_change_the_primary_numbers(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P", phones=["415 555 0132"]))
    other = ws.customers.add(Customer(name="O", country="GB", emails=["o@x.org"]))
    merged = ws.customers.merge(primary.id, [other.id]).customer
    assert merged.country == "GB"
    assert merged.phones == ("+1 415-555-0132",)
    assert {k.key for k in index_keys(merged, ws.settings.duplicates().normalize_options)} == {
        "+14155550132",
        "o@x.org",
    }


def test_history_children_and_hides_move_to_the_primary(ws: Workspace) -> None:
    ws.flows.add("Sales")
    ws.flows.add("Support")
    primary = ws.customers.add(Customer(name="P"))
    other = ws.customers.add(Customer(name="O"))
    child = ws.customers.add(Customer(name="Child", parent_id=other.id))
    ws.customers.move(other.id, "Prospect")
    ws.flows.hide("Sales", other.id)
    before = [e.id for e in ws.customers.timeline(other.id)]
    result = ws.customers.merge(primary.id, [other.id])
    timeline = ws.customers.timeline(primary.id)
    assert set(before) <= {e.id for e in timeline}
    assert [e.kind for e in timeline].count(EventKind.MERGED) == 1
    assert timeline[-1].kind == EventKind.MERGED
    assert ws.customers.get(child.id).parent_id == primary.id
    assert ws.customers.timeline(child.id)[-1].data == {
        "field": "parent_id",
        "before": other.id,
        "after": primary.id,
    }
    with ws.store.transaction() as tx:
        assert tx.hidden_customers("Sales") == [primary.id]
        assert tx.hidden_flows(other.id) == []
    assert result.customer.status == "Lead"  # the primary keeps its status
    details = result.details["merged"]
    assert isinstance(details, list) and isinstance(details[0], dict)
    assert details[0]["children"] == [child.id]
    assert details[0]["hidden_from"] == ["Sales"]


def test_tombstones_leave_lists_counts_and_boards(ws: Workspace) -> None:
    ws.flows.add("Sales")
    primary = ws.customers.add(Customer(name="P"))
    other = ws.customers.add(Customer(name="O"))
    ws.customers.merge(primary.id, [other.id])
    assert [c.id for c in ws.customers.list()] == [primary.id]
    assert ws.customers.count() == 1
    assert ws.flows.board("Sales").total == 1
    assert ws.customers.get(other.id) == ws.customers.get(primary.id)
    assert ws.customers.timeline(other.id) == ws.customers.timeline(primary.id)
    edited = ws.customers.edit(other.id, folder="F")  # the old id leads to the primary
    assert edited.id == primary.id and edited.folder == "F"


def test_a_parent_that_would_make_a_cycle_is_not_taken(ws: Workspace) -> None:
    grandparent = ws.customers.add(Customer(name="G"))
    parent = ws.customers.add(Customer(name="Parent", parent_id=grandparent.id))
    child = ws.customers.add(Customer(name="Child", parent_id=parent.id))
    merged = ws.customers.merge(child.id, [parent.id]).customer
    assert merged.parent_id == grandparent.id
    top = ws.customers.add(Customer(name="Top"))
    below = ws.customers.add(Customer(name="Below", parent_id=top.id))
    loner = ws.customers.add(Customer(name="Loner", parent_id=below.id))
    # Top taking Loner's parent (Below, its own child) would make a loop.
    assert ws.customers.merge(top.id, [loner.id]).customer.parent_id is None


def test_dry_run_changes_nothing(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P"))
    other = ws.customers.add(Customer(name="O", folder="F", emails=["o@x.org"]))
    preview = ws.customers.merge(primary.id, [other.id], dry_run=True)
    assert preview.dry_run and preview.customer.folder == "F"
    assert preview.customer.emails == ("o@x.org",)
    assert ws.customers.count() == 2
    assert ws.customers.get(other.id).name == "O"
    assert ws.customers.get(primary.id).folder is None
    assert [e.kind for e in ws.customers.timeline(primary.id)] == [EventKind.CREATED]
    assert len(ws.customers.dupes()) == 0


def test_merge_errors(ws: Workspace) -> None:
    a, b, c = (ws.customers.add(Customer(name=n)) for n in "ABC")
    with pytest.raises(InvalidValue, match=f"cannot merge customer {a.id} into itself"):
        ws.customers.merge(a.id, [a.id])
    with pytest.raises(InvalidValue, match=f"customer {b.id} is listed more than once"):
        ws.customers.merge(a.id, [b.id, c.id, b.id])
    with pytest.raises(InvalidValue, match="nothing to merge"):
        ws.customers.merge(a.id, [])
    with pytest.raises(NotFound):
        ws.customers.merge(a.id, [99])
    ws.customers.merge(a.id, [b.id])
    with pytest.raises(InvalidValue, match=f"cannot merge into customer {b.id}: it was merged"):
        ws.customers.merge(b.id, [c.id])
    with pytest.raises(InvalidValue, match=f"customer {b.id} was already merged into {a.id}"):
        ws.customers.merge(c.id, [b.id])


def test_a_batch_never_reuses_a_consumed_record(ws: Workspace) -> None:
    a, b, c = (ws.customers.add(Customer(name=n)) for n in "ABC")
    with pytest.raises(InvalidValue, match="by an earlier merge in this batch"):
        ws.customers.merge_many([(a.id, [b.id]), (c.id, [b.id])])
    assert ws.customers.count() == 3  # the whole batch rolled back
    results = ws.customers.merge_many([(a.id, [b.id]), (a.id, [c.id])])
    assert [r.merged for r in results] == [(b.id,), (c.id,)]
    assert ws.customers.count() == 1


def test_a_chain_of_merges_leads_to_the_last_primary(ws: Workspace) -> None:
    a, b, c = (ws.customers.add(Customer(name=n)) for n in "ABC")
    ws.customers.merge(b.id, [a.id])
    ws.customers.merge(c.id, [b.id])
    assert ws.customers.get(a.id).id == c.id
    with ws.store.transaction() as tx:
        assert tx.merged_into(a.id) == c.id


# the no-loss property -----------------------------------------------------------------

PHONE = st.sampled_from(
    [
        "+1 415 555 0132",
        "(415) 555-0133",
        "020 7946 0018",
        "+55 11 91234-5678",
        "12",
        "+32 2 555 12 12",
    ]
)
EMAIL = st.sampled_from(
    ["a@x.org", "A@X.org", "b@y.org", "Bee <B@Y.ORG>", "c@z.org", "d@gmail.com"]
)
TAG = st.sampled_from(["VIP", "Commercial", "vip", "Hot"])


@st.composite
def people(draw: st.DrawFn) -> Customer:
    return Customer(
        name=draw(st.sampled_from(["Ada", "Bob", "Cy"])),
        emails=draw(st.lists(EMAIL, max_size=3)),
        phones=draw(st.lists(PHONE, max_size=3)),
        whatsapp=draw(st.one_of(st.none(), st.sampled_from(["14155550132", "447400123456"]))),
        country=draw(st.sampled_from([None, "GB", "BR"])),
        folder=draw(st.sampled_from([None, "Leads", "Won"])),
        tags=draw(st.lists(TAG, max_size=3)),
    )


@pytest.mark.parametrize("url", URLS)
@settings(max_examples=30, deadline=None)
@given(
    group=st.lists(people(), min_size=2, max_size=4),
    moves=st.lists(st.integers(0, 3), max_size=3),
)
def test_a_merge_loses_no_email_phone_tag_or_event(
    url: str, group: list[Customer], moves: list[int]
) -> None:
    clock = FixedClock()
    with Workspace.open(url, clock=clock) as ws:
        ws.settings.duplicates(default_region="US")
        stored = [ws.customers.add(c, on_duplicate="allow") for c in group]
        for index in moves:
            if index < len(stored):
                clock.advance(timedelta(minutes=1))
                ws.customers.edit(stored[index].id, lead_notes=f"note {clock.now()}")
        options = ws.settings.duplicates().normalize_options
        before = [ws.customers.get(c.id) for c in stored]
        events = {e.id for c in stored for e in ws.customers.timeline(c.id)}
        primary, others = before[0], [c.id for c in before[1:]]
        merged = ws.customers.merge(primary.id, others).customer
        assert merged == ws.customers.get(primary.id)
        merged_keys = set(customer_keys(merged, options))
        merged_texts = {*merged.emails, *merged.phones, merged.whatsapp}
        for record in before:
            for key in customer_keys(record, options):
                if key.valid:
                    assert key in merged_keys, key
                else:
                    assert key.key in merged_texts, key
            assert set(record.tags) <= set(merged.tags)
        assert merged.status == primary.status and merged.name == primary.name
        timeline = ws.customers.timeline(primary.id)
        assert events <= {e.id for e in timeline}
        assert [e.kind for e in timeline].count(EventKind.MERGED) == 1
        assert ws.customers.count() == 1
        assert all(ws.customers.get(i).id == primary.id for i in others)


def test_notes_tasks_time_and_follow_ups_move_to_the_primary(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P"))
    other = ws.customers.add(Customer(name="O", workers=["wendy"]))
    ws.notes.add(other.id, "Prefers email")
    task = ws.tasks.add(other.id, "Send the quote")
    entry = ws.time.log(other.id, "wendy", 30)
    ws.customers.follow_up(other.id, date(2026, 3, 1))
    details = ws.customers.merge(primary.id, [other.id]).details["merged"]
    assert isinstance(details, list) and isinstance(details[0], dict)
    assert details[0]["tasks"] == [task.id] and details[0]["time_entries"] == [entry.id]
    assert [n.data["text"] for n in ws.notes.list(primary.id)] == ["Prefers email"]
    assert [t.id for t in ws.tasks.list(customer_id=primary.id)] == [task.id]
    assert [e.id for e in ws.time.list(customer_id=primary.id)] == [entry.id]
    merged = ws.customers.get(primary.id)
    assert merged.next_follow_up == date(2026, 3, 1) and merged.workers == ("wendy",)
    # Only the primary is left in the worker's and the follow-up lists.
    assert [c.id for c in ws.workers.customers("wendy")] == [primary.id]
    view = ws.customers.show(other.id)  # the old id shows the primary's view
    assert view.customer.id == primary.id and [t.id for t in view.open_tasks] == [task.id]


def test_use_cases_on_an_old_id_reach_the_primary(ws: Workspace) -> None:
    primary = ws.customers.add(Customer(name="P"))
    other = ws.customers.add(Customer(name="O"))
    child = ws.customers.add(Customer(name="Child"))
    ws.customers.merge(primary.id, [other.id])
    ws.notes.add(other.id, "Called back")
    task = ws.tasks.add(other.id, "Visit")
    assert task.customer_id == primary.id
    assert [n.data["text"] for n in ws.notes.list(primary.id)] == ["Called back"]
    assert ws.notes.list(other.id) == ws.notes.list(primary.id)
    moved = ws.customers.move(other.id, "Prospect")
    assert moved.id == primary.id and ws.customers.get(primary.id).status == "Prospect"
    ws.customers.edit(child.id, parent_id=other.id)
    assert ws.customers.get(child.id).parent_id == primary.id
    assert [c.id for c in ws.customers.children(primary.id)] == [child.id]
