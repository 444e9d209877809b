"""CSV exports never hand a spreadsheet a formula it would run, and still import back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.formulas import neutralized, restored

ACTIVE = ("=", "+", "-", "@", "\t", "\r")


@given(st.text())
def test_a_neutralized_cell_never_starts_a_formula_and_restores_exactly(text: str) -> None:
    cell = neutralized(text)
    assert not cell.startswith(ACTIVE)
    assert restored(cell) == text


@given(st.text().filter(lambda t: not t.lstrip("'").startswith(ACTIVE)))
def test_plain_text_is_left_alone_both_ways(text: str) -> None:
    assert neutralized(text) == text
    assert restored(text) == text


def test_an_export_of_formulas_is_text_to_a_spreadsheet_and_imports_back(tmp_path: Path) -> None:
    names = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "@SUM(A1)", "'=x"]
    with Workspace.open("memory:") as ws:
        for name in names:
            ws.customers.add(Customer(name=name, phones=["+1 415 555 0132"]), on_duplicate="allow")
        out = io.StringIO()
        ws.customers.export(out, "csv", columns=["name", "phones"])
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    for name_cell, phone_cell in rows:
        assert not name_cell.startswith(ACTIVE) and not phone_cell.startswith(ACTIVE)
    assert [row[1] for row in rows] == ["'+1 415 555 0132"] * len(names)
    path = tmp_path / "back.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with Workspace.open("memory:") as again:
        again.customers.import_file(path, ImportOptions(on_duplicate="allow"))
        back = again.customers.list()
    assert [c.name for c in back] == names
    assert {c.phones for c in back} == {("+1 415 555 0132",)}
