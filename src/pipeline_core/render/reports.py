"""Reports as a table, CSV, JSON, a text bar chart, or (with the ``charts`` extra) PNG/SVG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from pipeline_core.domain.reports import (
    CurrencyValue,
    Figures,
    GroupedReport,
    PipelineReport,
    ReportConfig,
    ReportKind,
)
from pipeline_core.errors import InvalidValue
from pipeline_core.render.common import (
    Format,
    json_text,
    printable,
    records_csv,
    records_output,
    records_table,
)
from pipeline_core.render.shapes import DecimalText

BAR_WIDTH = 40
"""Characters of the longest bar in a text chart."""

IMAGE_SUFFIXES = (".png", ".svg")

PIPELINE_COLUMNS = (
    "column",
    "count",
    "value",
    "average",
    "median_days",
    "conversion",
    "won",
    "lost",
    "win_rate",
    "lost_reasons",
)


class ValueRecord(TypedDict):
    """Deal values in one currency."""

    currency: str | None
    customers: int
    total: DecimalText
    average: DecimalText


class LostReasonRecord(TypedDict):
    """How many customers were lost for one reason."""

    reason: str
    count: int


class FiguresRecord(TypedDict):
    """Counts, values and outcomes of a group of customers."""

    count: int
    values: list[ValueRecord]
    won: int
    lost: int
    win_rate: float | None
    lost_reasons: list[LostReasonRecord]


class StageRecord(FiguresRecord):
    """One column of a pipeline report."""

    column: str
    status: str
    median_seconds: float | None
    stays: int
    conversion: float | None


class PipelineReportRecord(TypedDict):
    """A flow's pipeline report."""

    flow: str
    stages: list[StageRecord]
    unmapped: FiguresRecord
    total: FiguresRecord
    hidden: int


class GroupRowRecord(TypedDict):
    """One group of a grouped report (the last row is the total)."""

    label: str
    cells: list[int]
    total: int


class GroupedReportRecord(TypedDict):
    """Customers counted per value of a field, optionally subdivided."""

    by: str
    sub: str | None
    columns: list[str]
    rows: list[GroupRowRecord]


class SavedReportRecord(TypedDict):
    """A report configuration saved by name."""

    name: str
    kind: ReportKind
    flow: str | None
    by: str | None
    sub: str | None
    where: str


class AliasRecord(TypedDict):
    """Spellings of a value grouped under one label in reports."""

    label: str
    spellings: list[str]


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):,}"


def _values(values: Sequence[CurrencyValue], average: bool) -> str:
    return "; ".join(
        f"{v.currency or '?'} {_money(v.average if average else v.total)}" for v in values
    )


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def _days(time: timedelta | None) -> float | None:
    return None if time is None else round(time.total_seconds() / 86400, 2)


def _value_record(value: CurrencyValue) -> ValueRecord:
    return {
        "currency": value.currency,
        "customers": value.customers,
        "total": str(value.total),
        "average": str(value.average),
    }


def figures_record(figures: Figures) -> FiguresRecord:
    """Counts, values and outcomes as a JSON object (amounts as decimal strings)."""
    return {
        "count": figures.count,
        "values": [_value_record(v) for v in figures.values],
        "won": figures.won,
        "lost": figures.lost,
        "win_rate": figures.win_rate,
        "lost_reasons": [{"reason": r, "count": n} for r, n in figures.lost_reasons],
    }


def pipeline_record(report: PipelineReport) -> PipelineReportRecord:
    """The pipeline report as its public JSON object (docs/reports.md)."""
    return {
        "flow": report.flow,
        "stages": [
            {
                "column": stage.column,
                "status": stage.status,
                **figures_record(stage.figures),
                "median_seconds": None
                if stage.median_time is None
                else stage.median_time.total_seconds(),
                "stays": stage.stays,
                "conversion": stage.conversion,
            }
            for stage in report.stages
        ],
        "unmapped": figures_record(report.unmapped),
        "total": figures_record(report.total),
        "hidden": report.hidden,
    }


def _pipeline_row(name: str, figures: Figures, **extra: Any) -> dict[str, Any]:
    return {
        "column": name,
        "count": figures.count,
        "value": _values(figures.values, average=False),
        "average": _values(figures.values, average=True),
        "won": figures.won,
        "lost": figures.lost,
        "win_rate": _percent(figures.win_rate),
        "lost_reasons": "; ".join(f"{r} {n}" for r, n in figures.lost_reasons),
        **extra,
    }


def pipeline_rows(report: PipelineReport) -> list[dict[str, Any]]:
    """One flat row per column, then Unmapped (if any) and Total."""
    rows = [
        _pipeline_row(
            stage.column,
            stage.figures,
            median_days=_days(stage.median_time),
            conversion=_percent(stage.conversion),
        )
        for stage in report.stages
    ]
    if report.unmapped.count:
        rows.append(_pipeline_row("Unmapped", report.unmapped))
    rows.append(_pipeline_row("Total", report.total))
    return rows


