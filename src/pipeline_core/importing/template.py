"""The import template: a workspace's columns and one example row, to fill in and import.

Headers are the field names an import maps by itself (``name``, ``emails``...,
``fields.KEY`` for each custom field), so a filled template imports with no
``--map``. The guide says what each column takes: the statuses, each custom
field's kind and options, the list separator. An .xlsx template carries the
guide on a second sheet (an import reads the first); a CSV holds only the
header and the example row, and the command prints the guide beside it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import IO, Any, Literal

import attrs

from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import ImportFileError
from pipeline_core.importing.export import LIST_SEPARATOR
from pipeline_core.importing.formulas import neutralized
from pipeline_core.importing.readers import XLSX_EXTRA

TemplateFormat = Literal["csv", "xlsx"]
TEMPLATE_FORMATS: tuple[TemplateFormat, ...] = ("csv", "xlsx")

_LISTS = f"a list: separate items with {LIST_SEPARATOR.strip()!r}"
_BUILT_IN: tuple[tuple[str, str], ...] = (
    ("name", "required: the person's name (or the company's, for a company)"),
    ("emails", _LISTS),
    ("phones", f"{_LISTS}; with +country code, or national in the row's country"),
    ("whatsapp", "a phone number"),
    ("country", "ISO code (GB, US...) or English name; phones are read there"),
    ("status", "one of the statuses below; empty: the first"),
    ("folder", "a folder name, or empty"),
    ("tags", f"{_LISTS} (or ',')"),
    ("source", "where the customer came from"),
    ("team", "a team name, or empty"),
    ("workers", f"{_LISTS}: user names"),
    ("value", "deal value: a number, '.' for decimals"),
    ("currency", "ISO 4217 code (EUR, USD...)"),
    ("order_id", "text"),
    ("lead_notes", "text; may span lines"),
    ("next_follow_up", "a date: YYYY-MM-DD"),
    ("lost_reason", "for a lost status: one of the workspace's lost reasons"),
    ("created_at", "when the customer was first known: YYYY-MM-DD [HH:MM]; empty: now"),
)


@attrs.frozen
class Template:
    """The template of one workspace: its headers, an example row and a guide to each column."""

    headers: tuple[str, ...]
    example: tuple[str, ...]
    guide: tuple[tuple[str, str], ...]
    """(column, what it takes), one per header, then ``("statuses", ...)``."""


def build_template(
    machine: StatusMachine, definitions: Mapping[str, FieldDefinition], today: date
) -> Template:
    """The template for a workspace with this status machine and these custom fields."""
    example: dict[str, str] = {
        "name": "Ada Lovelace",
        "emails": "ada@example.com",
        "phones": "+44 20 7946 0018",
        "country": "GB",
        "status": machine.initial,
        "tags": f"VIP{LIST_SEPARATOR}Referral",
        "source": "Website",
        "value": "1200.00",
        "currency": "GBP",
        "lead_notes": "Met at the spring fair",
        "next_follow_up": (today + timedelta(days=7)).isoformat(),
        "created_at": today.isoformat(),
    }
    guide = list(_BUILT_IN)
    for key, definition in sorted(definitions.items()):
        column = f"fields.{key}"
        example[column] = _example(definition, today)
        guide.append((column, _describe(definition)))
    headers = tuple(column for column, _ in guide)
    guide.append(("statuses", ", ".join(machine.names)))
    return Template(headers, tuple(example.get(h, "") for h in headers), tuple(guide))


def _example(definition: FieldDefinition, today: date) -> str:
    examples = {
        "text": "example",
        "number": "42",
        "decimal": "9.99",
        "date": today.isoformat(),
        "datetime": datetime(today.year, today.month, today.day, 9, 0).isoformat() + "+00:00",
        "checkbox": "true",
    }
    if definition.type in ("select", "multi_select"):
        return definition.options[0] if definition.options else ""
    return examples[definition.type]


def _describe(definition: FieldDefinition) -> str:
    text = definition.type.replace("_", "-")
    if definition.label and definition.label != definition.key:
        text = f"{definition.label}: {text}"
    if definition.options:
        text += f" of {', '.join(definition.options)}"
    if definition.type == "multi_select":
        text += f" ({_LISTS})"
    return text + ("; required" if definition.required else "")


def write_template(out: IO[Any], format: TemplateFormat, template: Template) -> None:
    """Write ``template`` to ``out`` (text for CSV, binary for xlsx)."""
    if format == "csv":
        writer = csv.writer(out)
        writer.writerow(template.headers)
        writer.writerow([neutralized(cell) for cell in template.example])  # +44... is a formula
        return
    try:
        import openpyxl
    except ImportError:
        raise ImportFileError(XLSX_EXTRA) from None
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "customers"
    _rows(sheet, [template.headers, template.example])
    guide = book.create_sheet("guide")
    _rows(guide, [("column", "what it takes"), *template.guide])
    book.save(out)


def _rows(sheet: Any, rows: Sequence[Sequence[str]]) -> None:
    for row in rows:
        sheet.append(list(row))
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.data_type = "s"  # text, never a formula or a number that loses its zeros
