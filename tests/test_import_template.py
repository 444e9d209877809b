"""The import template: the workspace's columns and an example row; filled in, it imports as is."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline_core import Workspace
from pipeline_core.cli import cli
from pipeline_core.domain.clock import FixedClock
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.storage import open_store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ws() -> Workspace:
    workspace = Workspace(open_store("memory:"), clock=FixedClock(NOW))
    for definition in (
        FieldDefinition(key="plan", type="select", options=("basic", "pro"), required=True),
        FieldDefinition(key="seats", type="number", label="Seats"),
        FieldDefinition(key="price", type="decimal"),
        FieldDefinition(key="renewal", type="date"),
        FieldDefinition(key="call", type="datetime"),
        FieldDefinition(key="active", type="checkbox"),
        FieldDefinition(key="topics", type="multi_select", options=("crm", "erp")),
        FieldDefinition(key="motto", type="text"),
    ):
        workspace.fields.add(definition)
    return workspace


def test_the_template_lists_columns_kinds_options_and_statuses(ws: Workspace) -> None:
    sheet = ws.customers.template()
    assert sheet.headers[:3] == ("name", "emails", "phones")
    assert "fields.plan" in sheet.headers and "fields.topics" in sheet.headers
    guide = dict(sheet.guide)
    assert guide["fields.plan"] == "select of basic, pro; required"
    assert guide["fields.seats"] == "Seats: number"
    assert guide["statuses"] == "Lead, Prospect, Quoted, Customer, Inactive"
    example = dict(zip(sheet.headers, sheet.example, strict=True))
    assert example["status"] == "Lead" and example["fields.plan"] == "basic"
    assert example["next_follow_up"] == "2026-03-09" and example["created_at"] == "2026-03-02"


def test_a_filled_csv_template_imports_with_no_map(tmp_path: Path, ws: Workspace) -> None:
    out = io.StringIO()
    ws.customers.template(out, "csv")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1][rows[0].index("phones")] == "'+44 20 7946 0018"  # never a formula
    grace = dict(zip(rows[0], rows[1], strict=True))
    grace.update(name="Grace Hopper", emails="grace@example.com", phones="+1 415 555 0132")
    grace.update({"fields.plan": "pro", "fields.topics": "crm; erp", "status": "Prospect"})
    path = tmp_path / "filled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], rows[1], [grace[h] for h in rows[0]]])
    summary = ws.customers.import_file(path)
    assert (summary.created, summary.rejected, summary.unknown_columns) == (2, 0, ())
    ada, hopper = ws.customers.list()
    assert ada.phones == ("+44 20 7946 0018",) and ada.tags == ("VIP", "Referral")
    assert ada.value == Decimal("1200.00") and ada.currency == "GBP"
    assert ada.created_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert ada.fields == {
        "plan": "basic", "seats": 42, "price": Decimal("9.99"), "renewal": date(2026, 3, 2),
        "call": datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "active": True, "topics": ("crm",),
        "motto": "example",
    }  # fmt: skip
    assert hopper.status == "Prospect" and hopper.fields["topics"] == ("crm", "erp")


def test_an_xlsx_template_has_a_guide_sheet_and_imports(tmp_path: Path, ws: Workspace) -> None:
    path = tmp_path / "template.xlsx"
    ws.customers.template(path, "xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["customers", "guide"]
    guide = {row[0]: row[1] for row in book["guide"].iter_rows(min_row=2, values_only=True)}
    assert guide["statuses"] == "Lead, Prospect, Quoted, Customer, Inactive"
    assert ws.customers.import_file(path).created == 1
    assert ws.customers.list()[0].fields["plan"] == "basic"


def test_cli_template(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", url, "init"]).exit_code == 0
    result = runner.invoke(cli, ["--store", url, "customers", "template"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("name,emails,phones,whatsapp,country,status")
    assert re.search(r"^  statuses +Lead, Prospect", result.stderr, re.MULTILINE)
    target = tmp_path / "t.xlsx"
    made = runner.invoke(
        cli, ["--store", url, "customers", "template", "--format", "xlsx", "-o", str(target)]
    )
    assert made.exit_code == 0 and target.exists()
    refused = runner.invoke(cli, ["--store", url, "customers", "template", "--format", "xlsx"])
    assert refused.exit_code == 2 and "needs -o FILE" in refused.output