def grouped_record(report: GroupedReport) -> GroupedReportRecord:
    """The grouped report as its public JSON object."""
    return {
        "by": report.by,
        "sub": report.sub,
        "columns": list(report.columns),
        "rows": [
            {"label": row.label, "cells": list(row.cells), "total": row.total}
            for row in (*report.rows, report.total)
        ],
    }


def grouped_rows(report: GroupedReport) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and flat rows: the group, one column per subdivision, and Total."""
    header = [report.by, *report.columns, "Total"]
    rows = []
    for row in (*report.rows, report.total):
        record: dict[str, Any] = {report.by: row.label, "Total": row.total}
        record.update(zip(report.columns, row.cells, strict=True))
        rows.append(record)
    return header, rows


def chart_bars(report: PipelineReport | GroupedReport) -> list[tuple[str, int]]:
    """The (label, count) pairs a chart shows: customers per column, or per group."""
    if isinstance(report, PipelineReport):
        return [(stage.column, stage.figures.count) for stage in report.stages]
    return [(row.label, row.total) for row in report.rows]


def text_chart(bars: Sequence[tuple[str, int]], width: int = BAR_WIDTH) -> str:
    """A horizontal bar chart in text, the longest bar ``width`` characters."""
    if not bars:
        return "(nothing to chart)\n"
    bars = [(printable(label), count) for label, count in bars]
    widest = max(len(label) for label, _ in bars)
    top = max(count for _, count in bars) or 1
    lines = []
    for label, count in bars:
        length = round(count * width / top)
        bar = "█" * length if length or not count else "▏"
        lines.append(f"{label.ljust(widest)} │{bar} {count}")
    return "\n".join(lines) + "\n"


def report_output(report: PipelineReport | GroupedReport, fmt: Format, chart: bool) -> str:
    """A report in the chosen format, or as a text bar chart when ``chart`` is set."""
    if chart:
        return text_chart(chart_bars(report))
    if isinstance(report, PipelineReport):
        if fmt == "json":
            return json_text(pipeline_record(report))
        rows = pipeline_rows(report)
        if fmt == "csv":
            return records_csv(rows, PIPELINE_COLUMNS)
        hidden = (
            f"{report.hidden} customer(s) hidden from this flow's board are in no figure"
            f" (pipeline flows hidden {printable(report.flow)})\n"
            if report.hidden
            else ""
        )
        return f"{printable(report.flow)}\n" + records_table(rows, PIPELINE_COLUMNS) + hidden
    if fmt == "json":
        return json_text(grouped_record(report))
    header, table = grouped_rows(report)
    if fmt == "csv":
        return records_csv(table, header)
    return records_table(table, header)


SAVED_COLUMNS = ("name", "kind", "flow", "by", "sub", "where")


def saved_reports_output(saved: Mapping[str, ReportConfig], fmt: Format) -> str:
    """The saved report configurations, by name."""
    records: list[SavedReportRecord] = [
        {"name": name, "kind": c.kind, "flow": c.flow, "by": c.by, "sub": c.sub, "where": c.where}
        for name, c in sorted(saved.items())
    ]
    return records_output(records, SAVED_COLUMNS, fmt)


def aliases_output(aliases: Mapping[str, Sequence[str]], fmt: Format) -> str:
    """The group value aliases: each label and the spellings it stands for."""
    records: list[AliasRecord] = [
        {"label": label, "spellings": list(spellings)}
        for label, spellings in sorted(aliases.items())
    ]
    return records_output(records, ("label", "spellings"), fmt)


def save_chart(report: PipelineReport | GroupedReport, path: str | Path) -> Path:
    """Draw the report's bars to a PNG or SVG file (needs the ``charts`` extra: matplotlib)."""
    target = Path(path)
    if target.suffix.lower() not in IMAGE_SUFFIXES:
        raise InvalidValue(f"chart file {target} must end in .png or .svg")
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never open a window
        from matplotlib import pyplot
    except ImportError:
        raise InvalidValue(
            "PNG/SVG charts need the 'charts' extra: pip install 'pipeline-core-crm[charts]'"
        ) from None
    bars = chart_bars(report)
    figure, axes = pyplot.subplots(figsize=(8, 0.4 * len(bars) + 1.5))
    try:
        labels = [label for label, _ in bars]
        axes.barh(labels[::-1], [count for _, count in bars][::-1])
        axes.set_xlabel("customers")
        figure.tight_layout()
        figure.savefig(target)
    finally:
        pyplot.close(figure)
    return target
