"""A flow's board as people and scripts read it: a coloured table, its JSON object, CSV rows.

Colours are ANSI escapes, and only when the caller says the output is a terminal
that wants them (the command checks ``isatty`` and ``NO_COLOR``): a file or a
pipe gets plain text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from pipeline_core.customer import Customer
from pipeline_core.domain.board import Board, BoardColumn, ColumnValue
from pipeline_core.domain.flows import FlowEvent, FlowHide, RuleChange
from pipeline_core.domain.serialization import converter
from pipeline_core.render.common import (
    Format,
    customer_record,
    flatten_fields,
    json_text,
    printable,
    records_csv,
    records_table,
)
from pipeline_core.render.shapes import (
    BoardColumnRecord,
    BoardRecord,
    ColumnValueRecord,
    FlowEventRecord,
    FlowHideRecord,
    UnmappedRecord,
)

RESET = "\x1b[0m"
BOLD = "\x1b[1m"


def value_records(values: Iterable[ColumnValue]) -> list[ColumnValueRecord]:
    """A column's values per currency as JSON objects (totals as exact decimal text)."""
    return [
        {"currency": v.currency, "valued": v.valued, "total": decimal_text(v.total)} for v in values
    ]


def board_record(board: Board) -> BoardRecord:
    """A board as its JSON object (see docs/json.md)."""

    def column(col: BoardColumn) -> BoardColumnRecord:
        # A flow's columns always have both; only the unmapped bucket has neither.
        return {
            "name": col.name,
            "status": col.status or "",
            "colour": col.colour or "",
            "count": col.count,
            "values": value_records(col.values),
            "offset": col.offset,
            "more": col.more,
            "cards": [customer_record(card) for card in col.cards],
        }

    unmapped: UnmappedRecord = {
        "count": board.unmapped.count,
        "values": value_records(board.unmapped.values),
        "offset": board.unmapped.offset,
        "more": board.unmapped.more,
        "cards": [customer_record(card) for card in board.unmapped.cards],
    }
    return {
        "flow": board.flow,
        "columns": [column(col) for col in board.columns],
        "unmapped": unmapped,
        "hidden": board.hidden,
        "filtered": board.filtered,
    }


