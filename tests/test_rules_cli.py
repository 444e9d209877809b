"""The rule commands and options of the CLI: --where, flows add --rule, rules check/sql, explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline_core.cli import cli


@pytest.fixture
def run(tmp_path: Path) -> CliRunner:
    return CliRunner()


def _invoke(runner: CliRunner, store: str, *args: str) -> Result:
    return runner.invoke(cli, ["--store", store, *args], catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    for args in (
        ["init"],
        [
            "customers",
            "add",
            "Ada",
            "--folder",
            "New Leads",
            "--tag",
            "VIP",
            "--source",
            "Google Ads",
        ],
        ["customers", "add", "Grace", "--folder", "New Leads", "--tag", "Commercial"],
        [
            "customers",
            "add",
            "Alan",
            "--folder",
            "Partners",
            "--tag",
            "VIP",
            "--field",
            "plan=gold",
        ],
    ):
        assert _invoke(runner, url, *args).exit_code == 0
    return url


def test_customers_list_where(run: CliRunner, store: str) -> None:
    result = _invoke(
        run, store, "customers", "list", "--where", 'tags any ("VIP")', "--format", "json"
    )
    assert result.exit_code == 0
    assert [c["name"] for c in json.loads(result.output)] == ["Ada", "Alan"]
    result = _invoke(
        run, store, "customers", "list", "--where", 'source ~ "google"', "--format", "csv"
    )
    assert "Ada" in result.output and "Alan" not in result.output


def test_flows_add_rule_combines_with_options_and_board_where(run: CliRunner, store: str) -> None:
    result = _invoke(
        run, store, "flows", "add", "VIP", "--rule", "tags any ('VIP')", "--folder", "New Leads",
        "--column", "Lead",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = _invoke(run, store, "flows", "show", "VIP")
    assert 'Rule: tags any ("VIP") and folder in ("New Leads")' in shown.output
    board = json.loads(_invoke(run, store, "board", "VIP", "--format", "json").output)
    assert [card["name"] for card in board["columns"][0]["cards"]] == ["Ada"]
    board = json.loads(
        _invoke(run, store, "board", "VIP", "--where", "not has tags", "--format", "json").output
    )
    assert board["columns"][0]["count"] == 0


def test_rules_check_prints_the_canonical_form(run: CliRunner, store: str) -> None:
    result = _invoke(run, store, "rules", "check", "NOT Folder = 'x' AND field.plan ~ 'GOLD'")
    assert result.exit_code == 0
    assert result.output == 'not folder = "x" and field.plan ~ "GOLD"\n'


def test_rule_errors_show_a_caret_and_exit_1(run: CliRunner, store: str) -> None:
    result = run.invoke(
        cli, ["--store", store, "rules", "check", 'folder = "x" and tgas any ("a")']
    )
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: unknown field 'tgas' at line 1, column 18")
    assert "did you mean 'tags'?" in lines[0]
    assert lines[1:] == ['  folder = "x" and tgas any ("a")', "                   ^"]
    result = run.invoke(cli, ["--store", store, "customers", "list", "--where", "field.plna = 1"])
    assert result.exit_code == 1
    assert "did you mean 'field.plan'?" in result.output


def test_rules_sql_prints_parameters_never_inlined_text(run: CliRunner, store: str) -> None:
    result = _invoke(run, store, "rules", "sql", 'folder = "x\'; DROP TABLE customers; --"')
    assert result.exit_code == 0
    sql, params = result.output.splitlines()
    assert "DROP" not in sql and "?" in sql
    assert json.loads(params.removeprefix("params: ")) == ["x'; DROP TABLE customers; --"]
    data = json.loads(_invoke(run, store, "rules", "sql", "has tags", "--format", "json").output)
    assert data["params"] == [] and "customer_tags" in data["sql"]


def test_flows_explain(run: CliRunner, store: str) -> None:
    _invoke(
        run, store, "flows", "add", "VIP", "--rule", 'tags any ("VIP") and folder = "New Leads"'
    )
    result = _invoke(run, store, "flows", "explain", "VIP", "3")
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        "#3 Alan is not on the VIP board: its rule does not hold.",
        "Rule:",
    ]
    assert 'no   folder = "New Leads"    [folder: "Partners"]' in result.output
    data = json.loads(
        _invoke(run, store, "flows", "explain", "VIP", "1", "--format", "json").output
    )
    assert data["on_board"] is True and data["rule"]["holds"] is True
    missing = run.invoke(cli, ["--store", store, "flows", "explain", "Nope", "1"])
    assert missing.exit_code == 1 and "no flow called 'Nope'" in missing.output


def test_automations_take_a_rule(run: CliRunner, store: str) -> None:
    added = _invoke(
        run, store, "automations", "add", "vip", "--on", "tags_changed",
        "--rule", 'source ~ "GOOGLE"', "--tags-any", "VIP", "--action", "add_tag=hot",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(_invoke(run, store, "automations", "list", "--format", "json").output)
    assert listed[0]["rule"] == 'source ~ "GOOGLE" and tags any ("VIP")'
    _invoke(run, store, "automations", "run", "vip", "1")
    _invoke(run, store, "automations", "run", "vip", "3")
    ada, alan = (
        json.loads(_invoke(run, store, "customers", "show", i, "--format", "json").output)
        for i in ("1", "3")
    )
    assert "hot" in ada["customer"]["tags"] and "hot" not in alan["customer"]["tags"]
    bad = run.invoke(cli, ["--store", store, "automations", "add", "x", "--on", "created",
                           "--rule", "tags = 1", "--action", "add_tag=y"])  # fmt: skip
    assert bad.exit_code == 1 and "^" in bad.output
