"""Reports: the pipeline funnel of a flow and grouped counts, assembled from store aggregates.

The store does the heavy lifting (GROUP BY and the stage-time median run in
the database); this module only folds the few resulting rows into figures.
See docs/reports.md for the exact definition of every figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Literal

import attrs

from pipeline_core.domain.flows import FlowDefinition
from pipeline_core.domain.report_keys import (
    NONE_LABEL,
    AggregateRow,
    Aliases,
    GroupKey,
    StageTime,
    group_key,
    normalized,
)
from pipeline_core.errors import InvalidValue

PIPELINE_KEYS = (
    GroupKey("status"),
    GroupKey("currency"),
    GroupKey("outcome"),
    GroupKey("lost_reason"),
)
"""What the pipeline report groups members by: one small GROUP BY gives every count and sum."""

SAVED_KEY = "saved_reports"
"""The workspace setting holding saved report configurations by name."""


@attrs.frozen
class CurrencyValue:
    """Deal value of a set of customers in one currency (None: value without a currency)."""

    currency: str | None
    customers: int
    total: Decimal

    @property
    def average(self) -> Decimal:
        """Mean deal value of the customers that have one."""
        return self.total / self.customers


@attrs.frozen(kw_only=True)
class Figures:
    """Counts, values and outcomes of a set of customers (a column, or the whole flow)."""

    count: int = 0
    values: tuple[CurrencyValue, ...] = ()
    won: int = 0
    lost: int = 0
    lost_reasons: tuple[tuple[str, int], ...] = ()

    @property
    def win_rate(self) -> float | None:
        """won / (won + lost); None when nothing is closed."""
        closed = self.won + self.lost
        return None if closed == 0 else self.won / closed


@attrs.frozen(kw_only=True)
class StageFigures:
    """One column of the pipeline report."""

    column: str
    status: str
    figures: Figures
    median_time: timedelta | None
    stays: int
    conversion: float | None


@attrs.frozen(kw_only=True)
class PipelineReport:
    """Per column figures of a flow, the unmapped members, and the flow's totals."""

    flow: str
    stages: tuple[StageFigures, ...]
    unmapped: Figures
    total: Figures
    hidden: int = 0
    """Members hidden from the flow's board: in no figure, counted here so that it says so."""


