"""Files that used to lose rows without a word: stale xlsx dimensions, runaway quotes, UTF-16, NULs.

Each bad row is rejected on its own, naming its line (and cell or column), and
every other row is read; only a file that is really not text is refused whole.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Workspace
from pipeline_core.errors import ImportFileError
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.readers import SourceRow, inspect_file, open_source
from pipeline_core.storage import open_store

openpyxl = pytest.importorskip("openpyxl")

HEADERS = ["Name", "Email", "Phone", "Country"]


@pytest.fixture
def mem() -> Workspace:
    return Workspace(open_store("memory:"))


def read_rows(path: Path, encoding: str = "utf-8") -> list[SourceRow]:
    """Every row the reader gives for ``path``, as an import reads it."""
    facts = inspect_file(path, path.name, format=None, encoding=encoding)
    return list(open_source(path, path.name, facts.format, encoding=facts.encoding).rows)


# xlsx: a stale <dimension> ----------------------------------------------------------


def workbook(path: Path, rows: list[list[Any]], dimension: str | None, **cells: Any) -> Path:
    """Write ``rows`` (and any ``cells`` by reference) with openpyxl, then make the sheet's
    ``<dimension>`` say ``dimension`` (or drop it), as many other writers leave it."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for ref, value in cells.items():
        sheet[ref] = value
    written = path.with_suffix(".fresh.xlsx")
    book.save(written)
    replacement = b"" if dimension is None else f'<dimension ref="{dimension}"/>'.encode()
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*" ?/>', replacement, data)
                assert count == 1  # the rewrite happened: the test is about a stale dimension
            target.writestr(item, data)
    return path


def people(count: int) -> list[list[Any]]:
    return [HEADERS] + [
        [f"P{n}", f"p{n}@x.com", f"+44 20 7946 {n:04d}", "GB"] for n in range(1, count + 1)
    ]


@pytest.mark.parametrize("dimension", ["A1:B3", "A1", "C5:D6", None])
def test_an_xlsx_with_a_stale_dimension_imports_every_row_and_column(
    tmp_path: Path, mem: Workspace, dimension: str | None
) -> None:
    path = workbook(tmp_path / "stale.xlsx", people(10), dimension)
    summary = mem.customers.import_file(path)
    assert (summary.rows, summary.created, summary.rejected) == (10, 10, 0)
    imported = mem.customers.list()
    assert [c.name for c in imported] == [f"P{n}" for n in range(1, 11)]
    assert all(c.phones and c.country == "GB" and c.emails for c in imported)


