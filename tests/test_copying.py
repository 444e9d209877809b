"""Copying a whole workspace between SQL stores: `Workspace.copy_to` and `pipeline migrate`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline_core import Customer, FixedClock, StoreError, Workspace
from pipeline_core.cli import cli
from pipeline_core.workspace.demo import create_demo

from .conftest import fresh_store_url
from .postgres_server import find_bin_dir


def rich_workspace(url: str, clock: FixedClock) -> Workspace:
    """A workspace with something of everything: history, merges, hides, tasks, parents."""
    ws = Workspace.open(url, clock=clock)
    create_demo(ws, count=20)
    child = ws.add_customer(Customer(name="Branch office"))
    parent = ws.add_customer(Customer(name="Head office"))  # the parent is the newer row
    ws.set_parent(child.id, parent.id)
    first = ws.add_customer(Customer(name="Ada", emails=["ada@example.com"]))
    second = ws.add_customer(
        Customer(name="Ada L.", emails=["ADA@example.com"]), on_duplicate="allow"
    )
    ws.merge(first.id, [second.id])
    ws.hide("Sales", 3)
    ws.add_note(4, "Called about the renewal")
    ws.add_task(4, "Send the quote", due=date(2026, 2, 1))
    ws.log_time(4, "maria", 30)
    ws.schedule_follow_up(5, date(2026, 3, 1))
    clock.advance(timedelta(hours=1))
    ws.move(6, "Inactive") if ws.get_customer(6).status == "Customer" else None
    return ws


def snapshot(ws: Workspace) -> dict[str, Any]:
    """Everything a user can read, for comparing two stores."""
    customers = ws.list_customers()
    return {
        "customers": customers,
        "timelines": {c.id: ws.timeline(c.id) for c in customers},
        "board": ws.board("Sales", limit=50),
        "flows": ws.flows(),
        "machine": ws.status_machine(),
        "tasks": ws.tasks(customer_id=4),
        "old id leads to primary": ws.get_customer(max(c.id for c in customers)).id,
    }


def targets() -> list[str]:
    return ["sqlite", "postgres"] if find_bin_dir() else ["sqlite"]


@pytest.mark.parametrize("source_kind", targets())
@pytest.mark.parametrize("target_kind", targets())
def test_copy_reproduces_the_workspace(source_kind: str, target_kind: str, tmp_path: Path) -> None:
    def url(kind: str, name: str) -> str:
        return f"sqlite:///{tmp_path / name}" if kind == "sqlite" else fresh_store_url(kind)

    clock = FixedClock()
    with rich_workspace(url(source_kind, "source.db"), clock) as source:
        target_url = url(target_kind, "target.db")
        report = source.copy_to(target_url)
        assert report.rows["customers"] == 24 and report.rows["events"] > 24
        expected = snapshot(source)
    with Workspace.open(target_url, clock=clock) as target:
        assert snapshot(target) == expected
        # New rows continue after the copied ids.
        added = target.add_customer(Customer(name="After the move"))
        assert added.id == 25


def test_copy_refuses_a_non_empty_target_and_leaves_it_alone(tmp_path: Path) -> None:
    with Workspace.open(f"sqlite:///{tmp_path / 'a.db'}") as source:
        source.add_customer(Customer(name="Ada"))
        target_url = f"sqlite:///{tmp_path / 'b.db'}"
        with Workspace.open(target_url) as target:
            target.add_customer(Customer(name="Already here"))
        with pytest.raises(StoreError, match=r"is not empty.*customers"):
            source.copy_to(target_url)
    with Workspace.open(target_url) as target:
        assert [c.name for c in target.list_customers()] == ["Already here"]


def test_copy_needs_sql_stores(tmp_path: Path) -> None:
    with Workspace.open("memory:") as source, pytest.raises(StoreError, match="SQL stores"):
        source.copy_to(f"sqlite:///{tmp_path / 'x.db'}")


def test_migrate_command(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'from.db'}"
    target = f"sqlite:///{tmp_path / 'to.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", source, "demo", "--customers", "5"]).exit_code == 0
    result = runner.invoke(cli, ["--store", source, "migrate", "--to", target, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"]["customers"] == 5
    again = runner.invoke(cli, ["--store", source, "migrate", "--to", target])
    assert again.exit_code == 1 and "is not empty" in again.stderr
    board = runner.invoke(cli, ["--store", target, "board", "Sales", "--format", "json"])
    assert sum(c["count"] for c in json.loads(board.output)["columns"]) == 5
