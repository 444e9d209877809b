"""Linked records in files: one record per row (CSV) or line (JSON Lines), keyed by reference.

The columns are ``RECORD_COLUMNS`` plus ``data.NAME`` for each payload value.
A CSV payload cell holding a JSON number, ``true``, ``false``, ``null`` or a
"quoted string" is read as that value, anything else as text; the writer quotes
text that would read otherwise, so an export re-imports to the same records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import attrs

from pipeline_core.domain.records import FileRef, LinkedRecord, PayloadValue, RecordValueError
from pipeline_core.errors import ImportFileError, ImportRowError, InvalidValue
from pipeline_core.importing.readers import SourceRow, inspect_file, open_source

RECORD_COLUMNS = (
    "customer_id",
    "kind",
    "ref",
    "state",
    "title",
    "amount",
    "currency",
    "at",
    "due",
    "start",
    "end",
    "channel",
    "address",
    "uri",
    "media_type",
    "size",
    "checksum",
)
"""The columns of a records file, in the order an export writes them."""

DATA_PREFIX = "data."
FILE_COLUMNS = ("uri", "media_type", "size", "checksum")
_MOMENTS = ("at", "start", "end")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value: Any, column: str) -> str:
    if isinstance(value, dict | list):
        raise InvalidValue(f"{column} must be text, not {type(value).__name__}")
    return str(value)


def _whole(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise InvalidValue(f"{column} must be a whole number, not {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidValue(f"{column} must be a whole number, not {value!r}") from None


def _moment(value: Any, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidValue(f"{column} {value!r} is not an ISO 8601 moment") from None
    if moment.tzinfo is None:
        raise InvalidValue(f"{column} {value!r} needs a time zone offset (such as +00:00)")
    return moment


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidValue(f"due {value!r} is not a date (YYYY-MM-DD)") from None


def payload_cell(value: Any, *, from_text: bool) -> PayloadValue:
    """A payload value of a file: typed as it is in JSON; read from a CSV cell's text."""
    if not from_text or not isinstance(value, str):
        if isinstance(value, dict | list):
            raise InvalidValue("a payload value must be text, a number, true/false or null")
        result: PayloadValue = value
        return result
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, str | int | float | bool) or parsed is None else value