def test_xlsx_cells_beyond_the_headers_are_reported_and_the_last_row_is_read(
    tmp_path: Path, mem: Workspace
) -> None:
    rows = people(10)
    path = workbook(
        tmp_path / "far.xlsx",
        rows,
        "A1:D11",
        XFD5="far right",  # a data row with a cell in the last column
        E20="alone",  # a row holding nothing but a cell beyond the headers
        A1048576="Last Row",  # the last row a sheet has
    )
    rejects = tmp_path / "rejects.csv"
    summary = mem.customers.import_file(path, ImportOptions(rejects=rejects))
    assert (summary.rows, summary.created, summary.rejected) == (12, 10, 2)
    far, alone = summary.errors
    assert far.line == 5 and "cell XFD5 holds 'far right' beyond the 4 headed columns" in far.reason
    assert alone.line == 20 and "cell E20 holds 'alone'" in alone.reason
    names = [c.name for c in mem.customers.list()]
    assert "Last Row" in names and "P4" not in names  # row 5 holds P4
    with rejects.open(encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written[1][:4] == ["P4", "p4@x.com", "+44 20 7946 0004", "GB"]
    assert "XFD5" in written[1][-1]


CELL = st.text(alphabet="abcXYZ019 ", max_size=5)


@settings(max_examples=25)
@given(
    grid=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=8).filter(
        lambda grid: any(cell.strip() for cells in grid for cell in cells)
    ),
    dimension=st.sampled_from(["A1", "A1:A1", "B2:C3", "A1:C2", "A1:XFD1048576", None]),
)
def test_any_stale_dimension_reads_exactly_the_rows_written(
    grid: list[list[str]], dimension: str | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = workbook(Path(folder) / "p.xlsx", [["a", "b", "c"], *grid], dimension)
        rows = read_rows(path)
    expected = [
        (line, dict(zip("abc", (cell.strip() for cell in cells), strict=True)))
        for line, cells in enumerate(grid, 2)
        if any(cell.strip() for cell in cells)
    ]
    assert [(row.line, row.values) for row in rows] == expected


# CSV and TSV: a quote that is never closed --------------------------------------------


def stray_quote_file(tmp_path: Path, suffix: str, lines: int, strays: dict[int, str]) -> Path:
    delimiter = "\t" if suffix == ".tsv" else ","
    text = [delimiter.join(["name", "email", "phone"])]
    for line in range(2, lines + 1):
        row = strays.get(line) or f"P{line},p{line}@x.com,+44 20 7946 {line:04d}"
        text.append(row.replace(",", delimiter))
    path = tmp_path / f"quotes{suffix}"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_an_unclosed_quote_rejects_its_line_and_every_other_row_is_read(
    tmp_path: Path, mem: Workspace, suffix: str
) -> None:
    stray = 'P5000,"p5000@x.com,+44 20 7946 5000'
    path = stray_quote_file(tmp_path, suffix, 10_000, {5000: stray})
    rejects = tmp_path / "rejects.csv"
    summary = mem.customers.import_file(path, ImportOptions(rejects=rejects))
    assert (summary.rows, summary.created, summary.rejected) == (9999, 9998, 1)
    (error,) = summary.errors
    assert (error.line, error.column) == (5000, "email")
    assert "the quote at character 7 is not closed" in error.reason
    assert "runs on to line 10000" in error.reason and "lines 5001-10000" in error.reason
    assert mem.customers.count() == 9998
    with rejects.open(encoding="utf-8") as handle:
        written = list(csv.reader(handle))
    assert written[1][:3] == stray.split(",")  # the line as it was, to fix and import again


def test_two_stray_quotes_in_one_column_do_not_swallow_the_rows_between(
    tmp_path: Path, mem: Workspace
) -> None:
    strays = {100: 'P100,"p100@x.com,+44 20 7946 0100', 200: 'P200,p200@x.com",+44 20 7946 0200'}
    path = stray_quote_file(tmp_path, ".csv", 300, strays)
    summary = mem.customers.import_file(path)
    assert summary.errors[0].line == 100
    assert "every line inside it reads as a row of 3 cells" in summary.errors[0].reason
    names = {c.name for c in mem.customers.list()}
    assert names >= {f"P{n}" for n in range(101, 200)}  # the 99 rows between the quotes
    assert summary.rows == 299


def test_a_quoted_cell_over_several_lines_is_still_one_cell(tmp_path: Path, mem: Workspace) -> None:
    note = "Called twice\nleft a message, no answer\n\nwill try again"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["name", "email", "notes"], ["Ann", "a@x.com", note]])
    buffer.write("Bob,b@x.com,\n")
    path = tmp_path / "notes.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    summary = mem.customers.import_file(path)
    assert (summary.created, summary.rejected) == (2, 0)
    ann, bob = mem.customers.list()
    assert ann.lead_notes == note.replace("\r\n", "\n")
    assert mem.customers.timeline(bob.id)[0].data["line"] == 6


def test_a_runaway_quote_is_stopped_once_no_good_record_can_be_that_long(
    tmp_path: Path,
) -> None:
    """A stray quote with no other quote after it: the reader stops taking lines once the
    record is longer than every cell at 1 MiB could make it, and reads them all again."""
    lines = 120_000  # about 5 MiB after the quote: past (3 columns + 1) x 1 MiB
    path = stray_quote_file(tmp_path, ".csv", lines, {3: 'P3,"p3@x.com,+44 20 7946 0003'})
    rows = read_rows(path)
    assert len(rows) == lines - 1
    (bad,) = [row for row in rows if row.problem is not None]
    assert (bad.line, bad.column) == (3, "email")
    assert "characters long there" in str(bad.problem)
    assert [row.line for row in rows if row.problem is None] == [2, *range(4, lines + 1)]


PLAIN = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=6).filter(
    lambda text: text.strip() == text
)


@settings(max_examples=40)
@given(
    table=st.lists(st.lists(PLAIN, min_size=3, max_size=3), min_size=1, max_size=12),
    strays=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 2)), max_size=3),
    delimiter=st.sampled_from([",", "\t"]),
)
def test_stray_quotes_reject_only_their_own_lines(
    table: list[list[str]], strays: list[tuple[int, int]], delimiter: str
) -> None:
    """Whatever rows hold stray opening quotes, each of those lines is rejected (naming
    the line and the quote's column) and every other row is read back as written."""
    quoted = {row % len(table): column for row, column in strays}
    lines = [delimiter.join(["a", "b", "c"])]
    for number, cells in enumerate(table):
        if number in quoted:
            cells = [('"' + c) if n == quoted[number] else c for n, c in enumerate(cells)]
        lines.append(delimiter.join(cells))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("p.tsv" if delimiter == "\t" else "p.csv")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        facts = inspect_file(path, path.name, format=None, encoding="utf-8")
        rows = list(open_source(path, path.name, facts.format, delimiter=delimiter).rows)
    rejected = {row.line: row.column for row in rows if row.problem is not None}
    assert rejected == {number + 2: "abc"[column] for number, column in quoted.items()}
    good = [(row.line, row.values) for row in rows if row.problem is None]
    assert good == [
        (number + 2, dict(zip("abc", cells, strict=True)))
        for number, cells in enumerate(table)
        if number not in quoted
    ]


