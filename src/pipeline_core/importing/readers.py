"""Import sources: CSV, TSV, a JSON array, JSON Lines and .xlsx, each read as a stream of rows.

Every row carries the line it starts on (for messages and for resuming) and the
values as they were, so that a rejected row can be written back out unchanged.
Whole-file problems (missing, empty, binary, badly encoded, duplicate headers)
raise ``ImportFileError`` before anything is written; a bad row is rejected on
its own, naming its line, and reading goes on: no row is dropped without a word.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import re
from collections import deque
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal, TextIO

import attrs

from pipeline_core.errors import ImportFileError
from pipeline_core.importing.formulas import restored
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
_NEWLINE = b"\n"
# A byte-order mark names its encoding beyond doubt (UTF-32 LE first: it starts like UTF-16 LE).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes no text holds (C0 controls but TAB, LF, VT, FF, CR and ESC; and DEL): a file whose
# first 8 KiB are more than a tenth these is binary; fewer are bad rows, each rejected.
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])
XLSX_EXTRA = (
    "reading and writing .xlsx needs the optional extra: pip install 'pipeline-core-crm[xlsx]'"
)


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
    column: str | None = None
    """The header of the cell the problem is in, when it is in one."""


@attrs.frozen
class FileFacts:
    """What the pre-pass learnt about a file: its SHA-256, its format and its text encoding.

    ``encoding`` is the one asked for, unless the file starts with a byte-order mark:
    that names the encoding beyond doubt and wins.
    """

    sha256: str
    format: InputFormat
    encoding: str = "utf-8"
    size: int = 0
    """The file's size in bytes."""
    lines: int | None = None
    """The file's lines of text (the last one counted without its line end); None for a workbook."""


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
    A byte-order mark at the start overrides ``encoding`` (UTF-8, UTF-16, UTF-32).
    """
    if not path.exists():
        raise ImportFileError(f"{name}: no such file")
    if path.is_dir():
        raise ImportFileError(f"{name}: is a directory, not a file")
    try:
        text = isinstance(codecs.decode(b"", encoding), str)  # base64 and the like give bytes
    except LookupError:
        text = False
    if not text:
        raise ImportFileError(f"{name}: unknown encoding {encoding!r}")
    with path.open("rb") as handle:
        head = handle.read(8192)
    encoding = bom_encoding(head) or encoding
    if not head.decode(encoding, errors="replace").lstrip("\ufeff").strip():
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
    if chosen != "xlsx" and not wide:
        _refuse_binary(name, head)
    if chosen != "xlsx":
        _check_shape(name, chosen or "csv", head.decode(encoding, errors="replace"))
    digest = hashlib.sha256()
    decoder = None if chosen == "xlsx" else codecs.getincrementaldecoder(encoding)()
    offset = lines = returns = 0
    last = ""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            if decoder is not None:
                try:
                    decoded = decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    _encoding_error(name, encoding, offset, None if wide else lines, chunk, error)
                # Counted in the text, so that UTF-16 and UTF-32 are counted right too.
                lines += decoded.count("\n")
                returns += decoded.count("\r")
                last = decoded[-1:] or last
            offset += len(chunk)
        if decoder is not None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:
                _encoding_error(name, encoding, offset, None if wide else lines, b"", error)
    # Line ends are LF, CRLF or (old Macs) CR alone; a last line without one counts too.
    counted = None if decoder is None else max(lines, returns) + (last not in ("\n", "\r"))
    return FileFacts(digest.hexdigest(), chosen or "csv", encoding, offset, counted)


_SHAPES = {
    "json": "a JSON array",
    "jsonl": "JSON Lines (one JSON object per line)",
    "object": "JSON (it starts with '{')",
}


def _looks_like(text: str) -> str | None:
    """What text that starts like JSON is: ``json`` (an array), ``jsonl`` or ``object``; None.

    A CSV header never starts with ``[{`` or ``{``, so this tells a JSON file
    given as CSV (stdin, a ``.txt`` name) from one, before its rows are read.
    """
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json" if text[1:].lstrip()[:1] in ("{", "]") else None
    if not text.startswith("{"):
        return None
    first, newline, _ = text.partition("\n")
    if newline:
        try:
            if isinstance(json.loads(first), dict):
                return "jsonl"
        except ValueError:
            pass
    return "object"


def _check_shape(name: str, chosen: InputFormat, head: str) -> None:
    """Refuse a text file whose first bytes say it is JSON of another kind than ``chosen``.

    Read as the wrong format, such a file fails on its first line with a message
    about quotes or cells (a JSON array read as CSV), or reads a JSON line as a
    header; this names what the file looks like and the option that reads it.
    """
    shape = _looks_like(head)
    if shape is None or shape == chosen or (shape == "object" and chosen not in ("csv", "tsv")):
        return
    if chosen in ("csv", "tsv"):
        hint = {
            "json": "use --input-format json",
            "jsonl": "use --nl",
            "object": "a JSON array of objects takes --input-format json, JSON Lines --nl",
        }[shape]
        raise ImportFileError(
            f"{name}: this looks like {_SHAPES[shape]}, not {chosen.upper()}: {hint}"
        )
    if chosen == "jsonl" and shape == "json":
        raise ImportFileError(
            f"{name}: this looks like a JSON array, not JSON Lines: use --input-format json"
            " (without --nl)"
        )
    if chosen == "json" and shape == "jsonl":
        raise ImportFileError(
            f"{name}: this looks like JSON Lines (one JSON object per line), not a JSON"
            " array: use --nl"
        )


def bom_encoding(head: bytes) -> str | None:
    """The codec a byte-order mark at the start of ``head`` names, or None without one."""
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return codec
    return None


def _refuse_binary(name: str, head: bytes) -> None:
    """Refuse a file whose first bytes are not text; a stray NUL here and there is a row's problem.

    Text without a byte-order mark in UTF-16 is told apart: every other byte of its
    ASCII characters is NUL, on one side.
    """
    nul = head.count(0)
    if not nul:
        return
    if nul >= 4 and nul * 4 >= len(head):
        odd = head[1::2].count(0)
        side = "little" if odd * 10 >= nul * 9 else "big" if odd * 10 <= nul else None
        if side is not None:
            code = "utf-16-le" if side == "little" else "utf-16-be"
            raise ImportFileError(
                f"{name}: looks like UTF-16 ({side}-endian) text without a byte-order mark;"
                f" give its encoding with --encoding {code}"
            )
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls * 10 > len(head):
        raise ImportFileError(
            f"{name}: looks binary ({controls:,} of its first {len(head):,} bytes are NUL or "
            "control bytes), not CSV, TSV or JSON text"
        )


def _encoding_error(
    name: str,
    encoding: str,
    offset: int,
    lines: int | None,
    chunk: bytes,
    error: UnicodeDecodeError,
) -> None:
    at = max(error.start, 0)
    where = f"byte offset {offset + at}"
    if lines is not None:  # counting b"\n" only finds lines in an ASCII-compatible encoding
        where += f" (line {lines + chunk.count(_NEWLINE, 0, at) + 1})"
    raise ImportFileError(
        f"{name}: not valid {encoding} text at {where}; "
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


def _csv(handle: TextIO, name: str, format: InputFormat, delimiter: str | None) -> Source:
    if delimiter is None and format == "tsv":
        delimiter = "\t"
    if delimiter is None:
        sample = handle.read(SNIFF_SIZE)
        handle.seek(0)
        delimiter = sniff_delimiter(sample, whole=len(sample) < SNIFF_SIZE)
    if len(delimiter) != 1:
        raise ImportFileError(f"{name}: the delimiter must be one character, not {delimiter!r}")
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_LIMIT))
    records = _CsvRecords(handle, delimiter)
    header = records.header(name)
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
    records.headers = headers
    records.lines.limit = (len(headers) + 1) * MAX_CELL  # past this, some cell is too long
    rows = records.rows()
    first = next(rows, None)
    if first is None:
        raise ImportFileError(f"{name}: has a header row but no data rows; nothing to import")
    return Source(name, format, headers, itertools.chain([first], rows))


SNIFF_SIZE = 1 << 16
"""Characters read to choose a CSV file's delimiter."""

SNIFF_RECORDS = 100
"""Records (not lines: a quoted cell may hold line breaks) compared to choose it."""


def sniff_delimiter(sample: str, *, whole: bool) -> str:
    """The delimiter of ``, ; TAB |`` that splits the sample's first records most consistently.

    Each candidate reads the records as the csv module would (quoted cells over
    several lines included); the one whose records most often have as many cells
    as the header wins, then the one giving more columns, then the order above.
    A header of one column under every candidate means a comma. ``whole`` says
    the sample is the whole file; otherwise its last record may be cut, and is
    left out.
    """
    best, score = ",", (0.0, 1)
    for candidate in (",", ";", "\t", "|"):
        try:
            records = [r for r in csv.reader(io.StringIO(sample), delimiter=candidate) if r]
        except csv.Error:
            continue
        if not whole:
            records = records[:-1]
        records = records[:SNIFF_RECORDS]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        found = (sum(len(r) == width for r in records) / len(records), width)
        if found > score:
            best, score = candidate, found
    return best


class _Lines:
    """The physical lines the csv module reads, kept until its record is judged.

    A quote that is never closed on its line makes the csv module read on, line
    after line, into one cell. When the record that comes of it is bad, its lines
    after the first are put back (``again``) to be read once more as records.
    A record of several lines longer than ``limit`` characters must hold a cell over
    ``MAX_CELL``: it is stopped there (``_RunawayRecord``), so memory stays bounded.
    """

    def __init__(self, handle: TextIO) -> None:
        self._source = iter(handle)
        self.again: deque[str] = deque()
        self.taken: list[str] = []
        self.size = 0
        self.limit = 2 * MAX_CELL

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = self.again.popleft() if self.again else next(self._source)
        self.taken.append(text)
        self.size += len(text)
        if self.size > self.limit and len(self.taken) > 1:
            raise _RunawayRecord
        return text


class _RunawayRecord(Exception):
    """A record running over several lines is already too long to be a good one."""


class _CsvRecords:
    """CSV or TSV records with the lines each one spans, recovering from a runaway quote."""

    def __init__(self, handle: TextIO, delimiter: str) -> None:
        self.delimiter = delimiter
        self.lines = _Lines(handle)
        self.reader = csv.reader(self.lines, delimiter=delimiter, strict=True)
        self.line = 1  # the physical line the next record starts on
        self.headers: list[str] = []

    def read(self) -> tuple[int, list[str] | None, str | None, list[str]] | None:
        """The next record: its first line, its cells or the csv module's complaint, its lines."""
        taken: list[str] = []
        self.lines.taken = taken
        self.lines.size = 0
        try:
            cells, error = next(self.reader), None
        except StopIteration:
            return None
        except csv.Error as exc:
            cells, error = None, str(exc)
        except _RunawayRecord:
            cells, error = None, f"and on: it is over {self.lines.limit:,} characters long there"
        start, self.line = self.line, self.line + len(taken)
        return start, cells, error, taken

    def header(self, name: str) -> list[str]:
        """The first record that is not blank."""
        while (record := self.read()) is not None:
            start, cells, error, taken = record
            if len(taken) > 1:
                at = self.open_quote(taken[0])[1]
                where = "" if at is None else f" at character {at + 1}"
                raise ImportFileError(
                    f"{name}: the header row (line {start}) has a quote{where} that is not closed"
                    " on its line"
                )
            if error is not None:
                raise ImportFileError(f"{name}: cannot read the header row: {error}")
            if any("\x00" in cell for cell in cells or ()):
                raise ImportFileError(
                    f"{name}: the header row (line {start}) holds a NUL character"
                )
            if cells:
                return cells
        raise ImportFileError(f"{name}: the file is empty (no header row, no data)")

    def rows(self) -> Iterator[SourceRow]:
        """The data rows; a bad one is rejected with its line, and reading goes on."""
        while (record := self.read()) is not None:
            start, cells, error, taken = record
            if cells is not None and (not cells or cells == [""]):
                continue  # a blank line
            row = self.row(start, cells, error, taken)
            if len(taken) > 1:
                cause = row.problem
                if error is not None:
                    cause = error
                    if "unexpected end of data" in error:
                        cause = "the file ends inside the quotes"
                    elif "expected after" in error:
                        cause = "where a quote closes it, other text follows"
                elif cause is None and self.swallows_rows(taken):
                    cause = f"every line inside it reads as a row of {len(self.headers)} cells"
                if cause is not None:
                    row = self.runaway(start, taken, cause)
            yield row

    def row(
        self, line: int, cells: list[str] | None, error: str | None, taken: list[str]
    ) -> SourceRow:
        """One record as a row, or as a rejected one saying what is wrong and in which column."""
        headers = self.headers
        if cells is None:
            reason, column = str(error), None
            if "unexpected end of data" in reason:
                reason = "the file ends inside a quoted cell (a truncated last line?)"
                column, at = self.open_quote(taken[0])
                if at is not None:
                    reason = f"the file ends inside the cell quoted at character {at + 1}"
                    reason += " (a truncated last line?)"
            return SourceRow(line, {}, self.split(taken[0]), f"unreadable CSV: {reason}", column)
        if len(cells) != len(headers):
            problem = f"has {len(cells)} cells where the header has {len(headers)}"
            return SourceRow(line, {}, cells, problem)
        if len(taken) == 1 and len(taken[0]) <= MAX_CELL and "\x00" not in taken[0]:
            # the common case: one line, too short for a long cell, no NUL in it
            return SourceRow(line, self.values(taken, cells), cells)
        if max(map(len, cells)) > MAX_CELL:
            index = next(n for n, c in enumerate(cells) if len(c) > MAX_CELL)
            problem = (
                f"holds {len(cells[index]):,} characters; a cell may hold at most {MAX_CELL:,}"
            )
            return SourceRow(line, {}, [c[:100] for c in cells], problem, headers[index])
        if "\x00" in "".join(cells):
            index = next(n for n, c in enumerate(cells) if "\x00" in c)
            return SourceRow(line, {}, cells, _nul(cells[index]), headers[index])
        return SourceRow(line, self.values(taken, cells), cells)

    def values(self, taken: list[str], cells: list[str]) -> dict[str, str]:
        """The row's values by header, with the apostrophe of a protected formula taken off."""
        if any("'" in text for text in taken):
            cells = [restored(cell) for cell in cells]
        return dict(zip(self.headers, cells, strict=True))

    def swallows_rows(self, taken: list[str]) -> bool:
        """Whether a good-looking record's inner lines are rows of their own, not a cell's text.

        Two stray quotes in the same column make one record of the rows between
        them, with the right number of cells. Each line strictly inside such a
        record reads alone as a row of the header's width; the lines of a note
        or an address rarely all do.
        """
        width = len(self.headers)
        if len(taken) < 3 or width < 2:
            return False
        inner = [text for text in taken[1:-1] if text.strip()]
        for text in inner:
            try:
                cells = next(csv.reader([text], delimiter=self.delimiter, strict=True), [])
            except csv.Error:
                return False
            if len(cells) != width:
                return False
        return bool(inner)

    def runaway(self, start: int, taken: list[str], cause: str) -> SourceRow:
        """Reject the line a quote ran away from, and read the lines it swallowed again.

        Taken as written, the record runs from ``start`` to the last line taken; it
        is bad, so the quote that opened it was stray (or its closing one is
        missing). Refusing that one line and reading the others again loses nothing else.
        """
        last = start + len(taken) - 1
        self.lines.again.extendleft(reversed(taken[1:]))
        self.line = start + 1
        column, at = self.open_quote(taken[0])
        where = "a quoted cell is not closed on this line"
        if at is not None:
            where = f"the quote at character {at + 1} is not closed on this line"
        return SourceRow(
            start,
            {},
            self.split(taken[0]),
            f"{where}; read as written it runs on to line {last} ({cause}), so this line is"
            f" rejected and lines {start + 1}-{last} are read again",
            column,
        )

    def open_quote(self, line: str) -> tuple[str | None, int | None]:
        """The header and the character (from 0) of the quote ``line`` leaves open, if found."""
        quote = _open_quote(line, self.delimiter)
        if quote is None:
            return None, None
        field, at = quote
        return (self.headers[field] if field < len(self.headers) else None), at

    def split(self, line: str) -> list[str]:
        """A line's text cut at each delimiter: the raw cells of a line that cannot be parsed."""
        return line.rstrip("\r\n").split(self.delimiter)


def _nul(text: str) -> str:
    """Why text holding a NUL character is refused, and where the NUL is."""
    return f"holds a NUL character (at character {text.index(chr(0)) + 1}); no store keeps one"


def _open_quote(text: str, delimiter: str) -> tuple[int, int] | None:
    """The cell and the character (both from 0) of a quote left open at the end of ``text``.

    As the csv module reads: a quote opens a cell only as its first character,
    and two quotes inside a quoted cell stand for one.
    """
    text = text.rstrip("\r\n")
    field = at = 0
    while at <= len(text):
        if text.startswith('"', at):
            close = text.find('"', at + 1)
            while close >= 0 and text.startswith('"', close + 1):
                close = text.find('"', close + 2)
            if close < 0:
                return field, at
            end = text.find(delimiter, close + 1)
        else:
            end = text.find(delimiter, at)
        if end < 0:
            return None
        field, at = field + 1, end + 1
    return None


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
        if "\x00" in text:
            yield SourceRow(
                number,
                {},
                {"text": text.rstrip("\r\n")[:1000]},
                _nul(text),
            )
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
    broken = next((k for k, v in values.items() if _surrogate(k) or _surrogate(v)), None)
    if broken is not None:
        return SourceRow(
            line,
            {},
            element,
            f"holds a lone surrogate escape ({_surrogate(broken) or _surrogate(values[broken])}):"
            " half of a UTF-16 pair, which is not text; fix the escape in the file",
            broken,
        )
    long = next((k for k, v in values.items() if isinstance(v, str) and len(v) > MAX_CELL), None)
    if long is not None:
        return SourceRow(
            line, {}, None, f"{long!r} holds {len(values[long]):,} characters; at most {MAX_CELL:,}"
        )
    return SourceRow(line, values, element)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _surrogate(value: Any) -> str | None:
    """The first lone surrogate in a JSON value (as its escape), or None.

    JSON may escape half of a UTF-16 pair (``"\\ud800"``); Python decodes it to a
    string no store, file or terminal can encode.
    """
    if isinstance(value, str):
        if value.isascii():
            return None
        found = _SURROGATES.search(value)
        return None if found is None else f"\\u{ord(found.group()):04x}"
    if isinstance(value, list):
        return next((s for s in map(_surrogate, value) if s), None)
    if isinstance(value, dict):
        return next(
            (s for k, v in value.items() for s in (_surrogate(k), _surrogate(v)) if s), None
        )
    return None


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


# xlsx -------------------------------------------------------------------------------


def _xlsx(path: Path, name: str) -> Source:
    try:
        import openpyxl
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise ImportFileError(f"{name}: {XLSX_EXTRA}") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise ImportFileError(f"{name}: cannot read the workbook: {error}") from None
    sheet = book.worksheets[0]
    # Read-only openpyxl reads only as far as the sheet's <dimension> says, and many
    # writers leave it stale: forget it, so that every row and every cell is read.
    sheet.reset_dimensions()
    rows = enumerate(sheet.iter_rows(values_only=True), 1)  # missing rows come as ()
    header: list[str] = []
    for _, cells in rows:
        header = [_cell(c) for c in cells]
        if any(header):
            break
    while header and not header[-1]:
        header.pop()  # cells that are formatted but empty
    if not header:
        raise ImportFileError(f"{name}: the first sheet is empty (no header row)")
    headers = [text or f"column {n}" for n, text in enumerate(header, 1)]
    folded = [h.casefold() for h in headers]
    for position, text in enumerate(folded):
        if text in folded[:position]:
            raise ImportFileError(
                f"{name}: duplicate header {headers[position]!r} "
                f"(columns {folded.index(text) + 1} and {position + 1}); rename one of them"
            )
    width = len(headers)
    last = get_column_letter(width)

    def generate() -> Iterator[SourceRow]:
        for number, cells in rows:
            if not cells:
                continue  # a row the sheet does not hold (up to the last, at 1,048,576)
            texts = [_cell(c) for c in cells[:width]]
            beyond = [n for n, c in enumerate(cells[width:], width) if c is not None and _cell(c)]
            if not beyond and not any(texts):
                continue
            texts += [""] * (width - len(texts))
            if beyond:
                where = f"{get_column_letter(beyond[0] + 1)}{number}"
                more = f" (and {len(beyond) - 1} more)" if len(beyond) > 1 else ""
                yield SourceRow(
                    number,
                    {},
                    texts,
                    f"cell {where}{more} holds {_cell(cells[beyond[0]])[:50]!r} beyond the"
                    f" {width} headed columns (A-{last}); give its column a header or clear it",
                )
                continue
            yield SourceRow(number, dict(zip(headers, texts, strict=True)), texts)
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
    text = str(value).strip()
    return restored(xlsx_unescaped(text)) if "_x" in text or "'" in text else text


_OOXML_ESCAPES = re.compile(r"_x([0-9A-Fa-f]{4})_")


def xlsx_unescaped(text: str) -> str:
    """A workbook cell's ``_xHHHH_`` escapes (Excel's for CR and other controls) as characters."""
    return _OOXML_ESCAPES.sub(lambda found: chr(int(found.group(1), 16)), text)
