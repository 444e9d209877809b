"""The outbox commands through click's CliRunner: reminders run, deliveries, notifications."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline_core.cli import cli
from pipeline_core.domain.outbox import SIGNATURE_HEADER, signature_matches
from pipeline_core.storage import open_store

from .receivers import http_receiver
from .test_cli_life import add, data, ok, run

FRIDAY_8AM = "2026-01-09T08:00-05:00"


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A workspace in New York with Ada (VIP) due for a follow-up on Friday."""
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    assert CliRunner().invoke(cli, ["--store", url, "init"]).exit_code == 0
    ok(url, "settings", "set", "--time-zone", "America/New_York")
    ada = add(url, "Ada Lovelace", "--email", "ada@example.com", "--tag", "VIP")
    ok(url, "customers", "follow-up", ada, "2026-01-09")
    return url


def test_reminders_run_fires_once_and_prints_times_in_the_zone(store: str) -> None:
    [event] = data(store, "reminders", "run", "--at", FRIDAY_8AM)
    assert (event["kind"], event["customer_id"]) == ("reminder_due", 1)
    assert event["data"]["due_at"] == "2026-01-09T08:00:00-05:00"
    assert event["at"].endswith("-05:00")
    assert data(store, "reminders", "run", "--at", FRIDAY_8AM) == []
    assert ok(store, "reminders", "run", "--at", FRIDAY_8AM).output == "Nothing due.\n"
    bad = run(store, "reminders", "run", "--at", "2026-01-09T08:00")
    assert bad.exit_code == 1 and "needs a UTC offset" in bad.output


def test_a_webhook_is_signed_with_a_secret_that_is_never_printed(store: str) -> None:
    shown = ok(store, "deliveries", "configure", "--new-secret").output
    assert "webhook secret: set" in shown
    secret = _secret(store)
    assert len(secret) == 64 and secret not in shown
    assert secret not in ok(store, "deliveries", "configure").output
    assert secret not in ok(store, "settings", "show", "--format", "json").output
    with http_receiver(fail_first=1, fail_status=500) as receiver:
        ok(store, "automations", "add", "hook", "--on", "reminder_due", "--tags-any", "VIP",
           "--action", f"webhook={receiver.url}")  # fmt: skip
        ok(store, "reminders", "run", "--at", FRIDAY_8AM)
        first = ok(store, "deliveries", "run").output
        assert first == "delivered 0, to retry 1, failed 0\n"
        [pending] = data(store, "deliveries", "list", "--state", "pending")
        assert pending["last_error"] == "HTTP 500 Internal Server Error"
        ok(store, "deliveries", "retry", str(pending["id"]))  # now, not after the backoff
        assert ok(store, "deliveries", "run").output == "delivered 1, to retry 0, failed 0\n"
        assert ok(store, "deliveries", "run").output == "delivered 0, to retry 0, failed 0\n"
    assert receiver.accepted == {str(pending["id"]): 1}
    for headers, body in receiver.requests:
        assert signature_matches(secret, body, headers[SIGNATURE_HEADER])
    [done] = data(store, "deliveries", "list")
    assert done["state"] == "delivered" and done["delivered_at"].endswith("-05:00")


def test_a_delivery_without_a_secret_fails_with_the_reason_and_can_be_retried(
    store: str,
) -> None:
    ok(store, "automations", "add", "hook", "--on", "reminder_due",
       "--action", "webhook=http://127.0.0.1:9/x")  # fmt: skip
    ok(store, "reminders", "run", "--at", FRIDAY_8AM)
    assert ok(store, "deliveries", "run").output == "delivered 0, to retry 0, failed 1\n"
    listed = ok(store, "deliveries", "list", "--state", "failed").output
    assert "no webhook secret is set" in listed
    missing = run(store, "deliveries", "retry", "99")
    assert missing.exit_code == 1 and "Error: no delivery with id 99" in missing.output
    assert "will be sent at the next run" in ok(store, "deliveries", "retry", "1").output
    assert data(store, "deliveries", "list", "--state", "pending")[0]["attempts"] == 0


def test_notifications_for_the_acting_user_and_their_team(store: str) -> None:
    ok(store, "teams", "add", "North")
    ok(store, "users", "add", "ann", "--role", "agent", "--team", "North")
    ok(store, "users", "add", "bob", "--role", "agent")
    ok(store, "automations", "add", "tell", "--on", "reminder_due", "--action",
       "notify=team:North", "--body", "Call $name at $due_at")  # fmt: skip
    ok(store, "reminders", "run", "--at", FRIDAY_8AM)
    ann = ["--as", "ann"]
    [note] = data(store, *ann, "notifications", "list", "--unread")
    assert note["message"] == "Call Ada Lovelace at 2026-01-09T08:00:00-05:00"
    assert data(store, "--as", "bob", "notifications", "list") == []
    refused = run(store, "--as", "bob", "notifications", "read", str(note["id"]))
    assert refused.exit_code == 1 and "no notification" in refused.output
    assert "Marked 1" in ok(store, *ann, "notifications", "read", str(note["id"])).output
    assert data(store, *ann, "notifications", "list", "--unread") == []
    assert data(store, *ann, "notifications", "list")[0]["read"] is True
    assert ok(store, *ann, "notifications", "list", "--unread").output == "No notifications.\n"


def test_an_agent_may_not_run_the_runners(store: str) -> None:
    ok(store, "users", "add", "bob", "--role", "agent")
    for command in (["reminders", "run"], ["deliveries", "run"], ["deliveries", "list"]):
        refused = run(store, "--as", "bob", *command)
        assert refused.exit_code == 1 and "Error:" in refused.output, command


def _secret(url: str) -> str:
    store = open_store(url)
    try:
        with store.transaction() as tx:
            settings = tx.get_setting("deliveries")
    finally:
        store.close()
    assert isinstance(settings, dict)
    return str(settings["webhook_secret"])
