"""Linked records meet merges, access scopes, hidden contact data and new-activity badges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from click.testing import CliRunner

from pipeline_core import Customer, NotFound, PermissionDenied, Workspace
from pipeline_core.cli import cli
from pipeline_core.domain.access import HIDDEN
from pipeline_core.domain.records import LinkedRecord


def invoice(customer_id: int, ref: str, **changes: Any) -> LinkedRecord:
    return LinkedRecord(
        customer_id=customer_id, kind="invoice", ref=ref, amount="10", currency="EUR", **changes
    )


def test_merge_moves_records_and_reports_references_both_held(workspace: Workspace) -> None:
    ada = workspace.customers.add(Customer(name="Ada", emails=["ada@example.com"]))
    dup = workspace.customers.add(
        Customer(name="Ada L.", emails=["ada@example.com"]), on_duplicate="allow"
    )
    kept = workspace.records.add(invoice(ada.id, "INV-1"))
    clash = workspace.records.add(invoice(dup.id, "INV-1", title="the same invoice, twice"))
    moving = workspace.records.add(invoice(dup.id, "INV-2"))
    result = workspace.customers.merge(ada.id, [dup.id])
    (part,) = cast(list[dict[str, Any]], result.details["merged"])
    assert part["records"] == [moving.id]
    assert part["record_conflicts"] == [
        {"kind": "invoice", "ref": "INV-1", "kept": kept.id, "left": clash.id}
    ]
    assert [r.ref for r in workspace.records.list(ada.id)] == ["INV-1", "INV-2"]
    assert workspace.records.show(moving.id).customer_id == ada.id
    # The record left behind is not lost: it stays on the merged customer, by its id.
    assert workspace.records.show(clash.id).customer_id == dup.id
    # The merged id leads to the primary, for records too: a later upsert lands there.
    again = workspace.records.add(invoice(dup.id, "INV-2", state="paid"))
    assert (again.id, again.customer_id, again.state) == (moving.id, ada.id, "paid")


def test_merge_prints_the_conflict_in_a_sentence(tmp_path: Path) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'm.db'}"]
    runner = CliRunner()
    for args in (
        ["init"],
        ["customers", "add", "Ada"],
        ["customers", "add", "Ada L."],
        ["records", "add", "1", "order", "SO-1"],
        ["records", "add", "2", "order", "SO-1"],
    ):
        assert runner.invoke(cli, [*store, *args]).exit_code == 0
    merged = runner.invoke(cli, [*store, "customers", "merge", "1", "2"])
    assert merged.exit_code == 0, merged.output
    assert "conflict: both held order 'SO-1'; kept record 1, record 2 stays on #2" in merged.output


def test_an_agent_sees_records_of_customers_in_scope_only(workspace: Workspace) -> None:
    workspace.teams.add("North")
    workspace.teams.add("South")
    workspace.users.add("ann", "agent", ["North"])
    mine = workspace.customers.add(Customer(name="Nora", team="North"))
    theirs = workspace.customers.add(Customer(name="Sam", team="South"))
    visible = workspace.records.add(invoice(mine.id, "N-1"))
    hidden = workspace.records.add(invoice(theirs.id, "S-1"))
    ann = workspace.as_user("ann")
    assert ann.records.list() == [visible]
    assert ann.records.list(kinds=["invoice"]) == [visible]
    assert ann.records.show(visible.id) == visible
    with pytest.raises(NotFound):
        ann.records.show(hidden.id)
    with pytest.raises(NotFound):
        ann.records.list(theirs.id)
    with pytest.raises(NotFound):  # nor can she attach or change one there
        ann.records.add(invoice(theirs.id, "S-2"))
    with pytest.raises(NotFound):
        ann.records.set_state(hidden.id, "paid")
    assert [c.name for c in ann.customers.list("has invoice")] == ["Nora"]
    assert workspace.records.show(hidden.id).state == "draft"


def test_hidden_contact_data_stays_hidden_in_conversations(workspace: Workspace) -> None:
    workspace.teams.add("North")
    workspace.users.add("ann", "agent", ["North"])
    workspace.access.set(hide_contacts_from_agents=True)
    nora = workspace.customers.add(Customer(name="Nora", team="North", phones=["+14155550132"]))
    message = workspace.records.add(
        LinkedRecord(
            customer_id=nora.id,
            kind="conversation",
            ref="wa:1",
            channel="whatsapp",
            address="+14155550132",
            title="Hello",
        )
    )
    assert workspace.records.show(message.id).address == "+14155550132"
    ann = workspace.as_user("ann")
    assert ann.records.show(message.id).address == HIDDEN
    assert [r.address for r in ann.records.list(nora.id)] == [HIDDEN]
    latest = ann.customers.show(nora.id).records.latest_conversations["whatsapp"]
    assert latest.address == HIDDEN and latest.title == "Hello"
    exported = "".join(ann.records.export(nora.id, format="jsonl"))
    assert "4155550132" not in exported and HIDDEN in exported
    # The timeline never carried the address: an agent reads nothing there either.
    timeline = json.dumps([dict(e.data) for e in ann.customers.timeline(nora.id)])
    assert "4155550132" not in timeline
    # Her own upsert returns the masked record, and does not wipe the stored address.
    mine = ann.records.add(
        LinkedRecord(
            customer_id=nora.id,
            kind="conversation",
            ref="wa:2",
            channel="whatsapp",
            address="+14155550100",
        )
    )
    assert mine.address == HIDDEN
    assert workspace.records.show(mine.id).address == "+14155550100"
    # Sending back what she read keeps the address; a new one is refused, naming why.
    read = ann.records.show(message.id)
    assert ann.records.add(attrs.evolve(read, title="Hi")).title == "Hi"
    assert workspace.records.show(message.id).address == "+14155550132"
    with pytest.raises(PermissionDenied, match="hide_contacts_from_agents"):
        ann.records.add(attrs.evolve(read, address="+14155550199"))


def test_badges_count_what_others_did_since_the_user_last_opened(workspace: Workspace) -> None:
    workspace.users.add("ann", "admin", [])
    ann = workspace.as_user("ann")
    ada = workspace.customers.add(Customer(name="Ada"))
    bob = ann.customers.add(Customer(name="Bob"))
    assert ann.customers.badges([ada.id, bob.id]) == {ada.id: 1, bob.id: 0}  # her own: not news
    assert [(i.customer.name, i.new_activity) for i in ann.customers.listing(unseen=True)] == [
        ("Ada", 1)
    ]
    ann.customers.show(ada.id)  # opening it marks it seen
    assert ann.customers.badges([ada.id]) == {ada.id: 0}
    workspace.records.add(invoice(ada.id, "I-1"))
    workspace.notes.add(ada.id, "called")
    listed = list(ann.customers.listing())
    assert [(i.customer.name, i.new_activity) for i in listed] == [("Ada", 2), ("Bob", 0)]
    assert [i.customer.name for i in ann.customers.listing(unseen=True, limit=1)] == ["Ada"]
    assert list(ann.customers.listing(unseen=True, offset=1)) == []
    # Badges are per user: the system actor's own changes are not new to it.
    assert workspace.customers.badges([ada.id, bob.id]) == {ada.id: 0, bob.id: 1}


def test_the_async_workspace_lists_badges_and_records() -> None:
    import asyncio

    from pipeline_core import AsyncWorkspace

    async def scenario() -> tuple[list[tuple[str, int]], list[str]]:
        async with await AsyncWorkspace.open("memory:") as aws:
            ada = await aws.customers.add(Customer(name="Ada"))
            await aws.records.add(invoice(ada.id, "I-1"))
            listed = [(i.customer.name, i.new_activity) async for i in aws.customers.listing()]
            refs = [r.ref for r in await aws.records.list(ada.id)]
            return listed, refs

    listed, refs = asyncio.run(scenario())
    assert listed == [("Ada", 0)]  # the system made both events: nothing new to it
    assert refs == ["I-1"]


def test_customers_list_unseen_on_the_command_line(tmp_path: Path) -> None:
    store = ["--store", f"sqlite:///{tmp_path / 'u.db'}"]
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*store, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    run("init")
    run("users", "add", "ann", "--role", "admin")
    run("customers", "add", "Ada")
    run("customers", "add", "Bob")
    run("--as", "ann", "customers", "show", "1")
    unseen = json.loads(run("--as", "ann", "customers", "list", "--unseen", "--format", "json"))
    assert [(c["name"], c["new_activity"]) for c in unseen] == [("Bob", 1)]
    run("records", "add", "1", "payment", "P-1", "--amount", "5", "--currency", "EUR")
    lines = run("--as", "ann", "customers", "list", "--unseen", "--nl").splitlines()
    assert [(json.loads(x)["name"], json.loads(x)["new_activity"]) for x in lines] == [
        ("Ada", 1),
        ("Bob", 1),
    ]
    assert "new_activity" in run("--as", "ann", "customers", "list")