def _figures(rows: Iterable[AggregateRow]) -> Figures:
    # rows are keyed (status, currency, outcome, lost_reason)
    count = won = lost = 0
    values: dict[str | None, tuple[int, Decimal]] = {}
    reasons: dict[str, int] = {}
    for row in rows:
        _, currency, outcome, reason = row.keys
        count += row.count
        if row.valued:
            seen, total = values.get(currency, (0, Decimal(0)))
            values[currency] = (seen + row.valued, total + row.total)
        if outcome == "won":
            won += row.count
        elif outcome == "lost":
            lost += row.count
            label = reason or NONE_LABEL
            reasons[label] = reasons.get(label, 0) + row.count
    return Figures(
        count=count,
        values=tuple(
            CurrencyValue(currency, n, total)
            for currency, (n, total) in sorted(values.items(), key=lambda kv: kv[0] or "")
        ),
        won=won,
        lost=lost,
        lost_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def pipeline_report(
    flow: FlowDefinition, rows: Sequence[AggregateRow], times: Mapping[str, StageTime]
) -> PipelineReport:
    """Fold the store's rows (grouped by ``PIPELINE_KEYS``) and stage times into the report.

    Conversion of a column: of the members in it or in a later column, the share
    in a later column whose outcome is not lost (None if nobody got that far).
    """
    columns = sorted(flow.columns, key=lambda c: c.position)
    by_status: dict[str | None, list[AggregateRow]] = {}
    for row in rows:
        by_status.setdefault(row.keys[0], []).append(row)
    figures = [_figures(by_status.get(column.status, [])) for column in columns]
    stages = []
    for index, (column, own) in enumerate(zip(columns, figures, strict=True)):
        later = figures[index + 1 :]
        reached = own.count + sum(f.count for f in later)
        advanced = sum(f.count - f.lost for f in later)
        time = times.get(column.status)
        stages.append(
            StageFigures(
                column=column.name,
                status=column.status,
                figures=own,
                median_time=None
                if time is None
                else timedelta(seconds=round(time.median_seconds, 3)),
                stays=0 if time is None else time.stays,
                conversion=None if reached == 0 else advanced / reached,
            )
        )
    mapped = {column.status for column in columns}
    unmapped = _figures(row for row in rows if row.keys[0] not in mapped)
    return PipelineReport(
        flow=flow.name, stages=tuple(stages), unmapped=unmapped, total=_figures(rows)
    )


@attrs.frozen(kw_only=True)
class GroupRow:
    """One group of a grouped report: its label, a count per subdivision, and its total."""

    label: str
    cells: tuple[int, ...]
    total: int


@attrs.frozen(kw_only=True)
class GroupedReport:
    """Customers counted per group (rows) and per subdivision (columns), with totals.

    Without a subdivision there are no columns and each row holds just its total.
    """

    by: str
    sub: str | None
    columns: tuple[str, ...]
    rows: tuple[GroupRow, ...]
    total: GroupRow


def _labeller(rows: Iterable[str | None], aliases: Aliases) -> dict[str | None, str]:
    """A display label per raw value: its alias, else its group's most common spelling."""
    spellings: dict[str, dict[str, int]] = {}
    labels: dict[str | None, str] = {None: NONE_LABEL}
    for raw in rows:
        if raw is None:
            continue
        canonical = aliases.label_for(raw)
        if canonical is not None:
            labels[raw] = canonical
        else:
            variants = spellings.setdefault(normalized(raw), {})
            variants[raw] = variants.get(raw, 0) + 1
    for variants in spellings.values():
        best = min(variants, key=lambda v: (-variants[v], v))
        for variant in variants:
            labels[variant] = best
    return labels


@attrs.frozen(kw_only=True)
class DistinctTotals:
    """Totals counted once per customer, needed when a key is ``tag`` (a customer with
    two tags sits in two cells but counts once in its row, column and grand total)."""

    by_rows: Sequence[AggregateRow]
    sub_rows: Sequence[AggregateRow]
    everyone: int


def grouped_report(
    by: GroupKey,
    sub: GroupKey | None,
    rows: Sequence[AggregateRow],
    aliases: Aliases,
    distinct: DistinctTotals | None = None,
) -> GroupedReport:
    """Merge raw groups whose normalized values are equal (or aliased) and lay out the table.

    Without ``distinct`` the totals are sums of the cells.
    """
    by_label = _labeller(_weighted(rows, 0), aliases)
    sub_label = _labeller(_weighted(rows, 1), aliases) if sub is not None else {}
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        label = by_label[row.keys[0]]
        column = sub_label[row.keys[1]] if sub is not None else ""
        cell = counts.setdefault(label, {})
        cell[column] = cell.get(column, 0) + row.count
    row_totals = {label: sum(cell.values()) for label, cell in counts.items()}
    column_totals: dict[str, int] = {}
    for cell in counts.values():
        for column, n in cell.items():
            column_totals[column] = column_totals.get(column, 0) + n
    grand = sum(row_totals.values())
    if distinct is not None:
        row_totals = _label_counts(distinct.by_rows, by_label)
        if sub is not None:
            column_totals = _label_counts(distinct.sub_rows, sub_label)
        grand = distinct.everyone
    columns = (
        tuple(sorted(column_totals, key=lambda c: (-column_totals[c], c)))
        if sub is not None
        else ()
    )
    table = [
        GroupRow(
            label=label,
            cells=tuple(cell.get(column, 0) for column in columns),
            total=row_totals[label],
        )
        for label, cell in counts.items()
    ]
    table.sort(key=lambda r: (-r.total, r.label))
    total = GroupRow(label="Total", cells=tuple(column_totals[c] for c in columns), total=grand)
    return GroupedReport(
        by=by.name,
        sub=None if sub is None else sub.name,
        columns=columns,
        rows=tuple(table),
        total=total,
    )


def _label_counts(rows: Sequence[AggregateRow], labels: Mapping[str | None, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        label = labels[row.keys[0]]
        counts[label] = counts.get(label, 0) + row.count
    return counts


def _weighted(rows: Sequence[AggregateRow], position: int) -> list[str | None]:
    # Each raw spelling repeated by its customer count, so the most used one names the group.
    found: list[str | None] = []
    for row in rows:
        found.extend([row.keys[position]] * row.count)
    return found


ReportKind = Literal["pipeline", "group"]


def _optional_key(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return group_key(value).name


def _kind(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("pipeline", "group"):
        raise InvalidValue(f"a saved report is 'pipeline' or 'group', not {value!r}")


@attrs.frozen(kw_only=True)
class ReportConfig:
    """A report saved by name: a flow's pipeline report, or a grouping, with its filter rule."""

    kind: ReportKind = attrs.field(validator=_kind)
    flow: str | None = None
    by: str | None = attrs.field(default=None, converter=_optional_key)
    sub: str | None = attrs.field(default=None, converter=_optional_key)
    where: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind == "pipeline" and not self.flow:
            raise InvalidValue("a saved pipeline report needs a flow")
        if self.kind == "group" and self.by is None:
            raise InvalidValue("a saved grouped report needs a field to group by")
