"""The customer's life on every backend: notes, contacts, follow-ups, tasks, time, deals, families."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from pipeline_core import Customer, EventKind, FixedClock, InvalidValue, NotFound, Workspace
from pipeline_core.domain.statuses import EntryAction, Status, StatusMachine
from pipeline_core.errors import AlreadyConverted

DEALS = StatusMachine(
    [
        Status("Open"),
        Status("Won", outcome="won", actions=(EntryAction.STAMP_CONVERTED_AT,)),
        Status("Paid", outcome="won"),
        Status("Lost", outcome="lost"),
        Status("Gone", outcome="lost"),
    ],
    {
        "Open": ("Won", "Lost"),
        "Won": ("Paid", "Open", "Lost"),
        "Paid": ("Open",),
        "Lost": ("Open", "Gone"),
        "Gone": ("Open",),
    },
)


def add(ws: Workspace, name: str = "Ada", **details: object) -> Customer:
    return ws.customers.add(Customer(name=name, **details))  # type: ignore[arg-type]


def kinds(ws: Workspace, customer_id: int) -> list[EventKind]:
    return [event.kind for event in ws.customers.timeline(customer_id)]


def test_notes_are_timeline_events_listed_in_order(workspace: Workspace) -> None:
    ada = add(workspace)
    workspace.notes.add(ada.id, " first ")
    workspace.notes.add(ada.id, "second")
    assert [n.data["text"] for n in workspace.notes.list(ada.id)] == ["first", "second"]
    assert kinds(workspace, ada.id) == [EventKind.CREATED, EventKind.NOTE, EventKind.NOTE]
    with pytest.raises(InvalidValue, match="blank"):
        workspace.notes.add(ada.id, "  ")
    with pytest.raises(NotFound):
        workspace.notes.add(999, "x")


def test_log_contact_stamps_now_and_prepends_notes(workspace: Workspace, clock: FixedClock) -> None:
    ada = add(workspace)
    first = workspace.customers.contact(ada.id, "called, no answer", channel="phone")
    assert first.last_contacted_at == clock.now()
    clock.advance(timedelta(days=1))
    second = workspace.customers.contact(ada.id, "spoke to her")
    assert second.last_contacted_at == clock.now()
    assert second.lead_notes.splitlines() == [
        "[2026-01-02T09:00+00:00] spoke to her",
        "[2026-01-01T09:00+00:00] called, no answer",
    ]
    contact = workspace.customers.timeline(ada.id, [EventKind.CONTACT_LOGGED])[0]
    assert contact.data == {"notes": "called, no answer", "channel": "phone"}
    assert workspace.customers.contact(ada.id).lead_notes == second.lead_notes


def test_timeline_filters_by_kind(workspace: Workspace) -> None:
    ada = add(workspace)
    workspace.notes.add(ada.id, "n")
    workspace.customers.move(ada.id, "Prospect")
    workspace.notes.add(ada.id, "m")
    only = workspace.customers.timeline(ada.id, ["note", EventKind.STATUS_CHANGED])
    assert [e.kind for e in only] == [EventKind.NOTE, EventKind.STATUS_CHANGED, EventKind.NOTE]
    with pytest.raises(ValueError, match="nope"):
        workspace.customers.timeline(ada.id, ["nope"])


def test_follow_up_reminder_falls_due_at_the_local_hour(
    workspace: Workspace, clock: FixedClock
) -> None:
    workspace.settings.set(time_zone="Europe/Lisbon", reminder_hour=8)
    ada = add(workspace)
    workspace.customers.follow_up(ada.id, date(2026, 7, 1), "send the quote")
    # Lisbon is UTC+1 in July: 08:00 local is 07:00 UTC.
    assert workspace.reminders.due(datetime(2026, 7, 1, 6, 59, tzinfo=UTC)) == []
    [due] = workspace.reminders.due(datetime(2026, 7, 1, 7, 0, tzinfo=UTC))
    assert (due.customer_id, due.due_on) == (ada.id, date(2026, 7, 1))
    assert due.due_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    clock.current = datetime(2026, 7, 2, tzinfo=UTC)
    assert [r.customer_id for r in workspace.reminders.due()] == [ada.id]
    done = workspace.customers.follow_up_done(ada.id, "sent")
    assert done.next_follow_up is None
    assert workspace.reminders.due() == []
    assert kinds(workspace, ada.id)[-2:] == [
        EventKind.FOLLOW_UP_SCHEDULED,
        EventKind.FOLLOW_UP_DONE,
    ]
    with pytest.raises(InvalidValue, match="no follow-up scheduled"):
        workspace.customers.follow_up_done(ada.id)
    with pytest.raises(InvalidValue, match="time zone offset"):
        workspace.reminders.due(datetime(2026, 7, 1))


def test_settings_are_validated_and_kept(workspace: Workspace) -> None:
    with pytest.raises(InvalidValue, match="IANA"):
        workspace.settings.set(time_zone="Mars/Olympus")
    with pytest.raises(InvalidValue, match="0 to 23"):
        workspace.settings.set(reminder_hour=24)
    workspace.settings.set(lost_reasons=["Price", "Ghosted"])
    settings = workspace.settings.set(reminder_hour=9)
    assert settings.lost_reasons == ("Price", "Ghosted") and settings.reminder_hour == 9
    assert workspace.settings.show() == settings


def test_tasks_with_checklists_open_and_overdue(workspace: Workspace, clock: FixedClock) -> None:
    ada, bob = add(workspace), add(workspace, "Bob")
    late = workspace.tasks.add(
        ada.id, "Send quote", due=date(2025, 12, 31), worker="eve", steps=["draft", "send"]
    )
    soon = workspace.tasks.add(ada.id, "Visit", due=date(2026, 1, 5), worker="eve")
    other = workspace.tasks.add(bob.id, "Call", due=date(2025, 12, 1), priority="high")
    assert [t.id for t in workspace.tasks.list(customer_id=ada.id)] == [late.id, soon.id]
    assert [t.id for t in workspace.tasks.overdue(worker="eve")] == [late.id]
    assert [t.id for t in workspace.tasks.overdue()] == [other.id, late.id]
    ticked = workspace.tasks.tick(late.id, 1)
    assert [s.done for s in ticked.steps] == [True, False]
    assert workspace.tasks.get(late.id) == ticked
    with pytest.raises(InvalidValue, match="no step 3"):
        workspace.tasks.tick(late.id, 3)
    done = workspace.tasks.done(late.id)
    assert done.done_at == clock.now()
    assert workspace.tasks.overdue(worker="eve") == []
    assert [t.id for t in workspace.tasks.list(worker="eve", open_only=True)] == [soon.id]
    assert workspace.tasks.reopen(late.id).done_at is None
    clock.current = datetime(2026, 1, 6, tzinfo=UTC)
    assert {t.id for t in workspace.tasks.overdue(customer_id=ada.id)} == {late.id, soon.id}
    assert kinds(workspace, ada.id).count(EventKind.TASK_CREATED) == 2
    assert EventKind.TASK_DONE in kinds(workspace, ada.id)
    with pytest.raises(InvalidValue, match="priority"):
        workspace.tasks.add(ada.id, "x", priority="asap")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        workspace.tasks.add(999, "x")


def test_time_entries_sum_per_customer_and_worker(workspace: Workspace) -> None:
    ada, bob = add(workspace), add(workspace, "Bob")
    workspace.time.log(ada.id, "eve", 30, note="call")
    workspace.time.log(ada.id, "sam", 45)
    workspace.time.log(bob.id, "eve", 15)
    per_ada = workspace.time.summary(customer_id=ada.id)
    assert per_ada.total_minutes == 75 and per_ada.by_worker == {"eve": 30, "sam": 45}
    per_eve = workspace.time.summary(worker="eve")
    assert per_eve.by_customer == {ada.id: 30, bob.id: 15} and per_eve.total_minutes == 45
    assert len(workspace.time.list()) == 3
    with pytest.raises(InvalidValue, match="above zero"):
        workspace.time.log(ada.id, "eve", 0)
    assert EventKind.TIME_LOGGED in kinds(workspace, ada.id)


def test_won_and_lost_close_dates_and_reasons(workspace: Workspace, clock: FixedClock) -> None:
    workspace.folders.add("Deals", DEALS)
    ada = add(workspace, folder="Deals")
    assert ada.status == "Open" and ada.outcome is None
    with pytest.raises(InvalidValue, match="needs a reason"):
        workspace.customers.move(ada.id, "Lost")
    with pytest.raises(InvalidValue, match="unknown lost reason"):
        workspace.customers.move(ada.id, "Lost", reason="Weather")
    with pytest.raises(InvalidValue, match="needs a text"):
        workspace.customers.move(ada.id, "Lost", reason="other")
    lost = workspace.customers.move(ada.id, "Lost", reason="price")
    assert (lost.outcome, lost.lost_reason, lost.closed_at) == ("lost", "Price", clock.now())
    assert workspace.customers.timeline(ada.id)[-1].data["reason"] == "Price"
    clock.advance(timedelta(days=1))
    gone = workspace.customers.move(ada.id, "Gone")
    assert gone.closed_at == lost.closed_at and gone.lost_reason == "Price"
    reopened = workspace.customers.move(ada.id, "Open")
    assert (reopened.outcome, reopened.closed_at, reopened.lost_reason) == (None, None, None)
    clock.advance(timedelta(days=1))
    won = workspace.customers.move(ada.id, "Won")
    assert (won.outcome, won.closed_at, won.converted_at) == ("won", clock.now(), clock.now())
    clock.advance(timedelta(days=1))
    paid = workspace.customers.move(ada.id, "Paid")
    assert paid.closed_at == won.closed_at
    back = workspace.customers.move(ada.id, "Open")
    assert back.closed_at is None and back.converted_at == won.converted_at
    other = workspace.customers.move(ada.id, "Lost", reason="Other", reason_text="moved abroad")
    assert other.lost_reason == "other: moved abroad"


def test_deal_value_needs_a_currency(workspace: Workspace) -> None:
    ada = add(workspace)
    with pytest.raises(InvalidValue, match="needs a currency"):
        workspace.customers.deal(ada.id, "100")
    deal = workspace.customers.deal(ada.id, "1500.50", "eur")
    assert (deal.value, deal.currency) == (Decimal("1500.50"), "EUR")
    assert workspace.customers.deal(ada.id, "99").value == Decimal("99")
    with pytest.raises(InvalidValue, match="not a number"):
        workspace.customers.deal(ada.id, "lots")


def test_convert_to_order_once_unless_forced(workspace: Workspace, clock: FixedClock) -> None:
    ada = add(workspace)
    converted = workspace.customers.convert(ada.id, "SO-1")
    assert (converted.order_id, converted.converted_at) == ("SO-1", clock.now())
    clock.advance(timedelta(hours=1))
    with pytest.raises(AlreadyConverted, match="'SO-1'"):
        workspace.customers.convert(ada.id, "SO-2")
    forced = workspace.customers.convert(ada.id, "SO-2", force=True)
    assert forced.order_id == "SO-2" and forced.converted_at == converted.converted_at
    events = workspace.customers.timeline(ada.id, [EventKind.CONVERTED])
    assert [e.data["order_id"] for e in events] == ["SO-1", "SO-2"]
    assert events[1].data["forced"] is True


def test_sub_customers_children_tree_and_cycles(workspace: Workspace) -> None:
    acme = add(workspace, "Acme")
    branch = add(workspace, "Acme North", parent_id=acme.id)
    ada = add(workspace, "Ada")
    workspace.customers.parent(ada.id, branch.id)
    assert [c.id for c in workspace.customers.children(acme.id)] == [branch.id]
    tree = workspace.customers.tree(acme.id)
    assert [(d, c.id) for d, c in tree.walk()] == [(0, acme.id), (1, branch.id), (2, ada.id)]
    assert workspace.customers.tree(ada.id, from_root=True).customer.id == acme.id
    with pytest.raises(InvalidValue, match="cycle"):
        workspace.customers.parent(acme.id, ada.id)
    assert workspace.customers.parent(ada.id, None).parent_id is None
    assert workspace.customers.children(branch.id) == []


def test_workers_assign_unassign_and_their_customers(workspace: Workspace) -> None:
    ada, bob = add(workspace), add(workspace, "Bob")
    workspace.workers.assign(ada.id, "eve")
    workspace.workers.assign(bob.id, "eve")
    assert workspace.workers.assign(ada.id, "eve").workers == ("eve",)
    assert [c.id for c in workspace.workers.customers("eve")] == [ada.id, bob.id]
    assert workspace.workers.unassign(ada.id, "eve").workers == ()
    assert [c.id for c in workspace.workers.customers("eve")] == [bob.id]
    with pytest.raises(InvalidValue, match="not assigned"):
        workspace.workers.unassign(ada.id, "eve")
    assert kinds(workspace, ada.id)[1:] == [
        EventKind.WORKER_ASSIGNED,
        EventKind.WORKER_UNASSIGNED,
    ]


def test_external_activity_lands_on_the_timeline(workspace: Workspace, clock: FixedClock) -> None:
    ada = add(workspace)
    paid_at = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    event = workspace.customers.activity(
        ada.id, "order_paid", "Order 17 paid", at=paid_at, ref="shop:17", data={"amount": "20"}
    )
    [stored] = workspace.customers.timeline(ada.id, [EventKind.EXTERNAL])
    assert stored.data == event.data
    assert stored.data["activity"] == "order_paid" and stored.data["ref"] == "shop:17"
    assert stored.data["occurred_at"] == paid_at.isoformat() and stored.at == clock.now()
    with pytest.raises(InvalidValue, match="needs a kind"):
        workspace.customers.activity(ada.id, " ", "x")
    with pytest.raises(InvalidValue, match="time zone"):
        workspace.customers.activity(ada.id, "call", "x", at=datetime(2026, 1, 1))


def test_360_view_gathers_everything(workspace: Workspace) -> None:
    acme = add(workspace, "Acme")
    ada = add(workspace, "Ada", parent_id=acme.id, workers=["eve"])
    kid = add(workspace, "Kid", parent_id=ada.id)
    late = workspace.tasks.add(ada.id, "Late", due=date(2025, 1, 1))
    workspace.tasks.add(ada.id, "Later", due=date(2027, 1, 1))
    done = workspace.tasks.add(ada.id, "Done")
    workspace.tasks.done(done.id)
    workspace.customers.follow_up(ada.id, date(2026, 2, 1))
    workspace.time.log(ada.id, "eve", 20)
    for index in range(12):
        workspace.notes.add(ada.id, f"note {index}")
    view = workspace.customers.show(ada.id, recent=5)
    assert view.customer.id == ada.id and view.parent == workspace.customers.get(acme.id)
    assert [c.id for c in view.children] == [kid.id]
    assert [t.title for t in view.open_tasks] == ["Late", "Later"]
    assert view.overdue_tasks == (late.id,)
    assert view.follow_up_due_at == datetime(2026, 2, 1, 8, tzinfo=UTC)
    assert view.time.total_minutes == 20
    assert [e.data["text"] for e in view.recent_events] == [f"note {i}" for i in range(7, 12)]
    assert view.event_count == len(workspace.customers.timeline(ada.id))
