"""The `pipeline` command through click's CliRunner: output formats, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline_core import Workspace
from pipeline_core.cli import cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A new workspace, made by ``pipeline init`` (no other command creates one)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert CliRunner().invoke(cli, ["--store", url, "init"]).exit_code == 0
    return url


def run(store: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--store", store, *args], input=input)


def ok(store: str, *args: str) -> Result:
    result = run(store, *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def test_demo_prints_the_sales_board(store: str) -> None:
    result = ok(store, "demo")
    first_line = result.output.splitlines()[0]
    assert first_line == "Sales: 50 customer(s)"
    for column in ("Lead (", "Prospect (", "Quoted (", "Customer (", "Inactive ("):
        assert column in result.output
    board = json.loads(ok(store, "board", "Sales", "--format", "json", "--limit", "0").output)
    assert sum(column["count"] for column in board["columns"]) == 50


def test_demo_twice_does_not_duplicate(store: str) -> None:
    ok(store, "demo")
    second = run(store, "demo")
    assert second.exit_code == 0
    assert "Sales: 50 customer(s)" in second.stdout


def test_add_show_list_edit_round_trip(store: str) -> None:
    added = json.loads(
        ok(
            store, "customers", "add", "Ada Lovelace", "--email", "ada@example.com",
            "--phone", "+1 415 555 0132", "--tag", "VIP", "--tag", "Math", "--field", "lang=en",
            "--folder", "Leads", "--value", "1500.50", "--currency", "usd", "--format", "json",
        ).output
    )  # fmt: skip
    assert added["name"] == "Ada Lovelace" and added["status"] == "Lead"
    assert added["tags"] == ["VIP", "Math"] and added["fields"] == {"lang": "en"}
    assert added["value"] == "1500.50" and added["currency"] == "USD"
    cid = str(added["id"])
    shown = json.loads(ok(store, "customers", "show", cid, "--format", "json").output)
    assert shown["customer"] == added
    ok(
        store,
        "customers",
        "edit",
        cid,
        "--remove-tag",
        "Math",
        "--add-tag",
        "Poet",
        "--field",
        "era=1840s",
    )
    listed = json.loads(ok(store, "customers", "list", "--format", "json").output)
    assert listed[0]["tags"] == ["VIP", "Poet"]
    assert listed[0]["fields"] == {"lang": "en", "era": "1840s"}
    table = ok(store, "customers", "list").output
    assert "Ada Lovelace" in table and "VIP; Poet" in table
    csv_text = ok(store, "customers", "list", "--format", "csv").output
    header, row = csv_text.splitlines()[:2]
    assert "fields.lang" in header.split(",") and "Ada Lovelace" in row


def test_move_by_status_and_by_column(store: str) -> None:
    ok(store, "demo", "--customers", "3")
    lead = json.loads(ok(store, "customers", "add", "Zed", "--format", "json").output)["id"]
    assert "is now Prospect" in ok(store, "move", str(lead), "Prospect").output
    moved = json.loads(
        ok(
            store, "move", str(lead), "--flow", "Sales", "--column", "Quoted", "--format", "json"
        ).output
    )
    assert moved["status"] == "Quoted"


def test_flows_columns_hide_unhide(store: str) -> None:
    ok(store, "init")
    ok(store, "flows", "add", "VIPs", "--tags-any", "VIP", "--column", "New=Lead")
    ok(store, "columns", "add", "VIPs", "Won", "--status", "Customer", "--colour", "#00FF00")
    columns = json.loads(ok(store, "columns", "list", "VIPs", "--format", "json").output)
    assert [(c["name"], c["status"], c["colour"]) for c in columns] == [
        ("New", "Lead", columns[0]["colour"]),
        ("Won", "Customer", "#00ff00"),
    ]
    vip = json.loads(ok(store, "customers", "add", "V", "--tag", "VIP", "--format", "json").output)
    ok(store, "customers", "add", "Plain")
    board = json.loads(ok(store, "board", "VIPs", "--format", "json").output)
    assert board["flow"] == "VIPs"
    assert [card["name"] for card in board["columns"][0]["cards"]] == ["V"]
    assert board["unmapped"] == {"count": 0, "values": [], "offset": 0, "more": 0, "cards": []}
    ok(store, "flows", "hide", "VIPs", str(vip["id"]))
    assert (
        json.loads(ok(store, "board", "VIPs", "--format", "json").output)["columns"][0]["count"]
        == 0
    )
    ok(store, "flows", "unhide", "VIPs", str(vip["id"]))
    assert (
        json.loads(ok(store, "board", "VIPs", "--format", "json").output)["columns"][0]["count"]
        == 1
    )
    ok(store, "columns", "remove", "VIPs", "New")
    board = json.loads(ok(store, "board", "VIPs", "--format", "json").output)
    assert board["unmapped"]["count"] == 1
    listed = json.loads(ok(store, "flows", "list", "--format", "json").output)
    assert [flow["name"] for flow in listed] == ["VIPs"]
    ok(store, "flows", "remove", "VIPs")
    assert json.loads(ok(store, "flows", "list", "--format", "json").output) == []


def test_statuses_show_and_load(store: str, tmp_path: Path) -> None:
    assert "Inactive" in ok(store, "statuses", "show").output
    assert ok(store, "statuses", "show", "--format", "mermaid").output.startswith("stateDiagram-v2")
    machine = json.loads(ok(store, "statuses", "show", "--format", "json").output)
    machine["statuses"].append({"name": "Lost", "outcome": "lost", "actions": []})
    machine["transitions"]["Quoted"].append("Lost")
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(machine), encoding="utf-8")
    ok(store, "statuses", "load", str(path))
    assert "Lost" in ok(store, "statuses", "show").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("customers", "add", "  "), "needs a name"),
        (("customers", "add", "X", "--status", "Nope"), "unknown status 'Nope'"),
        (("customers", "add", "X", "--field", "novalue"), "'novalue' is not KEY=VALUE"),
        (("customers", "add", "X", "--value", "abc"), "deal value 'abc' is not a number"),
        (("customers", "show", "42"), "no customer with id 42"),
        (("move", "42", "Lead"), "no customer with id 42"),
        (("board", "Nope"), "no flow called 'Nope'"),
        (("columns", "add", "Nope", "X"), "no flow called 'Nope'"),
        (("flows", "hide", "Nope", "1"), "no flow called 'Nope'"),
    ],
)
def test_domain_errors_are_one_line_and_exit_1(
    store: str, args: tuple[str, ...], message: str
) -> None:
    result = run(store, *args)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {result.stderr.strip()[7:]}"
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_bad_input_leaves_the_store_untouched(store: str) -> None:
    ok(store, "customers", "add", "Ada")
    before = ok(store, "customers", "list", "--format", "json").output
    for args in (
        ("customers", "add", "X", "--status", "Nope"),
        ("move", "1", "Nope"),
        ("customers", "edit", "1", "--currency", "EURO"),
    ):
        assert run(store, *args).exit_code == 1
    assert ok(store, "customers", "list", "--format", "json").output == before


def test_illegal_move_names_allowed_targets(store: str) -> None:
    ok(store, "customers", "add", "Ada", "--status", "Customer")
    result = run(store, "move", "1", "Lead")
    assert result.exit_code == 1
    assert (
        "cannot move from 'Customer' to 'Lead'; allowed from 'Customer': Inactive" in result.stderr
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [("mongodb://x", "unknown store URL scheme 'mongodb'"), ("nonsense", "has no scheme")],
)
def test_bad_store_urls(url: str, message: str) -> None:
    result = run(url, "customers", "list")
    assert result.exit_code == 1 and message in result.stderr


def test_not_a_store_file(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_text("hello")
    result = run(f"sqlite:///{path}", "customers", "list")
    assert result.exit_code == 1 and "is not a SQLite database" in result.stderr
    assert path.read_text() == "hello"


def test_usage_errors_exit_2(store: str) -> None:
    assert run(store, "move", "1").exit_code == 2
    assert run(store, "move", "1", "Lead", "--flow", "Sales").exit_code == 2
    assert run(store, "customers", "show", "abc").exit_code == 2
    assert run(store, "board", "Sales", "--format", "xml").exit_code == 2


def test_store_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    assert CliRunner().invoke(cli, ["init"], env={"PIPELINE_STORE": url}).exit_code == 0
    result = CliRunner().invoke(cli, ["customers", "add", "Env"], env={"PIPELINE_STORE": url})
    assert result.exit_code == 0
    with Workspace.open(url) as ws:
        assert [c.name for c in ws.customers.list()] == ["Env"]


def test_version_and_module_entry_point() -> None:
    import subprocess
    import sys

    from pipeline_core import __version__

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
    module = subprocess.run(
        [sys.executable, "-m", "pipeline_core", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert module.returncode == 0 and __version__ in module.stdout
