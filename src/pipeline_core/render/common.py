"""Rendering records as a table, JSON or CSV: the output side of the CLI, usable on its own."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from pipeline_core.customer import Customer
from pipeline_core.domain.duplicates import DuplicateCluster, MergeResult
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.view import ListedCustomer
from pipeline_core.render.shapes import (
    ClusterRecord,
    CustomerObject,
)

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")

CUSTOMER_TABLE_COLUMNS = ("id", "name", "status", "folder", "tags", "emails", "phones", "value")


def customer_record(customer: Customer) -> CustomerObject:
    """A customer as its JSON object: the one shape every command prints a customer in."""
    record: CustomerObject = converter.unstructure(customer)
    return record


def cell(value: Any) -> str:
    """One value as table or CSV text: lists joined with '; ', None as empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# C0 and C1 controls, DEL, the line and paragraph separators and the bidirectional
# overrides: what can move a terminal's cursor, recolour it, ring it, split a row
# or reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each control character shown as its escape (``\\x1b``, ``\\n``, ``\\u202e``).

    Tables go to terminals: a name holding an escape sequence must not recolour,
    retitle or clear the screen, nor a newline add a row that is not there.
    """
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def table_cell(value: Any) -> str:
    """One value as a table cell: as :func:`cell`, with control characters escaped."""
    return printable(cell(value))


def _table(rows: Iterable[Sequence[Any]], headers: Sequence[Any]) -> str:
    """A plain-text table with every cell and header made printable."""
    # Imported here: tabulate pulls in importlib.metadata, tens of milliseconds that a
    # command printing JSON or CSV (a board for a script, say) should not pay.
    from tabulate import tabulate

    return tabulate(
        [[table_cell(value) for value in row] for row in rows],
        headers=[table_cell(header) for header in headers],
        tablefmt="simple",
    )


def flatten_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A customer record with its custom fields spread out as ``fields.KEY`` columns.

    ``fields.KEY`` is the one spelling of a custom field column: in CSV and table
    output, in exports and in an import's ``--map``.
    """
    flat = {key: value for key, value in record.items() if key != "fields"}
    for key, value in record.get("fields", {}).items():
        flat[f"fields.{key}"] = value
    return flat


def records_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Records as CSV with a header; columns default to every key, in first-seen order."""
    if columns is None:
        seen: dict[str, None] = {}
        for record in records:
            seen.update(dict.fromkeys(record))
        columns = list(seen)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([cell(record.get(column)) for column in columns])
    return out.getvalue()


def records_table(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Records as a plain-text table of the given columns."""
    rows = [[record.get(column) for column in columns] for record in records]
    return _table(rows, columns) + "\n"


def records_output(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    every_key_in_csv: bool = False,
    none: str | None = None,
) -> str:
    """Several records: a JSON array, CSV, or a table of ``columns`` (``none`` if there are none).

    CSV has the table's columns, or with ``every_key_in_csv`` every key of the records.
    """
    if fmt == "json":
        return json_text(list(records))
    if fmt == "csv":
        return records_csv(records, None if every_key_in_csv else columns)
    if none is not None and not records:
        return none
    return records_table(records, columns)


def key_value_table(record: Mapping[str, Any]) -> str:
    """One record as a two-column table of field and value."""
    rows = [[key, value] for key, value in record.items()]
    return _table(rows, ["field", "value"]) + "\n"


