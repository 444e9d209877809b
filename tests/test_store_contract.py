"""The storage contract: every backend runs these unchanged (see conftest.BACKENDS)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import (
    Column,
    ConcurrencyError,
    Customer,
    Event,
    EventKind,
    FlowDefinition,
    NotFound,
    default_status_machine,
)
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.domain.outbox import Delivery, Notification
from pipeline_core.domain.outcomes import enter_status, status_changes
from pipeline_core.domain.statuses import Status
from pipeline_core.errors import MergedMeanwhile
from pipeline_core.rules import InSet, Not, SetTest, all_of
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.storage import Store, open_store
from pipeline_core.storage.protocol import new_customer

from .conftest import StoreFactory, fresh_store_url

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sample(name: str = "Ada", **changes: Any) -> Customer:
    base = Customer(
        name=name,
        status="Lead",
        emails=["ada@example.com"],
        tags=["VIP", "Hot"],
        folder="Leads",
        fields={
            "since": date(2020, 2, 29),
            "score": 3,
            "ratio": 0.25,
            "premium": Decimal("10.10"),
            "vip": True,
            "seen": datetime(2025, 5, 5, 5, 5, 5, 5, tzinfo=UTC),
            "langs": ("en", "pt"),
            "note": "ünïcödé ' \" % _",
        },
        value="1999.99",
        currency="EUR",
        created_at=T0,
        updated_at=T0,
    )
    return attrs.evolve(base, **changes)


def test_insert_assigns_ids_and_version_one(make_store: StoreFactory) -> None:
    with make_store().transaction() as tx:
        first = tx.insert_customer(sample())
        second = tx.insert_customer(sample("Grace"))
    assert first.id > 0 and second.id > first.id
    assert first.version == second.version == 1


def test_stored_customer_reads_back_equal(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
    with store.transaction() as tx:
        again = tx.get_customer(stored.id)
    assert again == stored
    assert again == attrs.evolve(sample(), id=stored.id, version=1)
    assert type(again.fields["premium"]) is Decimal
    assert type(again.fields["since"]) is date


def test_missing_customer_is_not_found(make_store: StoreFactory) -> None:
    with make_store().transaction() as tx, pytest.raises(NotFound, match="no customer with id 99"):
        tx.get_customer(99)


def test_update_checks_the_version(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
        updated = tx.update_customer(attrs.evolve(stored, name="Ada L."))
    assert updated.version == 2 and updated.name == "Ada L."
    with store.transaction() as tx, pytest.raises(ConcurrencyError) as stale:
        tx.update_customer(attrs.evolve(stored, name="stale write"))
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with store.transaction() as tx:
        assert tx.get_customer(stored.id).name == "Ada L."


def test_update_of_missing_customer_is_not_found(make_store: StoreFactory) -> None:
    with make_store().transaction() as tx, pytest.raises(NotFound):
        tx.update_customer(sample(id=42, version=1))


def test_a_failed_transaction_leaves_nothing_behind(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        kept = tx.insert_customer(sample())
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_customer(sample("Ghost"))
        tx.update_customer(attrs.evolve(kept, name="Changed"))
        tx.put_flow(FlowDefinition("Ghost flow"))
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert [c.name for c in tx.find_customers(MATCH_ALL)] == ["Ada"]
        assert tx.list_flows() == []


def test_find_filters_orders_and_pages(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        a = tx.insert_customer(sample("A", folder="Leads", tags=["VIP"], updated_at=T0))
        b = tx.insert_customer(sample("B", folder="Other", tags=[], status="Prospect"))
        c = tx.insert_customer(
            sample("C", folder=None, tags=["Hot"], updated_at=datetime(2026, 2, 1, tzinfo=UTC))
        )
    with store.transaction() as tx:
        assert [x.id for x in tx.find_customers(MATCH_ALL)] == [a.id, b.id, c.id]
        assert [x.id for x in tx.find_customers(MATCH_ALL, limit=1, offset=1)] == [b.id]
        assert next(x.id for x in tx.find_customers(MATCH_ALL, order="activity")) == c.id
        assert [x.id for x in tx.find_customers(InSet("folder", ("Leads",)))] == [a.id]
        # A missing folder is simply not in the set, and so is in its negation.
        assert [x.id for x in tx.find_customers(Not(InSet("folder", ("Leads",))))] == [b.id, c.id]
        assert [x.id for x in tx.find_customers(SetTest("tags", "none", ("VIP", "Hot")))] == [b.id]
        assert tx.count_customers(SetTest("tags", "any", ("VIP", "Hot"))) == 2
        rule = all_of(SetTest("tags", "all", ("Hot",)), Not(InSet("status", ("Prospect",))))
        assert [x.id for x in tx.find_customers(rule)] == [c.id]
        assert tx.count_by_status(MATCH_ALL) == {"Lead": 2, "Prospect": 1}


def test_tag_filters_follow_updates(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample(tags=["Old"]))
        tx.update_customer(attrs.evolve(stored, tags=["New"]))
    with store.transaction() as tx:
        assert tx.count_customers(SetTest("tags", "any", ("Old",))) == 0
        assert tx.count_customers(SetTest("tags", "any", ("New",))) == 1


def test_events_append_in_order(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
        other = tx.insert_customer(sample("Other"))
        tx.append_events(
            [
                Event(customer_id=stored.id, kind=EventKind.CREATED, at=T0, actor="me"),
                Event(customer_id=other.id, kind=EventKind.CREATED, at=T0, actor="me"),
                Event(
                    customer_id=stored.id,
                    kind=EventKind.STATUS_CHANGED,
                    at=T0,
                    actor="me",
                    data={"from": "Lead", "to": "Prospect", "nested": {"x": [1, None]}},
                ),
            ]
        )
    with store.transaction() as tx:
        timeline = tx.events(stored.id)
    assert [e.kind for e in timeline] == [EventKind.CREATED, EventKind.STATUS_CHANGED]
    assert timeline[0].id < timeline[1].id
    assert timeline[1].data == {"from": "Lead", "to": "Prospect", "nested": {"x": [1, None]}}
    assert timeline[1].at == T0 and timeline[1].actor == "me"


@pytest.mark.parametrize("limit", [0, 1, 3, 7, 50])
def test_the_latest_events_are_the_tail_of_the_timeline(
    make_store: StoreFactory, limit: int
) -> None:
    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        other = tx.insert_customer(sample("Other"))
        tx.append_events(
            [
                Event(customer_id=who.id, kind=EventKind.CREATED, at=T0, actor=f"a{index}")
                for index in range(12)
                for who in (ada, other)
            ]
        )
    with store.transaction() as tx:
        timeline = tx.events(ada.id)
        latest, count = tx.latest_events(ada.id, limit)
    assert count == len(timeline) == 12
    assert latest == (timeline[-limit:] if limit else [])


@pytest.mark.parametrize("count", [1, 3, 250])
def test_appended_events_come_back_with_their_stored_ids(
    make_store: StoreFactory, count: int
) -> None:
    # One event (a note), a few (an edit), many (an import batch): each size may take
    # its own path in a backend, and each must give the ids the timeline reads back.
    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        grace = tx.insert_customer(sample("Grace"))
        earlier = tx.append_events(
            [Event(customer_id=ada.id, kind=EventKind.NOTE, at=T0, actor="me")]
        )
    with store.transaction() as tx:
        appended = tx.append_events(
            [
                Event(
                    customer_id=(ada.id, grace.id)[n % 2],
                    kind=EventKind.NOTE,
                    at=T0,
                    actor="me",
                    data={"text": f"note {n}"},
                    id=999_999,  # ignored: the store gives the id
                )
                for n in range(count)
            ]
        )
    ids = [event.id for event in appended]
    assert len(appended) == count
    assert all(n > 0 for n in ids) and ids == sorted(set(ids))
    assert earlier[0].id not in ids
    assert [e.data["text"] for e in appended] == [f"note {n}" for n in range(count)]
    with store.transaction() as tx:
        timeline = tx.events(ada.id) + tx.events(grace.id)
    assert sorted(timeline, key=lambda e: e.id) == sorted([*earlier, *appended], key=lambda e: e.id)
    with store.transaction() as tx:
        assert tx.append_events([]) == []


def test_event_for_missing_customer_is_refused(make_store: StoreFactory) -> None:
    with make_store().transaction() as tx, pytest.raises(NotFound):
        tx.append_events([Event(customer_id=5, kind=EventKind.CREATED, at=T0, actor="me")])


def test_status_machines_are_stored_by_name(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        assert tx.get_status_machine() is None
        tx.put_status_machine(default_status_machine())
    with store.transaction() as tx:
        assert tx.get_status_machine() == default_status_machine()


def test_flows_create_replace_list_delete(make_store: StoreFactory) -> None:
    store = make_store()
    rule = all_of(InSet("folder", ("Leads",)), SetTest("tags", "any", ("VIP",)))
    flow = FlowDefinition("Sales", rule, [Column("New", "Lead", position=0)])
    with store.transaction() as tx:
        tx.put_flow(flow)
        tx.put_flow(FlowDefinition("Service"))
    with store.transaction() as tx:
        assert tx.get_flow("Sales") == flow
        assert [f.name for f in tx.list_flows()] == ["Sales", "Service"]
        replaced = flow.with_column(Column("Won", "Customer", position=1))
        tx.put_flow(replaced)
    with store.transaction() as tx:
        assert tx.get_flow("Sales") == replaced
        tx.delete_flow("Service")
        with pytest.raises(NotFound):
            tx.get_flow("Service")
        with pytest.raises(NotFound):
            tx.delete_flow("Service")


def test_hidden_customers_leave_only_that_flow(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        tx.put_flow(FlowDefinition("Sales"))
        tx.put_flow(FlowDefinition("Service"))
        ada = tx.insert_customer(sample())
        assert tx.set_hidden("Sales", ada.id, True) is True
        assert tx.set_hidden("Sales", ada.id, True) is False
    with store.transaction() as tx:
        assert tx.hidden_customers("Sales") == [ada.id]
        assert tx.count_customers(MATCH_ALL, hidden_from="Sales") == 0
        assert tx.count_customers(MATCH_ALL, hidden_from="Service") == 1
        assert tx.set_hidden("Sales", ada.id, False) is True
        assert tx.count_customers(MATCH_ALL, hidden_from="Sales") == 1
        with pytest.raises(NotFound):
            tx.set_hidden("Nope", ada.id, True)
        with pytest.raises(NotFound):
            tx.set_hidden("Sales", 999, True)


def test_deleting_a_flow_forgets_its_hides(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        tx.put_flow(FlowDefinition("Sales"))
        ada = tx.insert_customer(sample())
        tx.set_hidden("Sales", ada.id, True)
        tx.delete_flow("Sales")
        tx.put_flow(FlowDefinition("Sales"))
        assert tx.hidden_customers("Sales") == []


# the outbox: fired reminders, deliveries, notifications ---------------------------------


def delivery(n: int = 1, **changes: Any) -> Delivery:
    base = Delivery(
        channel="webhook",
        target=f"http://127.0.0.1/{n}",
        payload={"n": n, "nested": {"list": [1, "two", None]}},
        automation="a",
        customer_id=1,
        event_id=n,
        created_at=T0,
        next_attempt_at=T0 + timedelta(seconds=n),
    )
    return attrs.evolve(base, **changes)


def test_fired_keys_are_recorded_once(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        assert tx.mark_fired(["a", "b", "a"], T0) == ["a", "b"]
        assert tx.mark_fired(["b", "c"], T0) == ["c"]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.mark_fired(["d"], T0) == ["d"]
        raise RuntimeError("rolled back")
    with store.transaction() as tx:
        assert tx.mark_fired(["a", "d", "c"], T0) == ["d"]


def _fresh_store(backend: str) -> Store:
    """A new empty store of ``backend`` for one hypothesis example (skip without PostgreSQL)."""
    if backend == "postgres":
        from .postgres_server import find_bin_dir

        if find_bin_dir() is None:
            pytest.skip("no PostgreSQL binaries")
    return open_store(fresh_store_url(backend))


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=20)
@given(batches=st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=6), max_size=6))
def test_marking_fired_returns_exactly_the_unseen_keys(
    backend: str, batches: list[list[str]]
) -> None:
    store = _fresh_store(backend)
    try:
        seen: set[str] = set()
        for batch in batches:
            with store.transaction() as tx:
                expected = [k for k in dict.fromkeys(batch) if k not in seen]
                assert tx.mark_fired(batch, T0) == expected
            seen.update(batch)
    finally:
        store.close()


def test_deliveries_read_back_and_are_claimed_once(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_deliveries([delivery(1), delivery(2), delivery(3, state="failed")])
    assert [d.id for d in stored] == sorted({d.id for d in stored})
    assert stored[0] == attrs.evolve(delivery(1), id=stored[0].id)
    lease = T0 + timedelta(minutes=5)
    with store.transaction() as tx:
        claimed = tx.claim_deliveries(T0 + timedelta(seconds=1), lease, 10)
        assert [d.id for d in claimed] == [stored[0].id]  # the second is not due yet
        assert claimed[0].lease_until == lease
    with store.transaction() as tx:
        later = T0 + timedelta(seconds=2)
        assert [d.id for d in tx.claim_deliveries(later, lease, 10)] == [stored[1].id]
        assert tx.claim_deliveries(later, lease, 10) == []  # leased, or failed
        # A lease that ran out is claimable again.
        again = tx.claim_deliveries(lease, lease + timedelta(minutes=5), 1)
        assert [d.id for d in again] == [stored[0].id]


def test_an_outcome_is_stored_only_under_the_lease_it_was_claimed_with(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    lease = T0 + timedelta(minutes=5)
    with store.transaction() as tx:
        [new] = tx.insert_deliveries([delivery(0)])
        [claimed] = tx.claim_deliveries(T0, lease, 1)
    done = attrs.evolve(
        claimed, state="delivered", attempts=1, delivered_at=T0, lease_until=None, last_error=""
    )
    with store.transaction() as tx:
        assert not tx.finish_delivery(done, claimed=lease + timedelta(seconds=1))
        assert tx.get_delivery(new.id).state == "pending"
        assert tx.finish_delivery(done, claimed=lease)
        assert tx.get_delivery(new.id) == done
        assert not tx.finish_delivery(done, claimed=lease)  # the lease is gone
        assert tx.list_deliveries(state="delivered") == [done]
        assert tx.list_deliveries(state="pending") == []
    with store.transaction() as tx, pytest.raises(NotFound):
        tx.get_delivery(new.id + 100)


def test_deliveries_list_newest_first_with_a_limit(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_deliveries([delivery(n) for n in range(1, 5)])
        assert [d.id for d in tx.list_deliveries()] == [d.id for d in reversed(stored)]
        assert [d.id for d in tx.list_deliveries(limit=2)] == [stored[3].id, stored[2].id]


def test_notifications_are_read_by_their_recipients(make_store: StoreFactory) -> None:
    store = make_store()

    def note(recipient: str) -> Notification:
        return Notification(
            recipient=recipient,
            message=f"for {recipient}",
            customer_id=1,
            automation="a",
            event_id=None,
            created_at=T0,
        )

    with store.transaction() as tx:
        ann, north, bob = tx.insert_notifications(
            [note("user:ann"), note("team:North"), note("user:bob")]
        )
    assert ann == attrs.evolve(note("user:ann"), id=ann.id)
    mine = ["user:ann", "team:North"]
    with store.transaction() as tx:
        assert tx.list_notifications(mine) == [north, ann]
        assert tx.list_notifications([]) == []
        assert tx.list_notifications(None) == [bob, north, ann]
        assert tx.mark_read([ann.id, bob.id], mine, T0) == [ann.id]
        assert tx.list_notifications(mine, unread_only=True) == [north]
        assert tx.mark_read([ann.id], mine, T0) == []
        assert tx.list_notifications(["user:ann"]) == [attrs.evolve(ann, read_at=T0)]


# linked records (migration 10) ------------------------------------------------------------


def _record(customer_id: int, kind: str = "invoice", ref: str = "INV-1", **changes: Any) -> Any:
    from pipeline_core.domain.records import FileRef, LinkedRecord

    fields: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": kind,
        "ref": ref,
        "state": "open",
        "title": "Invoice ünï ' %",
        "amount": Decimal("1234.5678"),
        "currency": "EUR",
        "at": T0,
        "due": date(2026, 2, 1),
        "payload": {"lines": 3, "paid": False, "ratio": 0.5, "note": "x", "none": None},
        "created_at": T0,
        "updated_at": T0,
    }
    if kind == "conversation":
        fields.update(state="sent", channel="whatsapp", address="+351912345678")
    if kind == "file":
        fields.update(
            state="active",
            file=FileRef(uri="s3://bucket/a.pdf", media_type="application/pdf", size=10),
        )
    fields.update(changes)
    return LinkedRecord(**fields)


def test_linked_records_round_trip_and_are_found_by_kind_state_and_ref(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        grace = tx.insert_customer(sample("Grace"))
        stored = tx.insert_records(
            [
                _record(ada.id),
                _record(ada.id, "conversation", "M-1", at=T0.replace(hour=9)),
                _record(ada.id, "file", "F-1", amount=None, currency=None),
                _record(grace.id),  # the same reference on another customer is another record
            ]
        )
    assert [r.id for r in stored] == sorted({r.id for r in stored})
    with store.transaction() as tx:
        assert tx.get_record(stored[0].id) == stored[0]
        assert tx.get_record(stored[2].id).file == stored[2].file
        assert [r.ref for r in tx.find_records(customer_id=ada.id)] == ["M-1", "INV-1", "F-1"]
        assert [r.id for r in tx.find_records(kinds=["invoice"])] == [stored[0].id, stored[3].id]
        assert tx.find_records(kinds=["invoice"], states=["paid"]) == []
        assert [r.customer_id for r in tx.records_by_ref("invoice", ["INV-1", "nope"])] == [
            ada.id,
            grace.id,
        ]
        paid = attrs.evolve(stored[0], state="paid", amount=Decimal("-0.0001"))
        assert tx.update_record(paid) == paid
        assert tx.get_record(paid.id) == paid
        with pytest.raises(NotFound):
            tx.get_record(9999)


def test_a_customer_holds_one_record_per_kind_and_reference(make_store: StoreFactory) -> None:
    from pipeline_core import InvalidValue

    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        first = tx.insert_records([_record(ada.id)])[0]
        with pytest.raises(InvalidValue, match=r"already holds invoice 'INV-1'"):
            tx.insert_records([_record(ada.id, title="again")])
        with pytest.raises(NotFound):
            tx.insert_records([_record(999)])
        with pytest.raises(InvalidValue, match="customer, kind and reference stay"):
            tx.update_record(attrs.evolve(first, ref="INV-2"))
        tx.insert_records([_record(ada.id, "payment", "INV-1", state="received")])
    with store.transaction() as tx:
        assert len(tx.find_records(customer_id=ada.id)) == 2


def test_records_are_read_only_through_customers_in_scope(make_store: StoreFactory) -> None:
    store = make_store()
    north = InSet("team", ("North",))
    with store.transaction() as tx:
        ada = tx.insert_customer(sample(team="North"))
        grace = tx.insert_customer(sample("Grace", team="South"))
        mine, theirs = tx.insert_records([_record(ada.id), _record(grace.id)])
    with store.transaction() as tx:
        assert tx.find_records(scope=north) == [mine]
        assert tx.get_record(mine.id, scope=north) == mine
        with pytest.raises(NotFound):
            tx.get_record(theirs.id, scope=north)


def test_moving_records_leaves_the_ones_the_target_holds(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        grace = tx.insert_customer(sample("Grace"))
        kept, other = tx.insert_records([_record(ada.id), _record(ada.id, ref="INV-9")])
        clash, moving = tx.insert_records(
            [_record(grace.id), _record(grace.id, "payment", "P-1", state="received")]
        )
        moved, conflicts = tx.move_records(grace.id, ada.id)
    assert moved == [moving.id]
    assert conflicts == [(kept.id, clash.id)]
    with store.transaction() as tx:
        assert [r.id for r in tx.find_records(customer_id=ada.id)] == sorted(
            [kept.id, other.id, moving.id]
        )
        assert [r.id for r in tx.find_records(customer_id=grace.id)] == [clash.id]
        assert tx.get_record(moving.id).customer_id == ada.id


def test_new_activity_counts_other_actors_events_since_last_seen(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    with store.transaction() as tx:
        ada = tx.insert_customer(sample())
        grace = tx.insert_customer(sample("Grace"))
        first = tx.append_events(
            [
                Event(customer_id=ada.id, kind=EventKind.NOTE, at=T0, actor="bob"),
                Event(customer_id=ada.id, kind=EventKind.NOTE, at=T0, actor="ann"),
                Event(customer_id=grace.id, kind=EventKind.NOTE, at=T0, actor="bob"),
            ]
        )
    with store.transaction() as tx:
        assert tx.new_activity("ann", [ada.id, grace.id, 999]) == {ada.id: 1, grace.id: 1}
        tx.mark_seen("ann", ada.id, first[1].id)
        tx.mark_seen("ann", ada.id, first[0].id)  # an older mark never moves it back
    with store.transaction() as tx:
        assert tx.new_activity("ann", [ada.id, grace.id]) == {grace.id: 1}
        assert tx.new_activity("bob", [ada.id]) == {ada.id: 1}
        tx.append_events([Event(customer_id=ada.id, kind=EventKind.NOTE, at=T0, actor="bob")])
        assert tx.new_activity("ann", [ada.id]) == {ada.id: 1}


# the profile read by aggregates (the store's record_profile) ------------------------------

PROFILE_AMOUNTS = ("1200.00", "5", "0.0001", "99.5", "-3.25", "1E+3", "1.5E+2", "0E-7", "0.10")
"""Amounts spelled with different numbers of places: a total keeps the most of them."""


@st.composite
def _profile_records(draw: st.DrawFn) -> list[Any]:
    from pipeline_core.domain.records import BUILTIN_KINDS, CHANNELS, FileRef, LinkedRecord

    records = []
    kinds = st.sampled_from(sorted(BUILTIN_KINDS))
    for index in range(draw(st.integers(0, 14))):
        kind = draw(kinds)
        amount = draw(st.none() | st.sampled_from(PROFILE_AMOUNTS))
        moment = T0 + timedelta(hours=draw(st.integers(-72, 72)))
        records.append(
            LinkedRecord(
                customer_id=draw(st.sampled_from((1, 2))),
                kind=kind,
                ref=f"R-{index}",
                state=draw(st.sampled_from(BUILTIN_KINDS[kind].states)),
                amount=amount,
                currency=None if amount is None else draw(st.sampled_from(("EUR", "USD"))),
                at=draw(st.none() | st.just(moment)),
                start=draw(st.none() | st.just(moment + timedelta(hours=1))),
                due=draw(st.none() | st.sampled_from((date(2026, 1, 3), date(2026, 1, 1)))),
                channel=draw(st.sampled_from(CHANNELS)) if kind == "conversation" else None,
                address="+351912345678" if kind == "conversation" else None,
                file=FileRef(uri="s3://bucket/key") if kind == "file" else None,
                created_at=T0 + timedelta(minutes=draw(st.integers(0, 3))),
            )
        )
    return records


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=30, deadline=None)
@given(records=_profile_records())
def test_the_profile_read_by_aggregates_is_the_profile_of_every_record(
    backend: str, records: list[Any]
) -> None:
    from pipeline_core.domain.records import profile_from_parts, profile_parts, profile_records

    store = _fresh_store(backend)
    try:
        with store.transaction() as tx:
            encode = tx.row_encoder()
            tx.insert_customers(
                [
                    new_customer(Customer(name=n), encode, NormalizeOptions())
                    for n in ("Ada", "Grace")
                ]
            )
            tx.insert_records(records)
            every = tx.find_records(customer_id=1)
            parts = tx.record_profile(1)
        assert parts == profile_parts(every)
        # Decimals equal in value may differ in places: the totals must read the same.
        assert {k: str(v) for k, v in parts.sums.items()} == {
            k: str(v) for k, v in profile_parts(every).sums.items()
        }
        profile = profile_from_parts(parts, T0)
        assert profile == profile_records(every, T0)
        assert repr(profile.payments_received) == repr(profile_records(every, T0).payments_received)
    finally:
        store.close()


# update_status: a move's one-statement write -------------------------------------------

_STATUSES = (
    *default_status_machine().statuses,
    Status("Lost", outcome="lost"),
    Status("Gone", outcome="lost"),
)


def _store_view(tx: Any, customer_id: int) -> tuple[Any, ...]:
    """Everything of the store a customer's update could change, as seen by queries."""
    return (
        tx.get_customer(customer_id),
        tx.find_customers(MATCH_ALL),
        tx.count_by_status(MATCH_ALL),
        tx.find_customers(SetTest("tags", "any", ("VIP",))),
        sorted(tx.contact_keys(customer_id)),
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@settings(max_examples=15, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.sampled_from(_STATUSES),
            st.integers(min_value=1, max_value=10**6),
            st.sampled_from([None, "price", "  budget  "]),
            # How the mover holds the customer: read, locked (the store keeps the row
            # and writes only the status columns that changed), or the copy it got back.
            st.sampled_from(["get", "lock", "kept"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_update_status_leaves_the_store_as_update_customer_would(
    backend: str, moves: list[tuple[Status, int, str | None, str]]
) -> None:
    stores = (_fresh_store(backend), _fresh_store(backend))
    try:
        current: list[Customer] = []
        for store in stores:
            with store.transaction() as tx:
                tx.insert_customer(sample("Grace", emails=["grace@example.com"]))
                current.append(tx.insert_customer(sample()))
        for status, seconds, reason, held in moves:
            now = T0 + timedelta(seconds=seconds)
            written = []
            for store, by_status, before in zip(stores, (False, True), current, strict=True):
                with store.transaction() as tx:
                    if held == "get":
                        before = tx.get_customer(before.id)
                    elif held == "lock":
                        before = tx.lock_customer(before.id)
                    stored = (
                        tx.update_status(before, status_changes(before, status, now, reason))
                        if by_status
                        else tx.update_customer(enter_status(before, status, now, reason))
                    )
                    written.append((stored, _store_view(tx, before.id)))
                with store.transaction() as tx:
                    assert _store_view(tx, before.id) == written[-1][1]
            assert written[0] == written[1]
            assert written[1][0].version == current[1].version + 1
            assert written[1][0].status == status.name
            current = [stored for stored, _ in written]
    finally:
        for store in stores:
            store.close()


def test_update_status_twice_in_one_transaction_writes_what_each_move_changed(
    make_store: StoreFactory,
) -> None:
    # The second move's stored row is the first move's result: a column the first one
    # set (outcome, closed date) must still be cleared by the second.
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
    won = Status("Won", outcome="won")
    with store.transaction() as tx:
        locked = tx.lock_customer(stored.id)
        closed = tx.update_status(locked, status_changes(locked, won, T0 + timedelta(days=1)))
        reopened = tx.update_status(
            closed, status_changes(closed, _STATUSES[0], T0 + timedelta(days=2))
        )
    assert (closed.outcome, closed.closed_at) == ("won", T0 + timedelta(days=1))
    assert (reopened.outcome, reopened.closed_at, reopened.version) == (None, None, 3)
    with store.transaction() as tx:
        assert tx.get_customer(stored.id) == reopened


def test_update_status_checks_the_version_and_the_tombstone(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        survivor = tx.insert_customer(sample("Grace"))
        stored = tx.insert_customer(sample())
        moved = tx.update_status(
            stored, status_changes(stored, _STATUSES[1], T0 + timedelta(days=1))
        )
    assert (moved.version, moved.status) == (2, "Prospect")
    with store.transaction() as tx, pytest.raises(ConcurrencyError) as stale:
        tx.update_status(stored, status_changes(stored, _STATUSES[2], T0 + timedelta(days=2)))
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with store.transaction() as tx:
        assert tx.get_customer(stored.id) == moved
    with store.transaction() as tx, pytest.raises(NotFound, match="no customer with id 999"):
        tx.update_status(sample(id=999, version=1), {"status": "Prospect"})
    with store.transaction() as tx:
        tx.mark_merged(stored.id, survivor.id)
    with store.transaction() as tx, pytest.raises(MergedMeanwhile) as merged:
        tx.update_status(moved, status_changes(moved, _STATUSES[2], T0 + timedelta(days=3)))
    assert merged.value.into == survivor.id


def test_update_status_refuses_a_change_outside_the_status_columns(
    make_store: StoreFactory,
) -> None:
    # A move's write touches no tags, keys or search terms: a name among its changes
    # that they would need is a caller's bug, refused before anything is written.
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
    with store.transaction() as tx, pytest.raises(KeyError, match="name"):
        tx.update_status(stored, {"status": "Prospect", "name": "Someone else"})
    with store.transaction() as tx:
        assert tx.get_customer(stored.id) == stored


def test_a_failed_transaction_takes_its_status_update_back(make_store: StoreFactory) -> None:
    store = make_store()
    with store.transaction() as tx:
        stored = tx.insert_customer(sample())
    with pytest.raises(RuntimeError, match="rolled back"), store.transaction() as tx:
        tx.update_status(
            stored, status_changes(stored, _STATUSES[-1], T0 + timedelta(days=1), "price")
        )
        raise RuntimeError("rolled back")
    with store.transaction() as tx:
        assert tx.get_customer(stored.id) == stored
