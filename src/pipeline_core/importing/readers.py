"""Import sources: CSV, TSV, a JSON array, JSON Lines and .xlsx, each read as a stream of rows.

Every row carries the line it starts on (for messages and for resuming) and the
values as they were, so that a rejected row can be written back out unchanged.
Whole-file problems (missing, empty, binary, badly encoded, duplicate headers)
raise ``ImportFileError`` before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

import attrs

from pipeline_core.errors import ImportFileError
from pipeline_core.importing.jsonstream import ElementError, json_array

InputFormat = Literal["csv", "tsv", "json", "jsonl", "xlsx"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("csv", "tsv", "json", "jsonl", "xlsx")

MAX_CELL = 1 << 20
"""The longest cell a row may hold (characters); a longer one rejects its row."""

_CSV_LIMIT = 64 << 20  # the csv module's own limit: past MAX_CELL, so a long cell is a row error
_SUFFIXES: dict[str, InputFormat] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}
_ZIP = b"PK\x03\x04"
XLSX_EXTRA = "reading and writing .xlsx needs the optional extra: pip install 'pipeline_core[xlsx]'"


@attrs.frozen
class SourceRow:
    """One record of the file: the line it starts on, its values by header, and the raw record.

    ``problem`` is set (and ``values`` empty) when the record itself is unreadable:
    the wrong number of cells, broken quoting, invalid JSON.
    """

    line: int
    values: dict[str, Any]
    raw: list[str] | dict[str, Any] | None
    problem: str | None = None


@attrs.frozen
class FileFacts:
    """What the pre-pass learnt about a file: its SHA-256 and its format."""

    sha256: str
    format: InputFormat


@attrs.define
class Source:
    """An open import file: its headers (those known up front) and its rows, once."""

    name: str
    format: InputFormat
    headers: list[str]
    rows: Iterator[SourceRow]


def inspect_file(path: Path, name: str, *, format: InputFormat | None, encoding: str) -> FileFacts:
    """Hash the file and check it is readable text in ``encoding`` (or a workbook).

    One pass, in chunks: the hash keys the import run (for resuming) and the
    decoding check means an encoding error is found before anything is written.
    """
    if not path.exists():
        raise ImportFileError(f"{name}: no such file")
    if path.is_dir():
        raise ImportFileError(f"{name}: is a directory, not a file")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip() or head.strip() in (codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n"):
        raise ImportFileError(f"{name}: the file is empty (no header row, no data)")
    chosen = format or _SUFFIXES.get(path.suffix.lower())
    if head.startswith(_ZIP):
        if chosen not in (None, "xlsx"):
            raise ImportFileError(
                f"{name}: is a zip archive (an Excel workbook?), not {chosen} text; "
                "use a .xlsx name or --input-format xlsx"
            )
        chosen = "xlsx"
    elif chosen == "xlsx":
        raise ImportFileError(f"{name}: is not an .xlsx workbook (no zip signature)")
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    if chosen != "xlsx" and not wide and b"\x00" in head:
        raise ImportFileError(
            f"{name}: looks binary (it holds NUL bytes), not CSV, TSV or JSON text"
        )
    digest = hashlib.sha256()
    decoder = None if chosen == "xlsx" else codecs.getincrementaldecoder(encoding)()
    offset = lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    _encoding_error(name, encoding, offset, lines, chunk, error)
            offset += len(chunk)
            lines += chunk.count(b"\n")
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:
                _encoding_error(name, encoding, offset, lines, b"", error)
    return FileFacts(digest.hexdigest(), chosen or "csv")


def _encoding_error(
    name: str, encoding: str, offset: int, lines: int, chunk: bytes, error: UnicodeDecodeError
) -> None:
    at = max(error.start, 0)
    line = lines + chunk.count(b"\n", 0, at) + 1
    raise ImportFileError(
        f"{name}: not valid {encoding} text at byte offset {offset + at} (line {line}); "
        "give the file's encoding with --encoding (for example cp1252 or latin-1)"
    ) from None


def open_source(
    path: Path,
    name: str,
    format: InputFormat,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> Source:
    """Open ``path`` as ``format`` and read its header; the rows are read lazily."""
    if format == "xlsx":
        return _xlsx(path, name)
    text_encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    handle = path.open("r", encoding=text_encoding, newline="")
    if format == "json":
        return Source(name, format, [], _json_rows(handle, name))
    if format == "jsonl":
        return Source(name, format, [], _jsonl_rows(handle))
    return _csv(handle, name, format, delimiter)


# CSV and TSV --------------------------------------------------------------------------


def _csv(handle: Any, name: str, format: InputFormat, delimiter: str | None) -> Source:
    if delimiter is None and format == "tsv":
        delimiter = "\t"
    if delimiter is None:
        sample = handle.read(1 << 16)
        handle.seek(0)
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","  # one column, or nothing to go on
    if len(delimiter) != 1:
        raise ImportFileError(f"{name}: the delimiter must be one character, not {delimiter!r}")
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_LIMIT))
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as error:
        raise ImportFileError(f"{name}: cannot read the header row: {error}") from None
    if header is None:
        raise ImportFileError(f"{name}: the file is empty (no header row, no data)")
    headers = [cell.strip() or f"column {n}" for n, cell in enumerate(header, 1)]
    seen: dict[str, int] = {}
    for position, text in enumerate(headers, 1):
        folded = text.casefold()
        if folded in seen:
            raise ImportFileError(
                f"{name}: duplicate header {text!r} (columns {seen[folded]} and {position});"
                " rename one of them"
            )
        seen[folded] = position
    rows = _csv_rows(reader, headers)
    first = next(rows, None)
    if first is None:
        raise ImportFileError(f"{name}: has a header row but no data rows; nothing to import")
    return Source(name, format, headers, itertools.chain([first], rows))


def _csv_rows(reader: Any, headers: list[str]) -> Iterator[SourceRow]:
    width = len(headers)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = str(error)
            if "unexpected end of data" in reason:
                reason = "the file ends inside a quoted cell (a truncated last line?)"
            yield SourceRow(start, {}, None, f"unreadable CSV: {reason}")
            continue
        if not cells or cells == [""]:
            continue  # a blank line
        if len(cells) != width:
            yield SourceRow(
                start, {}, cells, f"has {len(cells)} cells where the header has {width}"
            )
            continue
        long = next((h for h, c in zip(headers, cells, strict=True) if len(c) > MAX_CELL), None)
        if long is not None:
            size = len(cells[headers.index(long)])
            yield SourceRow(
                start,
                {},
                [c[:100] for c in cells],
                f"column {long!r} holds {size:,} characters; a cell may hold at most {MAX_CELL:,}",
            )
            continue
        yield SourceRow(start, dict(zip(headers, cells, strict=True)), cells)


# JSON -----------------------------------------------------------------------------


def _json_rows(handle: Any, name: str) -> Iterator[SourceRow]:
    elements = json_array(handle, name)
    try:
        first = next(elements, None)
    except ElementError as error:
        raise ImportFileError(f"{name}: line {error.line}: {error.reason}") from None
    if first is None:
        raise ImportFileError(f"{name}: the JSON array is empty; nothing to import")
    if not isinstance(first[1], dict):
        raise ImportFileError(
            f"{name}: not a JSON array of objects (its first element is {_kind(first[1])})"
        )
    return _elements(itertools.chain([first], elements))


def _elements(elements: Iterator[tuple[int, Any]]) -> Iterator[SourceRow]:
    try:
        for line, element in elements:
            yield _object_row(line, element)
    except ElementError as error:
        yield SourceRow(error.line, {}, None, error.reason)


def _jsonl_rows(handle: Any) -> Iterator[SourceRow]:
    for number, text in enumerate(handle, 1):
        if not text.strip():
            continue
        try:
            element = json.loads(text)
        except json.JSONDecodeError as error:
            yield SourceRow(
                number, {}, {"text": text.rstrip("\r\n")[:1000]}, f"invalid JSON: {error.msg}"
            )
            continue
        yield _object_row(number, element)


def _object_row(line: int, element: Any) -> SourceRow:
    if not isinstance(element, dict):
        return SourceRow(line, {}, {"value": element}, f"is {_kind(element)}, not a JSON object")
    values: dict[str, Any] = {}
    for key, value in element.items():
        if key == "fields" and isinstance(value, dict):
            values.update({f"fields.{k}": v for k, v in value.items()})
        else:
            values[key] = value
    long = next((k for k, v in values.items() if isinstance(v, str) and len(v) > MAX_CELL), None)
    if long is not None:
        return SourceRow(
            line, {}, None, f"{long!r} holds {len(values[long]):,} characters; at most {MAX_CELL:,}"
        )
    return SourceRow(line, values, element)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# xlsx -------------------------------------------------------------------------------


def _xlsx(path: Path, name: str) -> Source:
    try:
        import openpyxl
    except ImportError:
        raise ImportFileError(f"{name}: {XLSX_EXTRA}") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise ImportFileError(f"{name}: cannot read the workbook: {error}") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or all(cell is None for cell in header):
        raise ImportFileError(f"{name}: the first sheet is empty (no header row)")
    headers = [_cell(c) or f"column {n}" for n, c in enumerate(header, 1)]
    folded = [h.casefold() for h in headers]
    for position, text in enumerate(folded):
        if text in folded[:position]:
            raise ImportFileError(
                f"{name}: duplicate header {headers[position]!r} "
                f"(columns {folded.index(text) + 1} and {position + 1}); rename one of them"
            )

    def generate() -> Iterator[SourceRow]:
        for number, cells in enumerate(rows, 2):
            texts = [_cell(c) for c in cells]
            if all(t == "" for t in texts):
                continue
            texts = (texts + [""] * len(headers))[: max(len(headers), len(texts))]
            if any(texts[len(headers) :]):
                yield SourceRow(
                    number, {}, texts, f"has cells beyond the {len(headers)} headed columns"
                )
                continue
            yield SourceRow(number, dict(zip(headers, texts, strict=False)), texts[: len(headers)])
        book.close()

    generated = generate()
    first = next(generated, None)
    if first is None:
        raise ImportFileError(f"{name}: has a header row but no data rows; nothing to import")
    return Source(name, "xlsx", headers, itertools.chain([first], generated))


def _cell(value: Any) -> str:
    """A workbook cell as the text a CSV would hold: whole numbers without '.0', dates ISO."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
