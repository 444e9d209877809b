"""Copying a whole workspace between SQL stores: `ws.migrate` and `pipeline migrate`."""

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
    child = ws.customers.add(Customer(name="Branch office"))
    parent = ws.customers.add(Customer(name="Head office"))  # the parent is the newer row
    ws.customers.parent(child.id, parent.id)
    first = ws.customers.add(Customer(name="Ada", emails=["ada@example.com"]))
    second = ws.customers.add(
        Customer(name="Ada L.", emails=["ADA@example.com"]), on_duplicate="allow"
    )
    ws.customers.merge(first.id, [second.id])
    ws.flows.hide("Sales", 3)
    ws.notes.add(4, "Called about the renewal")
    ws.tasks.add(4, "Send the quote", due=date(2026, 2, 1))
    ws.time.log(4, "maria", 30)
    ws.customers.follow_up(5, date(2026, 3, 1))
    clock.advance(timedelta(hours=1))
    ws.customers.move(6, "Inactive") if ws.customers.get(6).status == "Customer" else None
    return ws


def snapshot(ws: Workspace) -> dict[str, Any]:
    """Everything a user can read, for comparing two stores."""
    customers = ws.customers.list()
    return {
        "customers": customers,
        "timelines": {c.id: ws.customers.timeline(c.id) for c in customers},
        "board": ws.flows.board("Sales", limit=50),
        "flows": ws.flows.list(),
        "machine": ws.statuses.show(),
        "tasks": ws.tasks.list(customer_id=4),
        "old id leads to primary": ws.customers.get(max(c.id for c in customers)).id,
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
        report = source.migrate(target_url)
        assert report.rows["customers"] == 24 and report.rows["events"] > 24
        expected = snapshot(source)
    with Workspace.open(target_url, clock=clock) as target:
        assert snapshot(target) == expected
        # New rows continue after the copied ids.
        added = target.customers.add(Customer(name="After the move"))
        assert added.id == 25


def test_copy_refuses_a_non_empty_target_and_leaves_it_alone(tmp_path: Path) -> None:
    with Workspace.open(f"sqlite:///{tmp_path / 'a.db'}") as source:
        source.customers.add(Customer(name="Ada"))
        target_url = f"sqlite:///{tmp_path / 'b.db'}"
        with Workspace.open(target_url) as target:
            target.customers.add(Customer(name="Already here"))
        with pytest.raises(StoreError, match=r"is not empty.*customers"):
            source.migrate(target_url)
    with Workspace.open(target_url) as target:
        assert [c.name for c in target.customers.list()] == ["Already here"]


def test_copy_needs_sql_stores(tmp_path: Path) -> None:
    with Workspace.open("memory:") as source, pytest.raises(StoreError, match="SQL stores"):
        source.migrate(f"sqlite:///{tmp_path / 'x.db'}")


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