def decimal_text(total: Decimal) -> str:
    """A total as exact decimal text without trailing zeros: ``268600``, ``99.5``."""
    text = format(total, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(total: Decimal) -> str:
    """A total with thousands separators and no needless trailing zeros: 12,500 or 99.5."""
    text = f"{total:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def values_text(values: Sequence[ColumnValue]) -> str:
    """``EUR 1,250 · USD 300``; a total entered without a currency has none."""
    return " · ".join(
        f"{v.currency} {money(v.total)}" if v.currency else money(v.total) for v in values
    )


def _ansi(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[1;38;2;{red};{green};{blue}m"


def card_lines(card: Customer) -> list[str]:
    """A card as lines: id and name, then its tags and its next follow-up if it has them."""
    lines = [f"#{card.id} {printable(card.name)} (v{card.version})"]
    if card.tags:
        lines.append("· " + " ".join(f"[{printable(tag)}]" for tag in card.tags))
    if card.next_follow_up is not None:
        lines.append(f"· next {card.next_follow_up.isoformat()}")
    return lines


def _lane(col: BoardColumn) -> list[str]:
    lines = [line for card in col.cards for line in card_lines(card)]
    if col.offset:
        lines.insert(0, f"({col.offset} before)")
    if col.more:
        lines.append(f"+{col.more} more")
    return lines


def board_table(board: Board, *, colour: bool = False) -> str:
    """The board side by side: each header names its column, count and values per currency.

    ``colour``: headers in their column's colour (ANSI), for a terminal.
    """
    shown = [*board.columns, *([board.unmapped] if board.unmapped.count else [])]
    headers = []
    for col in shown:
        title = f"{col.name} ({col.count})"
        money_line = values_text(col.values)
        headers.append(printable(title) + (f"\n{money_line}" if money_line else ""))
    from tabulate import tabulate  # only tables need it (see render.common._table)

    lanes = [_lane(col) for col in shown]
    depth = max((len(lane) for lane in lanes), default=0)
    grid = [[lane[i] if i < len(lane) else "" for lane in lanes] for i in range(depth)]
    table = tabulate(grid, headers=headers, tablefmt="simple", disable_numparse=True)
    if colour:
        table = _coloured_headers(table, shown, len(headers[0].split("\n")) if headers else 0)
    notes = [f"{board.total} customer(s)"]
    if board.hidden:
        notes.append(f"{board.hidden} hidden from this flow, not shown (flows hidden)")
    if board.filtered:
        notes.append("filtered")
    title = f"{printable(board.flow)}: {', '.join(notes)}"
    return (f"{BOLD}{title}{RESET}" if colour else title) + "\n" + table + "\n"


def _coloured_headers(table: str, shown: Sequence[BoardColumn], header_rows: int) -> str:
    """Paint each column's header cells in the column's colour, after layout (widths stay)."""
    lines = table.split("\n")
    rule = next((i for i, line in enumerate(lines) if line and set(line) <= {"-", " "}), -1)
    if rule < 0:
        return table
    spans = []
    start = 0
    for segment in lines[rule].split("  "):
        spans.append((start, start + len(segment)))
        start += len(segment) + 2
    for row in range(rule):
        line = lines[row].ljust(len(lines[rule]))
        painted = []
        for (low, high), col in zip(spans, shown, strict=False):
            text = line[low:high]
            painted.append(f"{_ansi(col.colour)}{text}{RESET}" if col.colour else text)
        lines[row] = "  ".join(painted).rstrip()
    return "\n".join(lines)


def board_csv(board: Board) -> str:
    """One CSV row per card shown, with its column's name, status, count and values."""
    rows = [
        {
            "column": col.name,
            "column_status": col.status,
            "column_count": col.count,
            "column_values": values_text(col.values),
            **flatten_fields(customer_record(c)),
        }
        for col in (*board.columns, board.unmapped)
        for c in col.cards
    ]
    return records_csv(rows)


def totals_rows(board: Board) -> list[dict[str, object]]:
    """One row per column and currency: count, cards valued and their total.

    A column without values has one row with an empty currency and a zero total.
    """
    rows: list[dict[str, object]] = []
    for col in (*board.columns, board.unmapped):
        if col.status is None and not col.count:
            continue
        values = col.values or (ColumnValue(None, 0, Decimal(0)),)
        for value in values:
            rows.append(
                {
                    "column": col.name,
                    "status": col.status or "",
                    "count": col.count,
                    "currency": value.currency or "",
                    "valued": value.valued,
                    "total": decimal_text(value.total),
                }
            )
    return rows


def board_output(board: Board, fmt: Format, *, colour: bool = False, totals: bool = False) -> str:
    """A board: side-by-side columns as a table, or its JSON object, or CSV.

    ``totals``: only each column's count and values per currency (one row each).
    """
    if fmt == "json":
        return json_text(board_record(board))
    if totals:
        rows = totals_rows(board)
        columns = ["column", "status", "count", "currency", "valued", "total"]
        return records_csv(rows, columns) if fmt == "csv" else records_table(rows, columns)
    if fmt == "csv":
        return board_csv(board)
    return board_table(board, colour=colour)


def hide_record(hide: FlowHide) -> FlowHideRecord:
    """A hidden card as its JSON object."""
    return {
        "flow": hide.flow,
        "customer_id": hide.customer_id,
        "hidden_by": hide.hidden_by,
        "hidden_at": _moment(hide.hidden_at),
    }


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def hides_output(hides: Sequence[FlowHide], fmt: Format) -> str:
    """The cards hidden from a flow: who hid each and when."""
    records = [hide_record(hide) for hide in hides]
    if fmt == "json":
        return json_text(records)
    columns = ["customer_id", "hidden_by", "hidden_at"]
    if fmt == "csv":
        return records_csv(records, columns)
    return records_table(records, columns) if records else "Nothing is hidden.\n"


def flow_event_record(event: FlowEvent) -> FlowEventRecord:
    """An entry of a flow's history as its JSON object."""
    return {
        "id": event.id,
        "flow": event.flow,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind.value,
        "data": dict(event.data),
    }


def flow_events_output(events: Sequence[FlowEvent], fmt: Format) -> str:
    """A flow's history: when, who, what."""
    records = [flow_event_record(event) for event in events]
    if fmt == "json":
        return json_text(records)
    rows = [{**r, "data": json.dumps(r["data"], ensure_ascii=False)} for r in records]
    columns = ["id", "at", "actor", "kind", "data"]
    return records_csv(rows, columns) if fmt == "csv" else records_table(rows, columns)


def rule_change_output(change: RuleChange, fmt: Format) -> str:
    """Who joins and who leaves the board under the new rule, and whether it was applied."""
    if fmt == "json":
        return json_text(converter.unstructure(change))
    verb = "now has" if change.applied else "would have (dry run, nothing changed)"
    return (
        f"Flow {printable(change.flow)} {verb} the rule: {printable(change.after)}\n"
        f"  was: {printable(change.before)}\n"
        f"  {change.joining} join, {change.leaving} leave: "
        f"{change.members_before} -> {change.members_after} member(s)\n"
    )
