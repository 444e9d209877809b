"""The customer's-life commands through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline_core.cli import cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A new workspace, made by ``pipeline init`` (no other command creates one)."""
    url = f"sqlite:///{tmp_path / 'life.db'}"
    assert CliRunner().invoke(cli, ["--store", url, "init"]).exit_code == 0
    return url


def run(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, *args])


def ok(store: str, *args: str) -> Result:
    result = run(store, *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def data(store: str, *args: str) -> Any:
    return json.loads(ok(store, *args, "--format", "json").output)


def add(store: str, name: str, *args: str) -> str:
    record = data(store, "customers", "add", name, *args)
    assert isinstance(record, dict)
    return str(record["id"])


def test_activity_commands_show_up_in_the_360_view(store: str) -> None:
    acme = add(store, "Acme")
    ada = add(store, "Ada")
    ok(store, "customers", "parent", ada, acme)
    ok(store, "notes", "add", ada, "likes tea")
    ok(store, "customers", "contact", ada, "--notes", "called", "--channel", "phone")
    ok(store, "customers", "follow-up", ada, "2026-05-04", "--notes", "quote")
    ok(
        store,
        "tasks",
        "add",
        ada,
        "Send quote",
        "--due",
        "2020-01-01",
        "--step",
        "a",
        "--step",
        "b",
    )
    ok(store, "tasks", "tick", "1", "1")
    ok(store, "time", "log", ada, "eve", "25", "--note", "call")
    ok(store, "workers", "assign", ada, "eve")
    ok(store, "customers", "deal", ada, "1200.00", "--currency", "eur")
    ok(store, "customers", "activity", ada, "email_sent", "Sent brochure", "--ref", "mail:9")
    ok(store, "customers", "convert", ada, "SO-9")
    view = data(store, "customers", "show", ada, "--events", "3")
    assert isinstance(view, dict)
    customer = view["customer"]
    assert customer["name"] == "Ada" and customer["workers"] == ["eve"]
    assert customer["value"] == "1200.00" and customer["currency"] == "EUR"
    assert customer["order_id"] == "SO-9" and customer["next_follow_up"] == "2026-05-04"
    assert view["parent"] == {"id": int(acme), "name": "Acme"}
    assert [t["title"] for t in view["open_tasks"]] == ["Send quote"]
    assert view["open_tasks"][0]["steps"] == [
        {"text": "a", "done": True},
        {"text": "b", "done": False},
    ]
    assert view["overdue_tasks"] == [1] and view["time"]["total_minutes"] == 25
    # Conversion records the order as a linked record too (its own event), and the profile
    # lists it among the customer's orders.
    assert [e["kind"] for e in view["recent_events"]] == ["external", "converted", "record_added"]
    assert [o["ref"] for o in view["records"]["orders"]] == ["SO-9"]
    table = ok(store, "customers", "show", ada).output
    for text in ("Ada", "#1 Acme", "Open tasks", "Send quote", "Latest 10 of", "external"):
        assert text in table
    assert "Ada" in ok(store, "customers", "show", ada, "--format", "csv").output
    notes = data(store, "customers", "timeline", ada, "--kind", "note")
    assert [n["data"]["text"] for n in notes] == ["likes tea"]
    assert data(store, "notes", "list", ada) == notes
    tree = ok(store, "customers", "tree", acme).output
    assert tree == f"#{acme} Acme (Lead)\n  #{ada} Ada (Lead)\n"
    assert [c["name"] for c in data(store, "customers", "children", acme)] == ["Ada"]
    assert [c["name"] for c in data(store, "workers", "customers", "eve")] == ["Ada"]
    summary = data(store, "time", "summary", "--worker", "eve")
    assert summary == {"total_minutes": 25, "by_worker": {"eve": 25}, "by_customer": {ada: 25}}
    assert "Send quote" in ok(store, "tasks", "list", "--overdue").output
    ok(store, "tasks", "done", "1")
    assert data(store, "tasks", "list", "--open") == []


def test_reminders_due_respect_the_zone_and_hour(store: str) -> None:
    ada = add(store, "Ada")
    ok(store, "settings", "set", "--time-zone", "America/New_York", "--reminder-hour", "9")
    ok(store, "customers", "follow-up", ada, "2026-03-09")
    assert data(store, "reminders", "due", "--at", "2026-03-09T12:59:59Z") == []
    [due] = data(store, "reminders", "due", "--at", "2026-03-09T13:00Z")
    # The same moment, as a person in the workspace reads it: 09:00 in New York (EDT).
    assert due["customer_id"] == int(ada) and due["due_at"] == "2026-03-09T09:00:00-04:00"
    ok(store, "customers", "follow-up-done", ada)
    assert data(store, "reminders", "due", "--at", "2026-03-10T00:00Z") == []
    assert "America/New_York" in ok(store, "settings", "show").output


def test_lost_move_needs_a_reason_on_the_command_line(store: str, tmp_path: Path) -> None:
    machine = data(store, "statuses", "show")
    assert isinstance(machine, dict)
    machine["statuses"].append({"name": "Lost", "outcome": "lost", "actions": []})
    machine["transitions"]["Lead"].append("Lost")
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(machine), encoding="utf-8")
    ok(store, "statuses", "load", str(path))
    ada = add(store, "Ada")
    refused = run(store, "move", ada, "Lost")
    assert refused.exit_code == 1 and "needs a reason" in refused.stderr
    moved = data(store, "move", ada, "Lost", "--reason", "other", "--reason-text", "no fit")
    assert isinstance(moved, dict)
    assert (moved["outcome"], moved["lost_reason"]) == ("lost", "other: no fit")
    assert moved["closed_at"] is not None