def cell_of_payload(value: PayloadValue) -> str:
    """A payload value as a CSV cell that ``payload_cell`` reads back as the same value."""
    if value == "":
        return '""'  # a blank cell is no value at all
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def record_from_row(
    values: Mapping[str, Any], *, file: str, line: int, from_text: bool
) -> LinkedRecord:
    """The record a row describes; ``ImportRowError`` naming the file, line and column."""
    column = "customer_id"
    try:
        unknown = sorted(
            k for k in values if k not in RECORD_COLUMNS and not k.startswith(DATA_PREFIX)
        )
        if unknown:
            column = unknown[0]
            raise InvalidValue(
                f"unknown column; records files have {', '.join(RECORD_COLUMNS)} and data.NAME"
            )
        for column in ("customer_id", "kind", "ref"):
            if _blank(values.get(column)):
                raise InvalidValue("is required")
        column = "customer_id"
        fields: dict[str, Any] = {"customer_id": _whole(values["customer_id"], column)}
        for column in ("kind", "ref", "state", "title", "amount", "currency", "channel"):
            value = values.get(column)
            if _blank(value):
                continue
            if (
                column == "amount"
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                value = repr(value)  # a JSON number: its digits, checked like text
            if column == "amount" and not isinstance(value, str):
                raise InvalidValue(f"amount {value!r} is not a number")
            fields[column] = value if column == "amount" else _cell_text(value, column)
        column = "address"
        if not _blank(values.get(column)):
            fields[column] = str(values[column])
        for column in _MOMENTS:
            if not _blank(values.get(column)):
                fields[column] = _moment(values[column], column)
        column = "due"
        if not _blank(values.get(column)):
            fields[column] = _day(values[column])
        column = "uri"
        if any(not _blank(values.get(name)) for name in FILE_COLUMNS):
            size = values.get("size")
            column = "size"
            size_value = None if _blank(size) else _whole(size, "size")
            column = "uri"
            fields["file"] = FileRef(
                uri="" if _blank(values.get("uri")) else str(values["uri"]),
                media_type=None if _blank(values.get("media_type")) else values["media_type"],
                size=size_value,
                checksum=None if _blank(values.get("checksum")) else values["checksum"],
            )
        payload: dict[str, PayloadValue] = {}
        for key, value in values.items():
            if key.startswith(DATA_PREFIX) and not (from_text and _blank(value)):
                column = key
                payload[key.removeprefix(DATA_PREFIX)] = payload_cell(value, from_text=from_text)
        column = ""
        fields["payload"] = payload
        return LinkedRecord(**fields)
    except RecordValueError as error:
        raise ImportRowError(file, line, column or error.field, str(error)) from None
    except (InvalidValue, TypeError) as error:
        raise ImportRowError(file, line, column or None, str(error)) from None


def row_of_record(record: LinkedRecord) -> dict[str, Any]:
    """A record as a file row: JSON-ready values by column, payload as ``data.NAME``."""
    file = record.file or FileRef(uri="-")
    row: dict[str, Any] = {
        "customer_id": record.customer_id,
        "kind": record.kind,
        "ref": record.ref,
        "state": record.state,
        "title": record.title,
        "amount": None if record.amount is None else str(record.amount),
        "currency": record.currency,
        "at": None if record.at is None else record.at.isoformat(),
        "due": None if record.due is None else record.due.isoformat(),
        "start": None if record.start is None else record.start.isoformat(),
        "end": None if record.end is None else record.end.isoformat(),
        "channel": record.channel,
        "address": record.address,
        "uri": None if record.file is None else file.uri,
        "media_type": None if record.file is None else file.media_type,
        "size": None if record.file is None else file.size,
        "checksum": None if record.file is None else file.checksum,
    }
    row.update((f"{DATA_PREFIX}{k}", v) for k, v in sorted(record.payload.items()))
    return row


def records_csv(records: Iterable[LinkedRecord]) -> Iterator[str]:
    """Records as CSV text, chunk by chunk: the header (with every payload name), then rows."""
    listed = list(records)
    names = sorted({name for record in listed for name in record.payload})
    columns = [*RECORD_COLUMNS, *(f"{DATA_PREFIX}{name}" for name in names)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in listed:
        row = row_of_record(record)
        writer.writerow(
            [
                cell_of_payload(row[c])
                if c.startswith(DATA_PREFIX) and c in row
                else ("" if row.get(c) is None else row[c])
                for c in columns
            ]
        )
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def records_jsonl(records: Iterable[LinkedRecord]) -> Iterator[str]:
    """Records as JSON Lines: one object per record, empty values left out."""
    for record in records:
        row = {k: v for k, v in row_of_record(record).items() if v not in (None, "")}
        yield json.dumps(row, ensure_ascii=False) + "\n"


@attrs.frozen
class RecordRow:
    """A row of a records file read: its line and the record, or the error that refused it."""

    line: int
    record: LinkedRecord | None
    error: ImportRowError | None = None


def records_file_batches(
    path: Path, size: int, *, name: str | None = None, encoding: str = "utf-8"
) -> Iterator[list[RecordRow]]:
    """The rows of a records file in lists of ``size``, read as they are asked for."""
    if size < 1:
        raise InvalidValue(f"a batch holds at least one row, not {size}")
    batch: list[RecordRow] = []
    for row in records_file_rows(path, name=name, encoding=encoding):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def records_file_rows(
    path: Path, *, name: str | None = None, encoding: str = "utf-8"
) -> Iterator[RecordRow]:
    """The rows of a records file (CSV, TSV, JSON, JSON Lines; by its name), one by one.

    A file that cannot be read at all raises ``ImportFileError`` (before any row);
    a bad row is a ``RecordRow`` carrying its error, so that the good rows can still
    be imported.
    """
    shown = name or str(path)
    facts = inspect_file(path, shown, format=None, encoding=encoding)
    if facts.format == "xlsx":
        raise ImportFileError(f"{shown}: records are imported from CSV or JSON Lines files")
    source = open_source(path, shown, facts.format, encoding=facts.encoding)
    return _rows(source.rows, shown, from_text=facts.format in ("csv", "tsv"))


def _rows(rows: Iterator[SourceRow], shown: str, *, from_text: bool) -> Iterator[RecordRow]:
    for row in rows:
        if row.problem is not None:
            yield RecordRow(
                row.line, None, ImportRowError(shown, row.line, row.column, row.problem)
            )
            continue
        try:
            record = record_from_row(row.values, file=shown, line=row.line, from_text=from_text)
        except ImportRowError as error:
            yield RecordRow(row.line, None, error)
        else:
            yield RecordRow(row.line, record)
