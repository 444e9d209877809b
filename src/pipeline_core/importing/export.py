"""Export writers: customers as CSV, TSV, a JSON array, JSON Lines or .xlsx, one row at a time.

Columns are customer attributes by name plus ``fields.KEY`` for custom fields.
In CSV-like formats lists are joined with ``"; "`` (the import splits them
again); JSON keeps lists as lists and numbers as numbers. What an export writes,
an import reads back into the same customers.

A workbook cannot hold every character: the C0 controls but TAB, LF and CR, lone
surrogates and U+FFFE/U+FFFF are written to .xlsx as their visible escape
(ESC as the four characters ``\\x1b``), and text starting with ``=`` is written as
text, never as a formula. CSV and TSV cells a spreadsheet would run as a formula
get an apostrophe in front (``pipeline_core.importing.formulas``), which an import
takes off again. JSON holds any text and writes it unchanged.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any, Literal

from pipeline_core.customer import Customer
from pipeline_core.errors import ImportFileError, InvalidValue
from pipeline_core.importing.formulas import neutralized
from pipeline_core.importing.readers import XLSX_EXTRA

ExportFormat = Literal["csv", "tsv", "json", "jsonl", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "tsv", "json", "jsonl", "xlsx")

DEFAULT_COLUMNS: tuple[str, ...] = (
    "id", "name", "emails", "phones", "whatsapp", "country", "status", "folder", "tags",
    "source", "team", "workers", "value", "currency", "order_id", "lead_notes",
    "next_follow_up", "lost_reason", "outcome", "created_at", "updated_at", "converted_at",
    "closed_at", "last_contacted_at", "parent_id",
)  # fmt: skip
"""The columns an export writes by default, before the custom fields: everything an import
takes back (history dates included; ``parent_id`` names the parent's ``id`` in the file)."""

EXPORTABLE = frozenset((*DEFAULT_COLUMNS, "version"))
LIST_SEPARATOR = "; "

# What openpyxl refuses (ILLEGAL_CHARACTERS_RE), and what it writes but no XML parser reads back.
_NOT_IN_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """Columns checked: each an exportable attribute or ``fields.KEY``."""
    for column in columns:
        if column not in EXPORTABLE and not (column.startswith("fields.") and len(column) > 7):
            raise InvalidValue(
                f"cannot export column {column!r}; use {', '.join(sorted(EXPORTABLE))}"
                " or fields.KEY"
            )
    if not columns:
        raise InvalidValue("choose at least one column to export")
    return tuple(dict.fromkeys(columns))


def record(customer: Customer, columns: Sequence[str], *, text: bool) -> list[Any]:
    """The customer's values for ``columns``: all text (``text``) or JSON values."""
    values = []
    for column in columns:
        if column.startswith("fields."):
            value: Any = customer.fields.get(column[len("fields.") :])
        else:
            value = getattr(customer, column)
        values.append(_text(value) if text else _json(value))
    return values


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Decimal):
        return str(value)  # exact: a float would round a deal value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class ExportWriter:
    """Writes rows to an open stream in one format; ``close`` ends the document."""

    def __init__(
        self, out: IO[Any], format: ExportFormat, columns: Sequence[str], *, raw: bool = False
    ) -> None:
        self.out = out
        self.format = format
        self.raw = raw
        self.columns = list(columns)
        self.count = 0
        self._csv: Any = None
        self._book: Any = None
        if format in ("csv", "tsv"):
            self._csv = csv.writer(out, delimiter="," if format == "csv" else "\t")
            self._csv.writerow(self.columns)
        elif format == "json":
            out.write("[")
        elif format == "xlsx":
            try:
                import openpyxl
            except ImportError:
                raise ImportFileError(XLSX_EXTRA) from None
            self._book = openpyxl.Workbook(write_only=True)
            self._sheet = self._book.create_sheet("customers")
            self._sheet.append(self._xlsx_row(self.columns))

    def write(self, customers: Iterable[Customer]) -> None:
        """Append customers."""
        for customer in customers:
            if self._csv is not None:
                cells = record(customer, self.columns, text=True)
                self._csv.writerow(cells if self.raw else [neutralized(cell) for cell in cells])
            elif self._book is not None:
                self._sheet.append(self._xlsx_row(record(customer, self.columns, text=True)))
            else:
                values = record(customer, self.columns, text=False)
                line = json.dumps(dict(zip(self.columns, values, strict=True)), ensure_ascii=False)
                if self.format == "json":
                    self.out.write(("\n" if self.count == 0 else ",\n") + line)
                else:
                    self.out.write(line + "\n")
            self.count += 1

    def _xlsx_row(self, texts: Iterable[str]) -> list[Any]:
        """Cells a workbook holds: unwritable characters escaped, ``=...`` kept as text."""
        from openpyxl.cell import WriteOnlyCell

        row: list[Any] = []
        for text in texts:
            text = _NOT_IN_XLSX.sub(_escape, text)
            # Neutralized before CR is escaped: the import undoes the two in reverse.
            text = xlsx_escaped(text if self.raw else neutralized(text))
            if text.startswith("="):
                cell = WriteOnlyCell(self._sheet, value=text)
                cell.data_type = "s"  # openpyxl would store it as a formula, and lose the text
                row.append(cell)
            else:
                row.append(text)
        return row

    def close(self) -> None:
        """Finish the document (the JSON array's bracket, the workbook's save)."""
        if self.format == "json":
            self.out.write("\n]\n" if self.count else "]\n")
        elif self._book is not None:
            self._book.save(self.out)
        self.out.flush()


_OOXML_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def xlsx_escaped(text: str) -> str:
    """``text`` as a workbook cell keeps it: CR as ``_x000D_``, as Excel writes it.

    XML reads a raw CR back as LF, so CR LF inside a cell would come back as LF.
    Text that already looks like such an escape gets its underscore escaped
    (``_x005F_``), so that ``xlsx_unescaped`` is its exact inverse.
    """
    if "_x" in text:
        text = _OOXML_ESCAPE.sub(r"_x005F_\1", text)
    return text.replace("\r", "_x000D_") if "\r" in text else text


def _escape(match: re.Match[str]) -> str:
    """A character as its Python escape: ESC as ``\\x1b``, a lone surrogate as ``\\ud800``."""
    return match.group().encode("unicode_escape").decode("ascii")