def test_folders_fields_and_option_rename(store: str, tmp_path: Path) -> None:
    machine = tmp_path / "support.toml"
    machine.write_text(
        '[[statuses]]\nname = "New"\n[[statuses]]\nname = "Done"\noutcome = "won"\n'
        '[transitions]\nNew = ["Done"]\n',
        encoding="utf-8",
    )
    ok(store, "fields", "add", "size", "select", "--option", "S", "--option", "M")
    ok(store, "folders", "add", "Support", "--machine", str(machine), "--field", "size")
    assert "Support" in ok(store, "folders", "list").output
    ada = add(store, "Ada", "--field", "size=S")
    refused = run(store, "customers", "folder", ada, "Support")
    assert refused.exit_code == 1 and "give the status to take there: New, Done" in refused.stderr
    moved = data(store, "customers", "folder", ada, "Support", "--status", "New")
    assert isinstance(moved, dict) and moved["status"] == "New"
    out = ok(store, "fields", "rename-option", "size", "S", "Small", "--expected-version", "1")
    assert "1 customer(s) changed" in out.output
    stale = run(store, "fields", "rename-option", "size", "M", "Medium", "--expected-version", "1")
    assert stale.exit_code == 1 and "changed meanwhile" in stale.stderr
    existing = run(store, "fields", "rename-option", "size", "M", "Small")
    assert existing.exit_code == 1 and "already has an option 'Small'" in existing.stderr
    [definition] = data(store, "fields", "list")
    assert definition["options"] == ["Small", "M"] and definition["version"] == 2
    bad = run(store, "customers", "add", "Bob", "--field", "size=XL")
    assert bad.exit_code == 1 and "not an option" in bad.stderr


def test_automations_from_options_and_by_hand(store: str) -> None:
    ok(
        store, "automations", "add", "vip", "--on", "tags_changed", "--tags-any", "VIP",
        "--action", "add_tag=welcomed", "--action", "create_task=Call", "--days", "1",
    )  # fmt: skip
    ada = add(store, "Ada")
    ok(store, "customers", "edit", ada, "--add-tag", "VIP")
    shown = data(store, "customers", "show", ada)
    assert isinstance(shown, dict)
    assert shown["customer"]["tags"] == ["VIP", "welcomed"]
    assert [t["title"] for t in shown["open_tasks"]] == ["Call"]
    bob = add(store, "Bob")
    assert "does not match" in ok(store, "automations", "run", "vip", bob).output
    listed = data(store, "automations", "list")
    assert isinstance(listed, list) and listed[0]["name"] == "vip"
    ok(store, "automations", "remove", "vip")
    assert data(store, "automations", "list") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("customers", "follow-up", "1", "tomorrow"), "'tomorrow' is not a date"),
        (("reminders", "due", "--at", "2026-01-01T08:00"), "needs a UTC offset"),
        (("tasks", "done", "7"), "no task with id 7"),
        (("customers", "convert", "1", "SO-1"), "no customer with id 1"),
        (("settings", "set", "--time-zone", "Nowhere/Land"), "IANA zone"),
        (("automations", "run", "x", "1"), "no automation called 'x'"),
        (("automations", "add", "x"), "give NAME, --on"),
    ],
)
def test_errors_are_one_line(store: str, args: tuple[str, ...], message: str) -> None:
    result = run(store, *args)
    assert result.exit_code in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