# Encodings: a byte-order mark decides; NUL is a row's problem --------------------------

NAMES = ["José Ñúñez", "Zoë 李", "Ann"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_byte_order_mark_names_the_encoding(
    tmp_path: Path, mem: Workspace, codec: str, suffix: str
) -> None:
    if suffix == ".jsonl":
        text = "".join(f'{{"name": "{name}"}}\n' for name in NAMES)
    else:
        delimiter = "\t" if suffix == ".tsv" else ","
        text = f"name{delimiter}tags\n" + "".join(f"{name}{delimiter}x\n" for name in NAMES)
    mark = b"\xfe\xff" if codec == "utf-16-be" else b""  # utf-16-be writes no mark of its own
    path = tmp_path / f"marked{suffix}"
    path.write_bytes(mark + text.encode(codec))
    summary = mem.customers.import_file(path)  # no --encoding: the mark is enough
    assert (summary.created, summary.rejected) == (3, 0)
    assert [c.name for c in mem.customers.list()] == NAMES


TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=8
).filter(lambda text: text.strip() == text and "\ufeff" not in text)


@settings(max_examples=40)
@given(
    table=st.lists(st.lists(TEXT, min_size=2, max_size=2), min_size=1, max_size=6),
    codec=st.sampled_from(["utf-16", "utf-32", "utf-8-sig"]),
)
def test_any_csv_with_a_byte_order_mark_reads_back(table: list[list[str]], codec: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["a", "b"], *table])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_bytes(buffer.getvalue().encode(codec))
        rows = read_rows(path)
    assert [row.values for row in rows] == [dict(zip("ab", cells, strict=True)) for cells in table]


def test_utf16_without_a_mark_is_named_and_reads_with_its_encoding(
    tmp_path: Path, mem: Workspace
) -> None:
    path = tmp_path / "bare.csv"
    path.write_bytes("name\nJosé\nZoë\n".encode("utf-16-le"))
    with pytest.raises(ImportFileError, match=r"UTF-16 .*--encoding utf-16-le"):
        mem.customers.import_file(path)
    mem.customers.import_file(path, ImportOptions(encoding="utf-16-le"))
    assert [c.name for c in mem.customers.list()] == ["José", "Zoë"]


@pytest.mark.parametrize("line", [2, 302])
def test_a_nul_byte_rejects_its_row_wherever_it_is(
    tmp_path: Path, mem: Workspace, line: int
) -> None:
    rows = [f"P{n},p{n}@x.com,keep" for n in range(2, 401)]
    rows[line - 2] = f"P{line},p{line}@x.com,ke\x00ep"  # in a column the import ignores
    path = tmp_path / "nul.csv"
    path.write_text("name,email,other\n" + "\n".join(rows) + "\n", encoding="utf-8")
    summary = mem.customers.import_file(path, ImportOptions(mapping={"other": "-"}))
    assert (summary.created, summary.rejected) == (398, 1)
    (error,) = summary.errors
    assert (error.line, error.column) == (line, "other")
    assert "NUL character (at character 3)" in error.reason


def test_a_nul_byte_in_json_lines_rejects_its_line(tmp_path: Path, mem: Workspace) -> None:
    path = tmp_path / "nul.jsonl"
    path.write_text('{"name": "Ann"}\n{"name": "B\x00b"}\n{"name": "Cy"}\n', encoding="utf-8")
    summary = mem.customers.import_file(path)
    assert (summary.created, summary.rejected) == (2, 1)
    assert summary.errors[0].line == 2 and "NUL character (at character 12)" in str(
        summary.errors[0]
    )


@pytest.mark.parametrize(
    "content",
    [
        b"SQLite format 3\x00" + bytes(4000),  # a database file
        bytes(range(256)) * 8,  # every byte value
    ],
)
def test_a_binary_file_is_refused_whole(tmp_path: Path, mem: Workspace, content: bytes) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=r"looks binary \([\d,]+ of its first"):
        mem.customers.import_file(path, ImportOptions(encoding="latin-1"))
    assert mem.customers.count() == 0


def test_an_unknown_encoding_is_one_clear_error(tmp_path: Path, mem: Workspace) -> None:
    path = tmp_path / "a.csv"
    path.write_text("name\nAnn\n", encoding="utf-8")
    for encoding in ("utf-9", "base64"):
        with pytest.raises(ImportFileError, match=f"unknown encoding '{encoding}'"):
            mem.customers.import_file(path, ImportOptions(encoding=encoding))