def json_text(data: Any) -> str:
    """Indented JSON, unicode kept as is."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def json_lines(records: Iterable[Any]) -> Iterator[str]:
    """Each record as one line of JSON (JSON Lines), as the records come.

    The objects are those ``--format json`` prints, each on one line with its
    non-ASCII text kept; a line break inside a value is escaped, as JSON does.
    """
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def json_array(records: Iterable[Any]) -> Iterator[str]:
    """The text of ``json_text(list(records))``, a record at a time, without the list.

    Each element is indented as ``json.dumps(indent=2)`` indents it inside an
    array, so the whole is the same text, made in flat memory.
    """
    first = True
    for record in records:
        element = json.dumps(record, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        yield ("[\n  " if first else ",\n  ") + element
        first = False
    yield "[]\n" if first else "\n]\n"


def customers_output(customers: Iterable[Customer], fmt: Format) -> str:
    """A list of customers in the chosen format."""
    records = [customer_record(c) for c in customers]
    if fmt == "json":
        return json_text(records)
    if fmt == "csv":
        return records_csv([flatten_fields(r) for r in records])
    return records_table(records, CUSTOMER_TABLE_COLUMNS)


def listed_record(item: ListedCustomer) -> dict[str, Any]:
    """A customer of a list as its JSON object: the customer and its ``new_activity`` badge."""
    return {**customer_record(item.customer), "new_activity": item.new_activity}


def listed_output(items: Sequence[ListedCustomer], fmt: Format) -> str:
    """A list of customers with their badges in the chosen format."""
    records = [listed_record(item) for item in items]
    if fmt == "json":
        return json_text(records)
    if fmt == "csv":
        return records_csv([flatten_fields(r) for r in records])
    return records_table(records, (*CUSTOMER_TABLE_COLUMNS, "new_activity"))


def customer_output(customer: Customer, fmt: Format) -> str:
    """One customer in the chosen format."""
    record = customer_record(customer)
    if fmt == "json":
        return json_text(record)
    if fmt == "csv":
        return records_csv([flatten_fields(record)])
    return key_value_table(flatten_fields(record))


def cluster_records(clusters: Iterable[DuplicateCluster]) -> list[ClusterRecord]:
    """Duplicate clusters as JSON objects: the shared keys and the customers' records."""
    return [
        {
            "cluster": number,
            "keys": [{"kind": key.kind, "key": key.key} for key in cluster.keys],
            "customer_ids": list(cluster.customer_ids),
            "customers": [customer_record(c) for c in cluster.customers],
        }
        for number, cluster in enumerate(clusters, start=1)
    ]


def clusters_output(clusters: Sequence[DuplicateCluster], fmt: Format) -> str:
    """Duplicate clusters: JSON objects, or one table/CSV row per customer with its cluster."""
    records = cluster_records(clusters)
    if fmt == "json":
        return json_text(records)
    rows = [
        {
            "cluster": record["cluster"],
            "id": customer["id"],
            "name": customer["name"],
            "emails": customer["emails"],
            "phones": customer["phones"],
            "whatsapp": customer["whatsapp"],
            "shared keys": [f"{k['kind']} {k['key']}" for k in record["keys"]],
        }
        for record in records
        for customer in record["customers"]
    ]
    columns = ["cluster", "id", "name", "emails", "phones", "whatsapp", "shared keys"]
    if fmt == "csv":
        return records_csv(rows, columns)
    if not rows:
        return "No duplicates.\n"
    return records_table(rows, columns)


def merge_output(result: MergeResult, fmt: Format) -> str:
    """A merge's result: the primary as stored (or as it would be) and what came from where."""
    record: dict[str, Any] = {
        "dry_run": result.dry_run,
        "merged": list(result.merged),
        "details": result.details,
        "customer": customer_record(result.customer),
    }
    if fmt == "json":
        return json_text(record)
    if fmt == "csv":
        return records_csv([flatten_fields(record["customer"])])
    verb = "Would merge" if result.dry_run else "Merged"
    lines = [f"{verb} {', '.join(f'#{i}' for i in result.merged)} into #{result.customer.id}"]
    # These lines hold names and values too: printable, as the table below is.
    parts = result.details.get("merged")
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict):
            got = "; ".join(
                f"{name} {cell(value)}"
                for name, value in part.items()
                if name not in ("id", "name", "record_conflicts")
            )
            line = f"  from #{part['id']} ({part['name']}): {got or 'nothing new'}"
            lines.append(printable(line))
            conflicts = part.get("record_conflicts")
            for conflict in conflicts if isinstance(conflicts, list) else []:
                if isinstance(conflict, dict):
                    line = (
                        f"  conflict: both held {conflict['kind']} {conflict['ref']!r}; kept"
                        f" record {conflict['kept']}, record {conflict['left']} stays on"
                        f" #{part['id']}"
                    )
                    lines.append(printable(line))
    return "\n".join(lines) + "\n" + key_value_table(flatten_fields(record["customer"]))
