"""Control characters on the way out: tables show them as escapes, a workbook holds what it can.

A customer's name may hold an escape sequence (ESC [ 31 m ...): printed raw it
recolours, moves or clears the user's terminal, and openpyxl refuses it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.cli import cli
from pipeline_core.importing.export import ExportWriter, xlsx_escaped
from pipeline_core.importing.formulas import neutralized
from pipeline_core.render.common import customers_output, key_value_table, records_table
from pipeline_core.storage import open_store

openpyxl = pytest.importorskip("openpyxl")

EVIL = "Eve \x1b[31mRed\x1b[0m\x07\x1b]0;owned\x07 \u202eevil"
# What a terminal acts on: C0 and C1 controls, DEL, line separators, bidirectional overrides.
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_tables_show_control_characters_as_escapes() -> None:
    customer = Customer(id=1, name=EVIL, lead_notes="one\ntwo\rthree")
    table = customers_output([customer], "table")
    assert not ACTIVE.search(table)
    assert "Eve \\x1b[31mRed\\x1b[0m\\x07\\x1b]0;owned\\x07 \\u202eevil" in table
    assert len(table.splitlines()) == 3  # header, rule, one row: no row forged by a newline
    one = customers_output([customer], "json")  # JSON escapes them itself; keep it as it is
    assert "\\u001b[31m" in one
    profile = key_value_table({"name": EVIL, "lead_notes": "one\ntwo"})
    assert "one\\ntwo" in profile and not ACTIVE.search(profile)


def test_the_cli_prints_no_escape_sequence(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", store, "init"]).exit_code == 0
    added = runner.invoke(cli, ["--store", store, "customers", "add", EVIL])
    assert added.exit_code == 0, added.output
    shown = runner.invoke(cli, ["--store", store, "customers", "list"], color=True)
    assert shown.exit_code == 0 and "\\x1b[31m" in shown.output
    assert not ACTIVE.search(shown.output)


@settings(max_examples=60)
@given(
    rows=st.lists(
        st.fixed_dictionaries({"name": st.text(max_size=12), "notes": st.text(max_size=12)}),
        max_size=4,
    ),
    header=st.text(max_size=6),
)
def test_any_text_makes_a_table_without_control_characters(
    rows: list[dict[str, str]], header: str
) -> None:
    records = [{**row, header: row["name"]} for row in rows]
    table = records_table(records, ["name", "notes", header])
    assert not ACTIVE.search(table)
    assert len(table.splitlines()) == len(rows) + 2  # header, rule, one line a row


def xlsx_values(customers: list[Customer], columns: list[str]) -> list[tuple[object, ...]]:
    out = io.BytesIO()
    writer = ExportWriter(out, "xlsx", columns)
    writer.write(customers)
    writer.close()
    out.seek(0)
    return list(openpyxl.load_workbook(out).active.values)


def test_xlsx_export_escapes_what_a_workbook_cannot_hold() -> None:
    customers = [
        Customer(id=1, name=EVIL, lead_notes="tab\there\nnext line"),
        Customer(id=2, name='=HYPERLINK("http://x.example","click")', lead_notes="=1+1"),
    ]
    rows = xlsx_values(customers, ["name", "lead_notes"])
    assert rows[1] == (
        "Eve \\x1b[31mRed\\x1b[0m\\x07\\x1b]0;owned\\x07 \u202eevil",  # a workbook holds U+202E
        "tab\there\nnext line",  # TAB and LF are cell text
    )
    # Text, not formulas, and neutralized as a CSV cell is (the import takes the apostrophe off).
    assert rows[2] == ('\'=HYPERLINK("http://x.example","click")', "'=1+1")


def test_cli_xlsx_export_of_control_characters_succeeds(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", store, "init"]).exit_code == 0
    assert runner.invoke(cli, ["--store", store, "customers", "add", EVIL]).exit_code == 0
    target = tmp_path / "out.xlsx"
    result = runner.invoke(
        cli, ["--store", store, "customers", "export", "--format", "xlsx", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(target).active.values)
    assert rows[1][1] == "Eve \\x1b[31mRed\\x1b[0m\\x07\\x1b]0;owned\\x07 \u202eevil"


NOT_IN_A_WORKBOOK = {*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF}


def as_workbook_keeps_it(text: str) -> str:
    """The text a workbook gives back: unwritable characters as escapes, formulas neutralized."""
    kept = "".join(
        c
        if ord(c) not in NOT_IN_A_WORKBOOK
        else f"\\x{ord(c):02x}"
        if ord(c) < 0x100
        else f"\\u{ord(c):04x}"
        for c in text
    )
    # A formula-like start gets an apostrophe; CR is written as Excel's _x000D_ (XML would
    # read a raw CR as a line end), which openpyxl gives back as written.
    return xlsx_escaped(neutralized(kept))


@settings(max_examples=40)
@given(name=st.text(st.characters(blacklist_categories=("Cs", "Co")), min_size=1, max_size=15))
def test_any_name_exports_to_a_workbook_that_reads_back(name: str) -> None:
    assume(name.strip() and "\x00" not in name)  # a name a customer can have
    customer = Customer(id=1, name=name)
    ((cell,),) = xlsx_values([customer], ["name"])[1:]
    assert cell == as_workbook_keeps_it(customer.name)


def test_csv_export_keeps_control_characters_as_data(workspace: Workspace) -> None:
    workspace.customers.add(Customer(name=EVIL))
    out = io.StringIO()
    workspace.customers.export(out, "csv", columns=["name"])
    assert out.getvalue().splitlines()[1] == EVIL  # CSV holds any text; the round trip keeps it


def test_the_store_round_trips_an_escape_sequence() -> None:
    workspace = Workspace(open_store("memory:"))
    added = workspace.customers.add(Customer(name=EVIL))
    assert workspace.customers.get(added.id).name == EVIL  # stored as given; only output escapes
