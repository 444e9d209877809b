"""The outbox: deliveries written with their cause, sent to real local receivers, once.

An HTTP server and an SMTP server on 127.0.0.1, started by the tests
(tests/receivers.py), receive what the runner sends; the clock is fixed, so
retries happen when the test moves it past the backoff.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.outbox import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    DeliverySettings,
    signature_matches,
)
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.workspace import customers

from .conftest import StoreFactory
from .receivers import http_receiver, smtp_receiver, webhook_automation

SECRET = "test-secret"
FRIDAY = date(2026, 1, 9)
AFTER_8_NEW_YORK = datetime(2026, 1, 9, 13, 30, tzinfo=UTC)  # 08:30 in New York


@pytest.fixture
def ws(make_store: StoreFactory) -> Workspace:
    """A workspace in New York at 08:30 on Friday, with a webhook secret."""
    workspace = Workspace(make_store(), clock=FixedClock(AFTER_8_NEW_YORK))
    workspace.settings.set(time_zone="America/New_York")
    workspace.deliveries.configure(webhook_secret=SECRET, backoff=30.0)
    return workspace


def clock_of(ws: Workspace) -> FixedClock:
    assert isinstance(ws.clock, FixedClock)
    return ws.clock


def ada_and_bob(ws: Workspace) -> tuple[int, int]:
    ada = ws.customers.add(Customer(name="Ada", emails=["ada@example.com"], tags=["VIP"]))
    bob = ws.customers.add(Customer(name="Bob"))
    ws.customers.follow_up(ada.id, FRIDAY)
    ws.customers.follow_up(bob.id, FRIDAY)
    return ada.id, bob.id


def webhook_on_reminders(ws: Workspace, url: str) -> None:
    ws.automations.add(webhook_automation(url, "friday", 'tags any ("VIP")'))


def test_a_webhook_is_retried_with_backoff_then_delivered_once(ws: Workspace) -> None:
    with http_receiver(fail_first=2) as receiver:
        webhook_on_reminders(ws, receiver.url)
        ada, _ = ada_and_bob(ws)
        fired = ws.reminders.run()
        assert len(fired.reminders) == 2  # both are due; only Ada matches the rule
        [pending] = ws.deliveries.list()
        assert (pending.state, pending.customer_id, pending.target) == (
            "pending",
            ada,
            receiver.url,
        )

        assert ws.deliveries.run().retried == 1
        assert ws.deliveries.run().retried == 0  # the retry waits out its backoff
        assert len(receiver.requests) == 1
        clock_of(ws).advance(timedelta(seconds=30))
        assert ws.deliveries.run().retried == 1
        clock_of(ws).advance(timedelta(seconds=59))
        assert ws.deliveries.run().delivered == 0  # the second wait is 60 s
        clock_of(ws).advance(timedelta(seconds=1))
        assert ws.deliveries.run().delivered == 1
        clock_of(ws).advance(timedelta(days=1))
        assert ws.deliveries.run().delivered == 0
        assert ws.reminders.run().events == ()

    assert len(receiver.requests) == 3
    assert receiver.accepted == {str(pending.id): 1}
    for headers, body in receiver.requests:
        assert signature_matches(SECRET, body, headers[SIGNATURE_HEADER])
        assert headers[DELIVERY_HEADER] == str(pending.id)
        assert headers["Content-Type"] == "application/json"
    payload = json.loads(receiver.requests[-1][1])
    assert payload["delivery"] == pending.id
    assert payload["automation"] == "friday"
    assert payload["customer"]["name"] == "Ada"
    assert payload["event"]["kind"] == "reminder_due"
    assert payload["event"]["data"]["due_at"] == "2026-01-09T08:00:00-05:00"
    [done] = ws.deliveries.list(state="delivered")
    assert (done.attempts, done.last_error, done.lease_until) == (3, "", None)


def test_a_wrong_secret_does_not_verify() -> None:
    assert not signature_matches("other", b"{}", "sha256=" + "0" * 64)


def test_a_refused_webhook_is_kept_with_its_reason_and_retried_by_hand(ws: Workspace) -> None:
    with http_receiver(fail_first=1, fail_status=404) as receiver:
        webhook_on_reminders(ws, receiver.url)
        ada_and_bob(ws)
        ws.reminders.run()
        assert ws.deliveries.run().failed == 1
        [failed] = ws.deliveries.list(state="failed")
        assert "HTTP 404" in failed.last_error
        clock_of(ws).advance(timedelta(days=1))
        assert ws.deliveries.run().delivered == 0  # a permanent failure is not retried
        ws.deliveries.retry(failed.id)
        assert ws.deliveries.run().delivered == 1
        with pytest.raises(InvalidValue, match="never sent again"):
            ws.deliveries.retry(failed.id)
    assert receiver.accepted == {str(failed.id): 1}


def test_a_receiver_that_is_down_fails_for_good_after_the_last_attempt(ws: Workspace) -> None:
    ws.deliveries.configure(max_attempts=2, backoff=1.0)
    webhook_on_reminders(ws, "http://127.0.0.1:9/nobody")
    ada_and_bob(ws)
    ws.reminders.run()
    assert ws.deliveries.run().retried == 1
    clock_of(ws).advance(timedelta(seconds=1))
    assert ws.deliveries.run().failed == 1
    [failed] = ws.deliveries.list(state="failed")
    assert failed.attempts == 2
    assert "cannot reach" in failed.last_error


def test_a_delivery_exists_exactly_when_its_cause_commits(ws: Workspace) -> None:
    ws.automations.add(
        Automation(
            name="moved",
            on=EventKind.STATUS_CHANGED,
            actions=(Action(kind="webhook", value="http://127.0.0.1:9/x"),),
        )
    )
    ada = ws.customers.add(Customer(name="Ada"))
    with pytest.raises(RuntimeError), ws.session() as s:
        customers.move(s, ada.id, "Prospect")
        raise RuntimeError("rolled back")
    assert ws.deliveries.list() == []
    ws.customers.move(ada.id, "Prospect")
    [delivery] = ws.deliveries.list()
    assert (delivery.automation, delivery.customer_id) == ("moved", ada.id)


def test_an_email_goes_through_smtp_with_the_customers_fields(ws: Workspace) -> None:
    with smtp_receiver() as mailbox:
        ws.deliveries.configure(
            smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_starttls=False, sender="crm@x.io"
        )
        ws.automations.add(
            Automation(
                name="mail",
                on=EventKind.REMINDER_DUE,
                actions=(
                    Action(
                        kind="email",
                        subject="Follow up with $name",
                        body="Due $due_at; write to $email.",
                    ),
                ),
            )
        )
        _, bob = ada_and_bob(ws)
        ws.reminders.run()
        report = ws.deliveries.run()
        assert (report.delivered, report.failed) == (1, 0)
        assert ws.deliveries.run().delivered == 0
    [message] = mailbox.messages
    assert mailbox.envelopes == [("crm@x.io", ["ada@example.com"])]
    assert message["Subject"] == "Follow up with Ada"
    assert "Due 2026-01-09T08:00:00-05:00; write to ada@example.com." in message.get_payload()
    [no_address] = ws.deliveries.list(state="failed")
    assert (no_address.customer_id, no_address.last_error) == (
        bob,
        f"customer {bob} has no email address",
    )


def test_email_without_an_smtp_host_fails_with_the_reason(ws: Workspace) -> None:
    ws.automations.add(
        Automation(name="mail", on=EventKind.REMINDER_DUE, actions=(Action(kind="email"),))
    )
    ada_and_bob(ws)
    ws.reminders.run()
    assert ws.deliveries.run().failed == 1
    [failed] = [d for d in ws.deliveries.list(state="failed") if d.target]
    assert "no SMTP host" in failed.last_error


def test_notifications_reach_a_user_or_a_team(ws: Workspace) -> None:
    ws.teams.add("North")
    ws.users.add("ann", "agent", ["North"])
    ws.users.add("bob", "agent", [])
    ws.automations.add(
        Automation(
            name="tell",
            on=EventKind.REMINDER_DUE,
            rule='tags any ("VIP")',
            actions=(
                Action(kind="notify", value="team:North", body="Call $name at $due_at"),
                Action(kind="notify", value="bob", body="FYI $name"),
            ),
        )
    )
    ada_and_bob(ws)
    ws.reminders.run()
    ann, bob = ws.as_user("ann"), ws.as_user("bob")
    [for_ann] = ann.notifications.list()
    assert (for_ann.recipient, for_ann.message) == (
        "team:North",
        "Call Ada at 2026-01-09T08:00:00-05:00",
    )
    [for_bob] = bob.notifications.list(unread=True)
    assert for_bob.recipient == "user:bob"
    with pytest.raises(NotFound):
        ann.notifications.read([for_bob.id])
    assert ann.notifications.read([for_ann.id]) == [for_ann.id]
    assert ann.notifications.read([for_ann.id]) == []
    assert ann.notifications.list(unread=True) == []
    assert len(ws.notifications.list()) == 2  # the system actor sees everyone's


def test_reminders_and_overdue_tasks_fire_once_each(ws: Workspace) -> None:
    seen: list[EventKind] = []
    ws.on(EventKind.TASK_DUE, lambda event, _: seen.append(event.kind))
    ada, _ = ada_and_bob(ws)
    task = ws.tasks.add(ada, "Send the quote", due=date(2026, 1, 8))
    ws.tasks.add(ada, "Later", due=date(2026, 1, 9))  # due today: not overdue yet
    first = ws.reminders.run()
    assert [e.kind for e in first.events] == [EventKind.REMINDER_DUE] * 2 + [EventKind.TASK_DUE]
    assert [t.id for t in first.tasks] == [task.id]
    assert seen == [EventKind.TASK_DUE]
    assert ws.reminders.run().events == ()
    ws.customers.follow_up(ada, date(2026, 1, 10))
    assert ws.reminders.run().events == ()  # not due before 08:00 on the 10th
    again = ws.reminders.run(datetime(2026, 1, 10, 13, 0, tzinfo=UTC))
    assert [(e.customer_id, e.kind) for e in again.events[:1]] == [(ada, EventKind.REMINDER_DUE)]
    assert [e.data["task"] for e in again.events if e.kind is EventKind.TASK_DUE] == [task.id + 1]
    timeline = [e.kind for e in ws.customers.timeline(ada)]
    assert timeline.count(EventKind.REMINDER_DUE) == 2


@given(attempts=st.integers(min_value=1, max_value=40), backoff=st.floats(0.1, 1000))
def test_retries_back_off_doubling_up_to_the_cap(attempts: int, backoff: float) -> None:
    settings = DeliverySettings(backoff=backoff, max_backoff=3600.0, max_attempts=20)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    when = settings.retry_at(attempts, now)
    if attempts >= 20:
        assert when is None
        return
    assert when is not None
    wait = (when - now).total_seconds()
    assert wait == pytest.approx(min(backoff * 2 ** (attempts - 1), 3600.0))
    later = settings.retry_at(attempts + 1, now)
    assert later is None or later >= when


def test_bad_actions_are_refused() -> None:
    with pytest.raises(InvalidValue, match="http"):
        Action(kind="webhook", value="ftp://x")
    with pytest.raises(InvalidValue, match="user:NAME"):
        Action(kind="notify", value="group:x")


def test_people_read_times_in_the_workspace_zone(ws: Workspace) -> None:
    ada, _ = ada_and_bob(ws)
    noted = ws.customers.contact(ada, "left a message")
    assert noted.lead_notes.splitlines()[0] == "[2026-01-09T08:30-05:00] left a message"
    [reminder, _] = ws.reminders.due()
    assert reminder.due_at == datetime(2026, 1, 9, 13, 0, tzinfo=UTC)
    [event, _] = ws.reminders.run().events
    assert event.data["due_at"] == "2026-01-09T08:00:00-05:00"
    assert event.data["message"] == "Follow up with Ada (due 2026-01-09T08:00:00-05:00)"


# The test server takes AUTH on the loopback without TLS, which aiosmtpd warns about.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_logs_in_with_credentials_from_the_environment(ws: Workspace) -> None:
    with smtp_receiver(login=("crm", "pa55")) as mailbox:
        ws.deliveries.configure(
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_starttls=False,
            smtp_user_env="CRM_SMTP_USER",
            smtp_password_env="CRM_SMTP_PASSWORD",
        )
        ws.automations.add(
            Automation(name="mail", on=EventKind.REMINDER_DUE, actions=(Action(kind="email"),))
        )
        ada_and_bob(ws)
        ws.reminders.run()
        wrong = {"CRM_SMTP_USER": "crm", "CRM_SMTP_PASSWORD": "guess"}
        assert ws.deliveries.run(env=wrong).failed == 1  # a refused login will not get better
        [refused] = [d for d in ws.deliveries.list(state="failed") if d.target]
        assert "SMTP 535" in refused.last_error
        ws.deliveries.retry(refused.id)
        right = {"CRM_SMTP_USER": "crm", "CRM_SMTP_PASSWORD": "pa55"}
        assert ws.deliveries.run(env=right).delivered == 1
    [message] = mailbox.messages
    assert message["Subject"] == "reminder_due: Ada"
    assert "pa55" not in repr(ws.deliveries.settings())


def test_a_runner_stopped_half_way_fires_nothing_and_the_next_run_fires_all(
    ws: Workspace,
) -> None:
    from pipeline_core.workspace import firing

    ada_and_bob(ws)
    with pytest.raises(RuntimeError), ws.session() as s:
        assert len(firing.fire(s).events) == 2
        raise RuntimeError("killed before the commit")
    assert [e.kind for e in ws.customers.timeline(1)].count(EventKind.REMINDER_DUE) == 0
    assert len(ws.reminders.run().events) == 2


@given(template=st.text(max_size=40))
def test_templates_only_substitute_the_given_values(template: str) -> None:
    from pipeline_core.domain.outbox import render

    values = {"name": "Ada"}
    rendered = render(template, values)
    assert isinstance(rendered, str)
    assert render(template + " $name", values).endswith(" Ada")
    assert "{" not in rendered or "{" in template  # nothing but values is ever inserted


@given(
    outcomes=st.lists(st.sampled_from(["ok", "retry", "permanent"]), max_size=10),
    max_attempts=st.integers(min_value=1, max_value=5),
)
def test_a_delivery_follows_its_outcomes_and_ends_once(
    outcomes: list[str], max_attempts: int
) -> None:
    from pipeline_core.workspace import outbox

    clock = FixedClock(AFTER_8_NEW_YORK)
    ws = Workspace.open("memory:", clock=clock)
    ws.deliveries.configure(webhook_secret=SECRET, max_attempts=max_attempts)
    webhook_on_reminders(ws, "http://127.0.0.1:9/x")
    ada_and_bob(ws)
    ws.reminders.run()
    lease = timedelta(minutes=5)
    tried: list[str] = []
    for outcome in outcomes:
        clock.advance(timedelta(hours=7))  # past any backoff and any lease
        claimed, settings, until = ws.run(outbox.claim, 10, lease)
        [before] = ws.deliveries.list()
        if before.state != "pending":
            assert claimed == []  # a delivered or failed delivery is never claimed again
            continue
        [delivery] = claimed
        result = outbox.Outcome(
            outcome == "ok", "" if outcome == "ok" else "x", outcome == "permanent"
        )
        ws.run(outbox.record, delivery, until, result, settings)
        tried.append(outcome)
    [after] = ws.deliveries.list()
    assert after.attempts == len(tried)
    assert after.lease_until is None
    if "ok" in tried:
        assert tried[-1] == "ok" and after.state == "delivered"
    elif tried and (tried[-1] == "permanent" or len(tried) >= max_attempts):
        assert after.state == "failed" and after.last_error == "x"
    else:
        assert after.state == "pending"
    assert tried.count("ok") <= 1 and "permanent" not in tried[:-1]
