"""Rendering linked records: one record, a list of them, kinds, and an import's summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline_core.domain.records import LinkedRecord, RecordImportSummary, RecordKind
from pipeline_core.domain.serialization import converter
from pipeline_core.render.common import (
    Format,
    json_text,
    key_value_table,
    records_csv,
    records_output,
    records_table,
)

RECORD_COLUMNS = ("id", "customer_id", "kind", "ref", "state", "title", "amount", "currency", "at")


def record_record(record: LinkedRecord) -> dict[str, Any]:
    """A linked record as its JSON object (the record, unstructured)."""
    data: dict[str, Any] = converter.unstructure(record)
    return data


def _row(record: LinkedRecord) -> dict[str, Any]:
    # The table's "at" is when the record took place: at, else start, else creation.
    row = record_record(record)
    row["at"] = None if record.moment is None else record.moment.isoformat()
    return row


def records_list_output(records: Sequence[LinkedRecord], fmt: Format) -> str:
    """Records as a JSON array, CSV of every key, or a table of the main columns."""
    rows = [record_record(r) if fmt != "table" else _row(r) for r in records]
    return records_output(rows, RECORD_COLUMNS, fmt, every_key_in_csv=True, none="No records.\n")


def record_output(record: LinkedRecord, fmt: Format) -> str:
    """One record: its JSON object, a one-row CSV, or a field/value table."""
    row = record_record(record)
    if fmt == "json":
        return json_text(row)
    if fmt == "csv":
        return records_csv([row])
    return key_value_table(row)


def kind_record(kind: RecordKind) -> dict[str, Any]:
    """A record kind as its JSON object."""
    data: dict[str, Any] = converter.unstructure(kind)
    return data


def kinds_output(kinds: Sequence[RecordKind], fmt: Format) -> str:
    """Record kinds with their states (the first is a new record's)."""
    rows = [kind_record(kind) for kind in kinds]
    if fmt == "table":
        table = [{**row, "states": ", ".join(row["states"])} for row in rows]
        return records_table(table, ("name", "states", "description"))
    return records_output(rows, ("name", "states", "description"), fmt)


def import_summary_output(summary: RecordImportSummary, fmt: Format) -> str:
    """What a records import did; the rejected rows with line, column and reason."""
    data: dict[str, Any] = converter.unstructure(summary)
    if fmt == "json":
        return json_text(data)
    counts = {k: data[k] for k in ("file", "added", "updated", "unchanged")}
    counts["rejected"] = len(summary.rejected)
    if fmt == "csv":
        return records_csv([counts])
    text = key_value_table(counts)
    if summary.rejected:
        text += "\nRejected rows\n" + records_table(data["rejected"], ("line", "column", "reason"))
    return text
