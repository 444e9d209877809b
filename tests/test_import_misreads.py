"""Files that used to crash or be misread: lone surrogates, ; with multi-line cells, CR LF in xlsx;
and exports safe from formula injection by default, exact with ``raw``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.cli import cli as main
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.export import xlsx_escaped
from pipeline_core.importing.readers import sniff_delimiter, xlsx_unescaped
from pipeline_core.storage import open_store


@pytest.fixture
def mem() -> Workspace:
    return Workspace(open_store("memory:"))


@pytest.mark.parametrize("suffix", ["json", "jsonl"])
def test_a_lone_surrogate_is_a_rejected_row_not_a_traceback(
    tmp_path: Path, mem: Workspace, suffix: str
) -> None:
    rows = [
        '{"name": "Ann", "email": "ann@example.com"}',
        '{"name": "Bad", "email": "\\ud800@example.com"}',
        '{"name": "Key", "tags": ["ok", "\\udc00"]}',
        '{"name": "Cy", "email": "cy@example.com"}',
    ]
    text = "[\n" + ",\n".join(rows) + "\n]\n" if suffix == "json" else "\n".join(rows) + "\n"
    path = tmp_path / f"people.{suffix}"
    path.write_text(text, encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    summary = mem.customers.import_file(path, ImportOptions(rejects=rejects))
    assert [c.name for c in mem.customers.list()] == ["Ann", "Cy"]
    first, second = summary.errors
    assert (first.line, first.column) == (3 if suffix == "json" else 2, "email")
    assert "lone surrogate escape (\\ud800)" in first.reason
    assert (second.column, "\\udc00" in second.reason) == ("tags", True)
    written = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert written[0]["email"] == "\ud800@example.com" and written[1]["tags"][1] == "\udc00"


def test_the_cli_rejects_a_surrogate_row_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"name": "A\\ud83d"}\n{"name": "Bo"}\n', encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--store", url, "init"]).exit_code == 0
    result = runner.invoke(main, ["--store", url, "customers", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "line 1, column 'name': holds a lone surrogate escape (\\ud83d)" in result.output
    assert result.exception is None


def test_semicolons_with_multi_line_quoted_cells_are_sniffed(
    tmp_path: Path, mem: Workspace
) -> None:
    text = (
        "Name;Email;Notes;Deal Value\r\n"
        'Ann;ann@example.com;"first line, with a comma\r\nsecond, line";12,50\r\n'
        'Bob;bob@example.com;"a; b\r\nc, d\r\ne";3\r\n'
        "Cy;cy@example.com;plain;4\r\n"
    )
    path = tmp_path / "eu.csv"
    path.write_text(text, encoding="utf-8", newline="")
    summary = mem.customers.import_file(path, ImportOptions(mapping={"Deal Value": "fields.v"}))
    assert (summary.created, summary.rejected) == (3, 0)
    ann, bob, cy = mem.customers.list()
    assert (
        ann.lead_notes == "first line, with a comma\r\nsecond, line" and ann.fields["v"] == "12,50"
    )
    assert bob.lead_notes == "a; b\r\nc, d\r\ne" and cy.emails == ("cy@example.com",)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b\n1,5;2,5\n3,5;4\n", ";"),
        ("a\tb\n1;2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('a;b\n"x\ny, z";2\n', ";"),
        ("just one column\nvalue\n", ","),
    ],
)
def test_sniffing_keeps_the_most_consistent_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample, whole=True) == expected


def test_sniffing_leaves_out_a_record_cut_by_the_sample() -> None:
    # The last record's quoted cell runs past the sample: comma would count it short.
    sample = "a;b;c\n1;2;3\n4;5;6\n" + '7;8;"long, cut'
    assert sniff_delimiter(sample, whole=False) == ";"


def test_xlsx_keeps_cr_lf_inside_cells(tmp_path: Path, mem: Workspace) -> None:
    notes = ["two\r\nlines", "lone\rcarriage", "literal _x000D_ text", "tab\tinside"]
    for n, note in enumerate(notes):
        mem.customers.add(Customer(name=f"C{n}", lead_notes=note))
    book = tmp_path / "out.xlsx"
    mem.customers.export(book, "xlsx", columns=["name", "lead_notes"])
    other = Workspace(open_store("memory:"))
    assert other.customers.import_file(book).created == 4
    assert [c.lead_notes for c in other.customers.list()] == notes


@given(st.text(st.sampled_from("_x0D\r\nAF5'=")))
@settings(max_examples=300, deadline=None)
def test_xlsx_escapes_are_exact_inverses(text: str) -> None:
    assert xlsx_unescaped(xlsx_escaped(text)) == text
    assert "\r" not in xlsx_escaped(text)


DANGEROUS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx"]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_text_exports_neutralize_formulas_and_import_back_exactly(
    tmp_path: Path, mem: Workspace, fmt: str
) -> None:
    for name in DANGEROUS:
        mem.customers.add(Customer(name=f"n{len(name)}", lead_notes=name))
    out = io.StringIO()
    mem.customers.export(out, fmt, columns=["name", "lead_notes"])  # type: ignore[arg-type]
    cells = [
        row[1]
        for row in csv.reader(io.StringIO(out.getvalue()), delimiter="," if fmt == "csv" else "\t")
    ][1:]
    assert cells == ["'" + text for text in DANGEROUS]
    raw = io.StringIO()
    mem.customers.export(raw, fmt, columns=["name", "lead_notes"], raw=True)  # type: ignore[arg-type]
    assert [
        row[1]
        for row in csv.reader(io.StringIO(raw.getvalue()), delimiter="," if fmt == "csv" else "\t")
    ][1:] == DANGEROUS
    path = tmp_path / f"back.{fmt}"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    other = Workspace(open_store("memory:"))
    other.customers.import_file(path)
    assert [c.lead_notes for c in other.customers.list()] == DANGEROUS


def test_xlsx_exports_neutralize_formulas_unless_raw(tmp_path: Path, mem: Workspace) -> None:
    import openpyxl

    for name in DANGEROUS:
        mem.customers.add(Customer(name=f"n{len(name)}", lead_notes=name))
    safe, raw = tmp_path / "safe.xlsx", tmp_path / "raw.xlsx"
    mem.customers.export(safe, "xlsx", columns=["name", "lead_notes"])
    mem.customers.export(raw, "xlsx", columns=["name", "lead_notes"], raw=True)

    def cells(path: Path) -> list[object]:
        sheet = openpyxl.load_workbook(path).worksheets[0]
        return [row[1].value for row in sheet.iter_rows(min_row=2)]

    assert cells(safe) == ["'" + text for text in DANGEROUS]
    assert cells(raw) == DANGEROUS  # text cells still: never stored as a formula
    other = Workspace(open_store("memory:"))
    other.customers.import_file(safe)
    assert [c.lead_notes for c in other.customers.list()] == DANGEROUS


def test_json_exports_stay_exact(mem: Workspace) -> None:
    for name in DANGEROUS:
        mem.customers.add(Customer(name=f"n{len(name)}", lead_notes=name))
    out = io.StringIO()
    mem.customers.export(out, "jsonl", columns=["lead_notes"])
    assert [json.loads(line)["lead_notes"] for line in out.getvalue().splitlines()] == DANGEROUS


def test_cli_export_raw(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()
    runner.invoke(main, ["--store", url, "init"])
    runner.invoke(main, ["--store", url, "customers", "add", "=1+1"])
    safe = runner.invoke(main, ["--store", url, "customers", "export", "--columns", "name"])
    raw = runner.invoke(main, ["--store", url, "customers", "export", "--columns", "name", "--raw"])
    assert safe.output.splitlines() == ["name", "'=1+1"]
    assert raw.output.splitlines() == ["name", "=1+1"]


def test_emails_keyed_by_idna_2008_and_invisible_characters_refused(
    tmp_path: Path, mem: Workspace
) -> None:
    path = tmp_path / "mail.csv"
    path.write_text(
        "Name,Email\nStrauss,info@straße.de\nStrasse,info@strasse.de\n"
        "Hidden,ann\u200b@example.com\nAnn,ann@example.com\n",
        encoding="utf-8",
    )
    summary = mem.customers.import_file(path)
    assert (summary.created, summary.skipped, summary.rejected) == (3, 0, 1)
    (error,) = summary.errors
    assert (error.line, error.column) == (4, "Email")
    assert "ZERO WIDTH SPACE, which a reader cannot see" in error.reason
