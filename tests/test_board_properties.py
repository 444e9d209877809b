"""A filtered board is the brute-force filter of all customers, on every backend (hypothesis).

The expected board is computed here in plain Python, without the rule engine: the
members (the flow's rule, the filters, not hidden), each column's count, its values
per currency, and its first cards by newest activity.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, FixedClock, Workspace
from pipeline_core.domain.board import BoardFilters
from pipeline_core.domain.flows import Column

from .conftest import StoreFactory

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
STATUSES = ("Lead", "Prospect", "Quoted", "Customer", "Inactive")
COLUMNS = [Column("New", "Lead", position=0), Column("Talking", "Prospect", position=1)]
TAGS = ("web", "vip", "fair")
SOURCES = (None, "Wébsite", "website form", "Trade FAIR", "café", "CAFE")
LIMIT = 3


def _bare(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@st.composite
def people(draw: st.DrawFn) -> list[Customer]:
    """A few customers spread over statuses, tags, sources, workers, folders, days, values."""
    found = []
    for index in range(draw(st.integers(0, 12))):
        created = T0 + timedelta(minutes=draw(st.integers(-4 * 24 * 60, 4 * 24 * 60)))
        valued = draw(st.booleans())
        found.append(
            Customer(
                name=f"P{index}",
                status=draw(st.sampled_from(STATUSES)),
                tags=draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
                source=draw(st.sampled_from(SOURCES)),
                workers=draw(st.lists(st.sampled_from(("eve", "joe")), unique=True, max_size=2)),
                folder=draw(st.sampled_from((None, "Leads", "Old"))),
                value=Decimal(draw(st.integers(1, 500))) / 4 if valued else None,
                currency=draw(st.sampled_from(("EUR", "USD", None))) if valued else None,
                created_at=created,
                updated_at=created + timedelta(minutes=draw(st.integers(0, 5))),
            )
        )
    return found


def _when() -> st.SearchStrategy[date | datetime | None]:
    days = st.integers(-4, 4).map(lambda n: T0.date() + timedelta(days=n))
    moments = st.integers(-4 * 24, 4 * 24).map(lambda n: T0 + timedelta(hours=n))
    return st.one_of(st.none(), days, moments)


@st.composite
def filters(draw: st.DrawFn) -> BoardFilters:
    """Any combination of the board's filters (the range may be empty, never inverted)."""
    low, high = draw(_when()), draw(_when())
    if low is not None and high is not None and _start(low) > _end(high):
        low, high = high, low
        if _start(low) > _end(high):
            high = None
    return BoardFilters(
        tags=draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
        any_tag=draw(st.booleans()),
        created_from=low,
        created_to=high,
        source=draw(st.sampled_from((None, "website", "WEBSITE", "cafe", "é", "fair"))),
        workers=draw(st.lists(st.sampled_from(("eve", "joe")), unique=True, max_size=1)),
        folders=draw(st.lists(st.sampled_from(("Leads", "Old")), unique=True, max_size=1)),
    )


def _start(when: date | datetime) -> datetime:
    if isinstance(when, datetime):
        return when
    return datetime(when.year, when.month, when.day, tzinfo=UTC)


def _end(when: date | datetime) -> datetime:
    if isinstance(when, datetime):
        return when
    return _start(when) + timedelta(days=1) - timedelta(microseconds=1)


def passes(person: Customer, chosen: BoardFilters) -> bool:
    """The filters, by hand."""
    if chosen.tags:
        held = set(person.tags) & set(chosen.tags)
        if (not held) if chosen.any_tag else (held != set(chosen.tags)):
            return False
    if chosen.created_from is not None and person.created_at < _start(chosen.created_from):
        return False
    if chosen.created_to is not None and person.created_at > _end(chosen.created_to):
        return False
    if chosen.source is not None and (
        person.source is None or _bare(chosen.source) not in _bare(person.source)
    ):
        return False
    if chosen.workers and not set(chosen.workers) & set(person.workers):
        return False
    return not chosen.folders or person.folder in chosen.folders


@pytest.fixture
def shared(make_store: StoreFactory) -> Iterator[Workspace]:
    """One workspace for every example: each example writes a batch (a team) of its own."""
    workspace = Workspace(make_store(), clock=FixedClock(T0 + timedelta(days=10)))
    workspace.init()
    yield workspace


BATCHES = itertools.count(1)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people(), filters(), st.data())
def test_a_filtered_board_is_the_brute_force_filter_of_all_customers(
    shared: Workspace, persons: list[Customer], chosen: BoardFilters, data: st.DataObject
) -> None:
    batch = f"b{next(BATCHES)}"
    flow = f"Flow {batch}"
    shared.flows.add(flow, f'team = "{batch}" and not tags all ("vip", "fair")', COLUMNS)
    with shared.store.transaction() as tx:
        stored = [tx.insert_customer(_in_batch(person, batch)) for person in persons]
    hidden = data.draw(st.sets(st.sampled_from([c.id for c in stored]))) if stored else set()
    for customer_id in sorted(hidden):
        shared.flows.hide(flow, customer_id)
    board = shared.flows.board(flow, limit=LIMIT, filters=chosen)

    def member(person: Customer) -> bool:
        return not {"vip", "fair"} <= set(person.tags) and passes(person, chosen)

    members = [c for c in stored if member(c) and c.id not in hidden]
    assert board.hidden == sum(1 for c in stored if member(c) and c.id in hidden)
    assert board.filtered == (chosen.rule() != BoardFilters().rule())
    mapped = {column.status for column in COLUMNS}
    lanes = [*board.columns, board.unmapped]
    for lane in lanes:
        wanted = [
            c
            for c in members
            if (c.status == lane.status if lane.status else c.status not in mapped)
        ]
        assert lane.count == len(wanted), lane.name
        newest = sorted(wanted, key=lambda c: (c.updated_at, c.id), reverse=True)[:LIMIT]
        assert [c.id for c in lane.cards] == [c.id for c in newest], lane.name
        sums: dict[str | None, tuple[int, Decimal]] = {}
        for c in wanted:
            if c.value is not None:
                seen, total = sums.get(c.currency, (0, Decimal(0)))
                sums[c.currency] = (seen + 1, total + c.value)
        got = {v.currency: (v.valued, v.total) for v in lane.values}
        assert got == sums, lane.name
        assert [v.currency for v in lane.values] == sorted(sums, key=lambda c: (c is None, c or ""))
    assert board.total == len(members)


def _in_batch(person: Customer, batch: str) -> Customer:
    return attrs.evolve(person, team=batch)
