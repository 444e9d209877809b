"""Reports: every figure against a brute-force computation over the same customers, on every backend."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import (
    Column,
    Customer,
    FixedClock,
    InvalidValue,
    NotFound,
    ReportConfig,
    Status,
    StatusMachine,
    Workspace,
)
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.report_keys import NONE_LABEL, Aliases, group_key, normalized
from pipeline_core.domain.reports import Figures, PipelineReport
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.storage import open_store

from .conftest import BACKENDS, fresh_store_url

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
STATUSES = ("Lead", "Prospect", "Quoted", "Won", "Lost", "Parked")
MACHINE = StatusMachine(
    name="default",
    statuses=(
        Status("Lead"),
        Status("Prospect"),
        Status("Quoted"),
        Status("Won", outcome="won"),
        Status("Lost", outcome="lost"),
        Status("Parked"),
    ),
    transitions={s: tuple(t for t in STATUSES if t != s) for s in STATUSES},
)
# Parked has no column: its customers are the unmapped ones. Quoted is often empty.
COLUMNS = (
    Column("New", "Lead", "#111111", 0),
    Column("Talking", "Prospect", "#222222", 1),
    Column("Offer", "Quoted", "#333333", 2),
    Column("Closed won", "Won", "#444444", 3),
    Column("Closed lost", "Lost", "#555555", 4),
)
SOURCES = ("Web", " web", "WEB", "Wéb", "Google Ads", "google  ads", "GoogleAds", None)
REASONS = ("Price", "Timing", "Competitor")
WHERES = ("", 'source = "Web"', 'tags any ("vip")', "value > 100")


@contextmanager
def fresh(backend: str) -> Iterator[tuple[Workspace, FixedClock]]:
    clock = FixedClock(START)
    workspace = Workspace(open_store(fresh_store_url(backend)), clock=clock)
    try:
        workspace.statuses.set(MACHINE)
        workspace.flows.add("Sales", MATCH_ALL, COLUMNS)
        yield workspace, clock
    finally:
        workspace.close()


CUSTOMER = st.fixed_dictionaries(
    {
        "source": st.sampled_from(SOURCES),
        "value": st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
        "currency": st.sampled_from([None, "EUR", "USD"]),
        # Spellings vary between customers, never within one (see docs/reports.md).
        "tags": st.sampled_from(
            [[], ["vip"], ["VIP "], ["cold"], ["vip", "cold"], ["Vîp", "cold"]]
        ),
        "size": st.sampled_from([None, 1, 2, 2.5, 3, 3.0]),  # 3 and 3.0: one group
        "moves": st.lists(
            st.tuples(st.sampled_from(STATUSES), st.sampled_from(REASONS), st.integers(0, 10**6)),
            max_size=3,
        ),
        "gap": st.integers(0, 10**5),
    }
)


def populate(ws: Workspace, clock: FixedClock, specs: list[dict[str, object]]) -> None:
    for spec in specs:
        clock.advance(timedelta(seconds=int(spec["gap"])))  # type: ignore[call-overload]
        fields = {} if spec["size"] is None else {"size": spec["size"]}
        customer = ws.customers.add(
            Customer(
                name="c",
                source=spec["source"],  # type: ignore[arg-type]
                value=spec["value"],  # type: ignore[arg-type]
                currency=spec["currency"],  # type: ignore[arg-type]
                tags=spec["tags"],  # type: ignore[arg-type]
                fields=fields,
            )
        )
        for status, reason, seconds in spec["moves"]:  # type: ignore[attr-defined]
            clock.advance(timedelta(seconds=seconds))
            ws.customers.move(customer.id, status, reason=reason)
    clock.advance(timedelta(hours=1))


def close(a: Decimal, b: Decimal, backend: str) -> bool:
    # SQLite sums in double precision; memory and PostgreSQL are exact.
    if backend == "sqlite":
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def brute_figures(customers: list[Customer]) -> Figures:
    values: dict[str | None, tuple[int, Decimal]] = {}
    reasons: dict[str, int] = {}
    for c in customers:
        if c.value is not None:
            n, total = values.get(c.currency, (0, Decimal(0)))
            values[c.currency] = (n + 1, total + c.value)
        if c.outcome == "lost":
            label = c.lost_reason or NONE_LABEL
            reasons[label] = reasons.get(label, 0) + 1
    from pipeline_core.domain.reports import CurrencyValue

    return Figures(
        count=len(customers),
        values=tuple(
            CurrencyValue(k, n, t)
            for k, (n, t) in sorted(values.items(), key=lambda kv: kv[0] or "")
        ),
        won=sum(c.outcome == "won" for c in customers),
        lost=sum(c.outcome == "lost" for c in customers),
        lost_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def assert_figures(got: Figures, want: Figures, backend: str) -> None:
    assert (got.count, got.won, got.lost, got.lost_reasons) == (
        want.count,
        want.won,
        want.lost,
        want.lost_reasons,
    )
    assert got.win_rate == want.win_rate
    assert [(v.currency, v.customers) for v in got.values] == [
        (v.currency, v.customers) for v in want.values
    ]
    for g, w in zip(got.values, want.values, strict=True):
        assert close(g.total, w.total, backend)
        assert close(g.average, w.average, backend)


def brute_stays(ws: Workspace, members: list[Customer], now: datetime) -> dict[str, list[float]]:
    stays: dict[str, list[float]] = {}
    for customer in members:
        marks = [
            (e.at, str(e.data["status"] if e.kind == EventKind.CREATED else e.data["to"]))
            for e in ws.customers.timeline(
                customer.id, [EventKind.CREATED, EventKind.STATUS_CHANGED]
            )
        ]
        for index, (at, status) in enumerate(marks):
            end = marks[index + 1][0] if index + 1 < len(marks) else now
            stays.setdefault(status, []).append((end - at).total_seconds())
    return stays


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=20)
@given(specs=st.lists(CUSTOMER, max_size=8), where=st.sampled_from(WHERES))
def test_pipeline_report_matches_brute_force(
    backend: str, specs: list[dict[str, object]], where: str
) -> None:
    with fresh(backend) as (ws, clock):
        populate(ws, clock, specs)
        rule = ws.rules.check(where) if where else MATCH_ALL
        report = ws.reports.pipeline("Sales", rule)
        members = [c for c in ws.customers.list() if compile_predicate(rule)(c)]
        stays = brute_stays(ws, members, clock.now())

    assert isinstance(report, PipelineReport)
    assert [s.column for s in report.stages] == [c.name for c in COLUMNS]
    assert_figures(report.total, brute_figures(members), backend)
    mapped = {c.status for c in COLUMNS}
    assert_figures(
        report.unmapped, brute_figures([c for c in members if c.status not in mapped]), backend
    )
    for index, (stage, column) in enumerate(zip(report.stages, COLUMNS, strict=True)):
        inside = [c for c in members if c.status == column.status]
        assert_figures(stage.figures, brute_figures(inside), backend)
        later = [c for c in members if c.status in {k.status for k in COLUMNS[index + 1 :]}]
        reached = len(inside) + len(later)
        advanced = sum(c.outcome != "lost" for c in later)
        assert stage.conversion == (None if reached == 0 else advanced / reached)
        measured = stays.get(column.status, [])
        assert stage.stays == len(measured)
        if measured:
            assert stage.median_time is not None
            assert abs(stage.median_time.total_seconds() - statistics.median(measured)) < 0.01
        else:
            assert stage.median_time is None


def brute_groups(
    customers: list[Customer], by: str, sub: str, aliases: Aliases
) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, int], int]:
    def values(c: Customer, key: str) -> list[str]:
        if key == "tag":
            raw: list[str | None] = list(c.tags) or [None]
        elif key == "size":
            size = c.fields.get("size")
            raw = [None if size is None else f"{float(size):g}"]  # type: ignore[arg-type]
        elif key == "created_month":
            raw = [c.created_at.strftime("%Y-%m")]
        else:
            raw = [getattr(c, key)]
        return [NONE_LABEL if v is None else normalized(aliases.label_for(v) or v) for v in raw]

    cells: dict[tuple[str, str], int] = {}
    rows: dict[str, int] = {}
    columns: dict[str, int] = {}
    for c in customers:
        row_values, column_values = set(values(c, by)), set(values(c, sub))
        for r in row_values:
            rows[r] = rows.get(r, 0) + 1
            for k in column_values:
                cells[r, k] = cells.get((r, k), 0) + 1
        for k in column_values:
            columns[k] = columns.get(k, 0) + 1
    return cells, rows, columns, len(customers)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=20)
@given(
    specs=st.lists(CUSTOMER, max_size=8),
    sub=st.sampled_from(["tag", "lost_reason", "created_month", "field:size", "status"]),
    by=st.sampled_from(["source", "tag"]),
    where=st.sampled_from(WHERES),
)
def test_grouped_report_matches_brute_force(
    backend: str, specs: list[dict[str, object]], sub: str, by: str, where: str
) -> None:
    with fresh(backend) as (ws, clock):
        populate(ws, clock, specs)
        ws.reports.alias("Google Ads", ["GoogleAds"])
        aliases = Aliases.from_setting(ws.reports.aliases())
        rule = ws.rules.check(where) if where else MATCH_ALL
        report = ws.reports.group(by, sub, rule)
        members = [c for c in ws.customers.list() if compile_predicate(rule)(c)]

    key = sub.removeprefix("field:")
    cells, rows, columns, everyone = brute_groups(members, by, key, aliases)
    got_cells = {
        (normalized(row.label), normalized(column)): n
        for row in report.rows
        for column, n in zip(report.columns, row.cells, strict=True)
        if n
    }
    assert got_cells == cells
    assert {normalized(row.label): row.total for row in report.rows} == rows
    assert {
        normalized(c): n for c, n in zip(report.columns, report.total.cells, strict=True)
    } == columns
    assert report.total.total == everyone
    assert len({normalized(row.label) for row in report.rows}) == len(report.rows)


def test_group_labels_use_alias_or_most_common_spelling(workspace: Workspace) -> None:
    for source in ("Web", "web", " web ", "GoogleAds", "google ads", None):
        workspace.customers.add(Customer(name="c", source=source))
    plain = workspace.reports.group("source")
    assert {row.label: row.total for row in plain.rows} == {
        "web": 3,
        "GoogleAds": 1,
        "google ads": 1,
        NONE_LABEL: 1,
    }
    workspace.reports.alias("Google Ads", ["googleads", "GOOGLE ADS"])
    aliased = workspace.reports.group("source")
    assert {row.label: row.total for row in aliased.rows} == {
        "web": 3,
        "Google Ads": 2,
        NONE_LABEL: 1,
    }
    assert aliased.total.total == 6


def test_saved_reports_run_again(workspace: Workspace) -> None:
    workspace.flows.add("Sales", MATCH_ALL, COLUMNS[:1])
    workspace.customers.add(Customer(name="a", source="Web", tags=["vip"]))
    workspace.customers.add(Customer(name="b", source="Fair"))
    workspace.reports.save(
        "by source", ReportConfig(kind="group", by="source", sub="tag", where='source = "Web"')
    )
    workspace.reports.save("funnel", ReportConfig(kind="pipeline", flow="Sales"))
    assert sorted(workspace.reports.list()) == ["by source", "funnel"]
    grouped = workspace.reports.run("by source")
    assert grouped == workspace.reports.group("source", "tag", 'source = "Web"')
    assert workspace.reports.run("funnel") == workspace.reports.pipeline("Sales")
    with pytest.raises(NotFound, match="no saved report called 'nope'"):
        workspace.reports.run("nope")
    with pytest.raises(NotFound, match="no flow called 'Gone'"):
        workspace.reports.save("x", ReportConfig(kind="pipeline", flow="Gone"))
    with pytest.raises(InvalidValue, match="cannot group by 'colour'"):
        ReportConfig(kind="group", by="colour")
    with pytest.raises(InvalidValue, match="needs a flow"):
        ReportConfig(kind="pipeline")


def test_group_key_errors_name_the_choices() -> None:
    assert group_key(" field:region ").name == "field:region"
    with pytest.raises(InvalidValue, match="choose one of status, folder, source"):
        group_key("field:")


@settings(max_examples=60)
@given(text=st.text(max_size=12))
def test_normalized_ignores_case_spaces_and_accents(text: str) -> None:
    assert normalized(normalized(text)) == normalized(text)
    assert normalized(f"  {text} ") == normalized(text)
    assert normalized(text.replace(" ", "  ")) == normalized(text)
    ascii_text = text.encode("ascii", "ignore").decode()
    assert normalized(ascii_text.upper()) == normalized(ascii_text.lower())
    assert normalized("Wéb Ñame") == normalized("web name")


def test_alias_spellings_move_between_labels(workspace: Workspace) -> None:
    workspace.reports.alias("Google Ads", ["googleads"])
    workspace.reports.alias("Google", ["GoogleAds", "g"])
    assert workspace.reports.aliases() == {"Google Ads": [], "Google": ["GoogleAds", "g"]}
    with pytest.raises(InvalidValue, match="non-blank"):
        workspace.reports.alias("X", ["  "])


def test_aggregate_without_keys_is_one_row_or_none(workspace: Workspace) -> None:
    with workspace.store.transaction() as tx:
        assert tx.aggregate(MATCH_ALL, ()) == []
    workspace.customers.add(Customer(name="a", value="10.25", currency="EUR"))
    workspace.customers.add(Customer(name="b", value="0.5", currency="USD"))
    workspace.customers.add(Customer(name="c"))
    with workspace.store.transaction() as tx:
        [row] = tx.aggregate(MATCH_ALL, ())
        by_field = tx.aggregate(MATCH_ALL, (group_key("field:none"),))
    assert (row.keys, row.count, row.valued, row.total) == ((), 3, 2, Decimal("10.75"))
    assert [(r.keys, r.count) for r in by_field] == [((None,), 3)]


def test_pipeline_report_leaves_out_customers_hidden_from_the_flow(workspace: Workspace) -> None:
    workspace.flows.add("Sales", MATCH_ALL, [Column("New", "Lead", "#111111", 0)])
    shown = workspace.customers.add(Customer(name="shown", value="5", currency="EUR"))
    hidden = workspace.customers.add(Customer(name="hidden", value="7", currency="EUR"))
    workspace.flows.hide("Sales", hidden.id)
    [stage] = workspace.reports.pipeline("Sales").stages
    assert (stage.figures.count, stage.stays) == (1, 1)
    assert [v.total for v in stage.figures.values] == [Decimal("5")]
    workspace.flows.unhide("Sales", hidden.id)
    [stage] = workspace.reports.pipeline("Sales").stages
    assert (stage.figures.count, stage.stays, shown.status) == (2, 2, "Lead")


def test_reports_leave_out_the_tombstones_of_merges(workspace: Workspace) -> None:
    workspace.flows.add("Sales", MATCH_ALL, [Column("New", "Lead", "#111111", 0)])
    kept = workspace.customers.add(Customer(name="kept", source="Web"))
    gone = workspace.customers.add(Customer(name="gone", source="Fair"))
    workspace.customers.merge(kept.id, [gone.id])
    [stage] = workspace.reports.pipeline("Sales").stages
    assert stage.figures.count == 1
    assert [(r.label, r.total) for r in workspace.reports.group("source").rows] == [("Web", 1)]
