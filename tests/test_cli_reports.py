"""``pipeline reports`` through click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pipeline_core import Column, Customer, Workspace
from pipeline_core.cli import cli
from pipeline_core.rules.ast import MATCH_ALL


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'reports.db'}"
    with Workspace.open(url) as ws:
        ws.flows.add(
            "Sales",
            MATCH_ALL,
            [Column("New", "Lead", "#111111", 0), Column("Won", "Customer", "#222222", 1)],
        )
        for name, source, value in (
            ("a", "Web", "100"),
            ("b", " web", "50.5"),
            ("c", "GoogleAds", None),
            ("d", "google ads", "10"),
        ):
            ws.customers.add(
                Customer(name=name, source=source, value=value, currency="EUR", tags=["vip"])
            )
        ws.customers.move(1, "Customer")
    return url


def run(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, "reports", *args])


def ok(store: str, *args: str) -> str:
    result = run(store, *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.stdout


def data(store: str, *args: str) -> Any:
    return json.loads(ok(store, *args, "--format", "json"))


def test_pipeline_report_in_every_format(store: str) -> None:
    report = data(store, "pipeline", "Sales")
    new, won = report["stages"]
    assert (new["column"], new["count"], won["count"]) == ("New", 3, 1)
    assert new["values"] == [
        {"currency": "EUR", "customers": 2, "total": "60.5", "average": "30.25"}
    ]
    assert (won["won"], won["win_rate"], report["total"]["count"]) == (1, 1.0, 4)
    rows = list(csv.DictReader(io.StringIO(ok(store, "pipeline", "Sales", "--format", "csv"))))
    assert [(r["column"], r["count"], r["value"]) for r in rows] == [
        ("New", "3", "EUR 60.50"),
        ("Won", "1", "EUR 100.00"),
        ("Total", "4", "EUR 160.50"),
    ]
    table = ok(store, "pipeline", "Sales", "--where", 'source = "Web"')
    assert table.startswith("Sales\n") and "EUR 100.00" in table
    chart = ok(store, "pipeline", "Sales", "--chart").splitlines()
    assert chart[0].startswith("New │") and chart[0].endswith(" 3")
    assert chart[1].count("█") * 3 == chart[0].count("█") - 1


def test_grouped_report_merges_spellings_and_aliases(store: str) -> None:
    plain = data(store, "group", "--by", "source", "--sub", "status")
    assert plain["columns"] == ["Lead", "Customer"]
    assert {row["label"]: row["cells"] for row in plain["rows"]} == {
        "Web": [1, 1],  # "Web" and "web" tie: the first in code point order names it
        "GoogleAds": [1, 0],
        "google ads": [1, 0],
        "Total": [3, 1],
    }
    assert "Google Ads: GoogleAds" in ok(store, "alias", "Google Ads", "GoogleAds")
    table = ok(store, "group", "--by", "source")
    assert "Google Ads" in table and "GoogleAds" not in table
    assert json.loads(ok(store, "aliases", "--format", "json")) == [
        {"label": "Google Ads", "spellings": ["GoogleAds"]}
    ]
    rows = list(csv.reader(io.StringIO(ok(store, "group", "--by", "tag", "--format", "csv"))))
    assert rows == [["tag", "Total"], ["vip", "4"], ["Total", "4"]]


def test_save_run_and_list(store: str) -> None:
    assert "Saved report 'web'" in ok(
        store, "save", "web", "--by", "source", "--sub", "tag", "--where", 'source = "Web"'
    )
    ok(store, "save", "funnel", "--flow", "Sales")
    listed = data(store, "list")
    assert [(r["name"], r["kind"], r["by"], r["flow"]) for r in listed] == [
        ("funnel", "pipeline", None, "Sales"),
        ("web", "group", "source", None),
    ]
    assert data(store, "run", "web")["rows"][-1] == {"label": "Total", "cells": [1], "total": 1}
    assert data(store, "run", "funnel")["total"]["count"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("group", "--by", "colour"), "Error: cannot group by 'colour'"),
        (("pipeline", "Nope"), "Error: no flow called 'Nope'"),
        (("run", "nope"), "Error: no saved report called 'nope'"),
        (("save", "x"), "Error: give either --flow"),
        (("save", "x", "--flow", "Sales", "--sub", "tag"), "Error: --sub applies"),
        (("group", "--by", "source", "--where", "source ="), "Error: "),
        (("group", "--by", "source", "--image", "chart.gif"), "must end in .png or .svg"),
    ],
)
def test_bad_input_is_one_clear_error(store: str, args: tuple[str, ...], message: str) -> None:
    result = run(store, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_image_needs_the_charts_extra(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    result = run(store, "group", "--by", "source", "--image", str(tmp_path / "c.png"))
    assert result.exit_code == 1
    assert "pipeline-core-crm[charts]" in result.stderr


def test_image_is_drawn_with_the_extra(store: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the optional 'charts' extra is not installed")
    target = tmp_path / "funnel.svg"
    ok(store, "pipeline", "Sales", "--image", str(target))
    assert target.read_text().lstrip().startswith("<?xml")
