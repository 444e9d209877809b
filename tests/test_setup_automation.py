"""Folders, typed custom fields and automation, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pipeline_core import (
    ConcurrencyError,
    Customer,
    Event,
    EventKind,
    InvalidValue,
    NotFound,
    TransitionNotAllowed,
    Workspace,
)
from pipeline_core.domain.automation import MAX_DEPTH, Action, Automation
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.statuses import Status, StatusMachine
from pipeline_core.rules import InSet, SetTest

SUPPORT = StatusMachine(
    [Status("New"), Status("Working"), Status("Solved", outcome="won")],
    {"New": ("Working",), "Working": ("Solved",), "Solved": ("Working",)},
)


def add(ws: Workspace, name: str = "Ada", **details: object) -> Customer:
    return ws.customers.add(Customer(name=name, **details))  # type: ignore[arg-type]


def test_field_types_are_validated_and_typed(workspace: Workspace) -> None:
    for definition in (
        FieldDefinition(key="note", type="text"),
        FieldDefinition(key="seats", type="number", required=True),
        FieldDefinition(key="budget", type="decimal"),
        FieldDefinition(key="since", type="date"),
        FieldDefinition(key="seen", type="datetime"),
        FieldDefinition(key="vip", type="checkbox"),
        FieldDefinition(key="size", type="select", options=("S", "M", "L")),
        FieldDefinition(key="langs", type="multi_select", options=("en", "pt")),
    ):
        workspace.fields.add(definition)
    ada = add(
        workspace,
        fields={
            "note": " hi ",
            "seats": "12",
            "budget": "10.50",
            "since": "2020-02-29",
            "seen": "2026-01-01T10:00+01:00",
            "vip": "yes",
            "size": "M",
            "langs": "pt; en",
        },
    )
    assert dict(ada.fields) == {
        "note": "hi",
        "seats": 12,
        "budget": Decimal("10.50"),
        "since": date(2020, 2, 29),
        "seen": datetime(2026, 1, 1, 9, tzinfo=UTC),
        "vip": True,
        "size": "M",
        "langs": ("pt", "en"),
    }
    assert workspace.customers.get(ada.id).fields == ada.fields
    bad = [
        ({"seats": "many"}, "'seats' \\(number\\)"),
        ({"seats": 1, "size": "XL"}, "not an option"),
        ({"seats": 1, "since": "yesterday"}, "'since' \\(date\\)"),
        ({"seats": 1, "seen": "2026-01-01T10:00"}, "time zone offset"),
        ({"seats": 1, "colour": "red"}, "unknown custom field 'colour'"),
        ({"size": "S"}, "required custom field\\(s\\) missing: seats"),
    ]
    for fields, message in bad:
        with pytest.raises(InvalidValue, match=message):
            add(workspace, "Bad", fields=fields)
    with pytest.raises(InvalidValue, match="unknown custom field"):
        workspace.customers.edit(ada.id, fields={**ada.fields, "x": 1})


def test_field_definitions_refuse_bad_shapes(workspace: Workspace) -> None:
    with pytest.raises(InvalidValue, match="needs at least one option"):
        FieldDefinition(key="size", type="select")
    with pytest.raises(InvalidValue, match="only select fields"):
        FieldDefinition(key="n", type="number", options=("a",))
    with pytest.raises(InvalidValue, match="unknown field type"):
        FieldDefinition(key="n", type="colour")
    with pytest.raises(InvalidValue, match="must start with a letter"):
        FieldDefinition(key="1 bad", type="text")
    workspace.fields.add(FieldDefinition(key="n", type="number"))
    with pytest.raises(InvalidValue, match="already defined"):
        workspace.fields.add(FieldDefinition(key="n", type="text"))
    add(workspace, fields={"n": 1})
    with pytest.raises(InvalidValue, match="hold a value"):
        workspace.fields.remove("n")
    with pytest.raises(NotFound, match="no custom field 'm'"):
        workspace.fields.get("m")


def test_option_rename_refuses_existing_option_and_stale_definition(
    workspace: Workspace,
) -> None:
    workspace.fields.add(FieldDefinition(key="size", type="select", options=("S", "M")))
    ada = add(workspace, fields={"size": "S"})
    with pytest.raises(InvalidValue, match="already has an option 'M'"):
        workspace.fields.rename_option("size", "S", "M")
    with pytest.raises(InvalidValue, match="no option 'XL'"):
        workspace.fields.rename_option("size", "XL", "XXL")
    workspace.fields.add_options("size", ["L"], expected_version=1)
    with pytest.raises(ConcurrencyError, match="expected version 1, found 2"):
        workspace.fields.rename_option("size", "S", "Small", expected_version=1)
    assert workspace.customers.get(ada.id).fields["size"] == "S"
    renamed = workspace.fields.rename_option("size", "S", "Small", expected_version=2)
    assert renamed.changed == 1 and renamed.definition.options == ("Small", "M", "L")
    assert workspace.customers.get(ada.id).fields["size"] == "Small"
    last = workspace.customers.timeline(ada.id)[-1]
    assert last.data == {"field": "fields.size", "before": "S", "after": "Small"}


def test_folders_choose_their_machine_and_fields(workspace: Workspace) -> None:
    workspace.fields.add(FieldDefinition(key="ticket", type="text", required=True))
    workspace.fields.add(FieldDefinition(key="size", type="select", options=("S",)))
    workspace.folders.add("Support", SUPPORT, fields=["ticket"])
    workspace.folders.add("Leads", fields=["size"])
    ada = add(workspace, folder="Leads", fields={"size": "S"})
    assert ada.status == "Lead"
    with pytest.raises(InvalidValue, match=r"no status 'Lead'; give the status.*New, Working"):
        workspace.customers.folder(ada.id, "Support")
    with pytest.raises(InvalidValue, match="use set_folder"):
        workspace.customers.edit(ada.id, folder="Support")
    moved = workspace.customers.folder(ada.id, "Support", status="Working")
    assert (moved.folder, moved.status) == ("Support", "Working")
    kinds = [e.kind for e in workspace.customers.timeline(ada.id)[-2:]]
    assert kinds == [EventKind.FOLDER_CHANGED, EventKind.STATUS_CHANGED]
    with pytest.raises(TransitionNotAllowed):
        workspace.customers.move(ada.id, "New")
    assert workspace.customers.move(ada.id, "Solved").outcome == "won"
    with pytest.raises(InvalidValue, match="does not apply here"):
        add(workspace, "Bob", folder="Support", fields={"ticket": "T-1", "size": "S"})
    with pytest.raises(InvalidValue, match="missing: ticket"):
        add(workspace, "Bob", folder="Support")
    assert add(workspace, "Bob", folder="Support", fields={"ticket": "T-1"}).status == "New"
    assert [f.name for f in workspace.folders.list()] == ["Leads", "Support"]
    with pytest.raises(InvalidValue, match="customer\\(s\\) are in folder"):
        workspace.folders.remove("Support")
    with pytest.raises(InvalidValue, match="undefined custom field"):
        workspace.folders.add("X", fields=["nope"])
    with pytest.raises(InvalidValue, match="already exists"):
        workspace.folders.add("Leads", fields=["size"])


def test_handlers_run_after_commit_and_failures_are_reported(workspace: Workspace) -> None:
    seen: list[tuple[EventKind, int, str]] = []

    def record(event: Event, ws: Workspace) -> None:
        # After commit: the change is visible through the workspace.
        seen.append((event.kind, event.customer_id, ws.customers.get(event.customer_id).status))

    def explode(event: Event, ws: Workspace) -> None:
        raise RuntimeError("boom")

    workspace.on(EventKind.STATUS_CHANGED, explode)
    workspace.on("status_changed", record)
    ada = add(workspace)
    moved = workspace.customers.move(ada.id, "Prospect")
    assert moved.status == "Prospect" == workspace.customers.get(ada.id).status
    assert seen == [(EventKind.STATUS_CHANGED, ada.id, "Prospect")]
    [failure] = workspace.hooks.failures
    assert failure.handler == "explode" and failure.error == "RuntimeError: boom"
    with pytest.raises(TransitionNotAllowed):
        workspace.customers.move(ada.id, "Lead")
    assert len(seen) == 1  # nothing committed, nothing published


def test_declarative_automation_acts_on_matching_customers(workspace: Workspace) -> None:
    workspace.folders.add("Support", SUPPORT)
    workspace.automations.add(
        Automation(
            name="vip-welcome",
            on=EventKind.TAGS_CHANGED,
            rule=SetTest("tags", "any", ("VIP",)),
            actions=(
                Action(kind="add_tag", value="welcomed"),
                Action(kind="create_task", value="Call the VIP", days=2, worker="eve"),
                Action(kind="schedule_follow_up", value="check in", days=7),
                Action(kind="move_status", value="Prospect"),
            ),
        )
    )
    ada, bob = add(workspace), add(workspace, "Bob")
    workspace.customers.edit(ada.id, tags=["VIP"])
    workspace.customers.edit(bob.id, tags=["Cold"])
    ada_now = workspace.customers.get(ada.id)
    assert ada_now.tags == ("VIP", "welcomed") and ada_now.status == "Prospect"
    assert ada_now.next_follow_up == date(2026, 1, 8)
    [task] = workspace.tasks.list(customer_id=ada.id)
    assert (task.title, task.due, task.worker) == ("Call the VIP", date(2026, 1, 3), "eve")
    ran = workspace.customers.timeline(ada.id, [EventKind.AUTOMATION_RAN])
    assert [e.data for e in ran] == [{"automation": "vip-welcome", "trigger": "tags_changed"}]
    assert ran[0].actor == "automation:vip-welcome"
    assert workspace.customers.get(bob.id).tags == ("Cold",)
    assert workspace.hooks.failures == []


def test_run_by_hand_and_external_activity_trigger(workspace: Workspace) -> None:
    workspace.folders.add("Support", SUPPORT)
    workspace.automations.add(
        Automation(
            name="paid",
            on="external",
            activity="order_paid",
            actions=(Action(kind="set_folder", value="Support", status="New"),),
        )
    )
    workspace.automations.add(
        Automation(
            name="leads-only",
            on="note",
            rule=InSet("status", ("Lead",)),
            actions=(Action(kind="add_tag", value="noted"),),
        )
    )
    ada = add(workspace)
    workspace.customers.activity(ada.id, "email_sent", "hello")
    assert workspace.customers.get(ada.id).folder is None
    workspace.customers.activity(ada.id, "order_paid", "Order 1 paid")
    assert (workspace.customers.get(ada.id).folder, workspace.customers.get(ada.id).status) == (
        "Support",
        "New",
    )
    assert workspace.automations.run("leads-only", ada.id) is False
    bob = add(workspace, "Bob")
    assert workspace.automations.run("leads-only", bob.id) is True
    assert workspace.customers.get(bob.id).tags == ("noted",)
    with pytest.raises(NotFound, match="no automation called 'nope'"):
        workspace.automations.run("nope", bob.id)
    assert [a.name for a in workspace.automations.list()] == ["leads-only", "paid"]
    workspace.automations.remove("paid")
    assert [a.name for a in workspace.automations.list()] == ["leads-only"]


def test_automations_cannot_loop_forever(workspace: Workspace) -> None:
    # Each undoes the other's change: without protection they would ping-pong forever.
    workspace.automations.add(
        Automation(name="add", on="tags_changed", actions=(Action(kind="add_tag", value="x"),))
    )
    workspace.automations.add(
        Automation(
            name="remove", on="tags_changed", actions=(Action(kind="remove_tag", value="x"),)
        )
    )
    ada = add(workspace)
    workspace.customers.edit(ada.id, tags=["start"])
    ran = workspace.customers.timeline(ada.id, [EventKind.AUTOMATION_RAN])
    assert 1 <= len(ran) <= 4
    assert workspace.hooks.failures == []


def test_a_handler_that_keeps_changing_things_is_stopped(workspace: Workspace) -> None:
    def again(event: Event, ws: Workspace) -> None:
        ws.notes.add(event.customer_id, "again")

    workspace.on(EventKind.NOTE, again)
    ada = add(workspace)
    workspace.notes.add(ada.id, "first")
    notes = workspace.notes.list(ada.id)
    assert len(notes) == MAX_DEPTH + 1  # the first, then one per level allowed
    assert "cascaded deeper" in workspace.hooks.failures[-1].error


def test_failing_automation_is_reported_without_undoing_the_trigger(
    workspace: Workspace,
) -> None:
    workspace.automations.add(
        Automation(
            name="bad", on="note", actions=(Action(kind="move_status", value="Inactive-ish"),)
        )
    )
    ada = add(workspace)
    workspace.notes.add(ada.id, "hello")
    assert [n.data["text"] for n in workspace.notes.list(ada.id)] == ["hello"]
    [failure] = workspace.hooks.failures
    assert failure.handler == "automation 'bad'" and "Inactive-ish" in failure.error
