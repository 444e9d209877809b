"""Hypothesis properties of the customer's life, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, FixedClock, PipelineError, Workspace
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.reminders import last_due_day, reminder_moment
from pipeline_core.storage import open_store

from .conftest import BACKENDS, fresh_store_url

ZONES = (
    "UTC",
    "Europe/Lisbon",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "Pacific/Chatham",
)
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@contextmanager
def fresh(backend: str) -> Iterator[tuple[Workspace, FixedClock]]:
    clock = FixedClock(START)
    workspace = Workspace(open_store(fresh_store_url(backend)), clock=clock)
    try:
        yield workspace, clock
    finally:
        workspace.close()


STEP = st.tuples(
    st.sampled_from(["note", "move", "contact", "tag", "follow_up", "task", "activity"]),
    st.sampled_from(["Lead", "Prospect", "Quoted", "Customer", "Inactive"]),
    st.integers(min_value=0, max_value=3 * 24 * 60),
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25)
@given(steps=st.lists(STEP, max_size=12))
def test_timeline_is_append_only_and_ordered(
    backend: str, steps: list[tuple[str, str, int]]
) -> None:
    with fresh(backend) as (ws, clock):
        ada = ws.customers.add(Customer(name="Ada"))
        seen = ws.customers.timeline(ada.id)
        for action, status, minutes in steps:
            clock.advance(timedelta(minutes=minutes))
            try:
                if action == "note":
                    ws.notes.add(ada.id, status)
                elif action == "move":
                    ws.customers.move(ada.id, status)
                elif action == "contact":
                    ws.customers.contact(ada.id, status)
                elif action == "tag":
                    ws.customers.edit(ada.id, tags=[status])
                elif action == "follow_up":
                    ws.customers.follow_up(ada.id, clock.now().date())
                elif action == "task":
                    ws.tasks.add(ada.id, status)
                else:
                    ws.customers.activity(ada.id, "email_sent", status)
            except PipelineError:
                pass
            now = ws.customers.timeline(ada.id)
            assert now[: len(seen)] == seen
            assert len(now) >= len(seen)
            ids = [event.id for event in now]
            assert ids == sorted(set(ids))
            moments = [event.at for event in now]
            assert moments == sorted(moments)
            seen = now


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["move", "convert", "force"]),
            st.sampled_from(["Lead", "Prospect", "Quoted", "Customer", "Inactive"]),
        ),
        max_size=12,
    )
)
def test_converted_at_is_set_once(backend: str, steps: list[tuple[str, str]]) -> None:
    with fresh(backend) as (ws, clock):
        ada = ws.customers.add(Customer(name="Ada"))
        stamped = None
        for number, (action, status) in enumerate(steps):
            clock.advance(timedelta(hours=1))
            try:
                if action == "move":
                    ws.customers.move(ada.id, status)
                else:
                    ws.customers.convert(ada.id, f"SO-{number}", force=action == "force")
            except PipelineError:
                pass
            current = ws.customers.get(ada.id).converted_at
            if stamped is None:
                stamped = current
                if current is not None:
                    assert current == clock.now()
            assert current == stamped


DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=200)
@given(zone=st.sampled_from(ZONES), hour=st.integers(0, 23), day=DAYS)
def test_reminder_moments_never_go_backwards(zone: str, hour: int, day: date) -> None:
    tz = ZoneInfo(zone)
    today = reminder_moment(day, hour, tz)
    assert reminder_moment(day + timedelta(days=1), hour, tz) >= today
    assert last_due_day(today, hour, tz) >= day


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40)
@given(
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
    follow_ups=st.lists(st.tuples(DAYS, st.booleans()), min_size=1, max_size=8),
    at=st.datetimes(
        min_value=datetime(2024, 12, 30), max_value=datetime(2028, 1, 2), timezones=st.just(UTC)
    ),
    exact=st.sampled_from([None, -1, 0]),
)
def test_reminders_due_are_exactly_those_past_their_local_moment_and_not_done(
    backend: str,
    zone: str,
    hour: int,
    follow_ups: list[tuple[date, bool]],
    at: datetime,
    exact: int | None,
) -> None:
    if exact is not None:
        # Ask exactly at (or a microsecond before) the first follow-up's moment.
        first = datetime.combine(follow_ups[0][0], datetime.min.time(), ZoneInfo(zone))
        at = first.replace(hour=hour).astimezone(UTC) + timedelta(microseconds=exact)
    with fresh(backend) as (ws, _):
        ws.settings.set(time_zone=zone, reminder_hour=hour)
        expected = set()
        for index, (day, done) in enumerate(follow_ups):
            customer = ws.customers.add(Customer(name=f"C{index}"))
            ws.customers.follow_up(customer.id, day)
            if done:
                ws.customers.follow_up_done(customer.id)
            moment = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).replace(hour=hour)
            if not done and moment <= at:
                expected.add(customer.id)
        due = ws.reminders.due(at)
        assert {reminder.customer_id for reminder in due} == expected
        assert all(reminder.due_at <= at for reminder in due)


OPTIONS = ("red", "green", "blue")


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30)
@given(
    colours=st.lists(
        st.tuples(
            st.none() | st.sampled_from(OPTIONS),
            st.lists(st.sampled_from(OPTIONS), max_size=3, unique=True),
        ),
        max_size=8,
    ),
    old=st.sampled_from(OPTIONS),
)
def test_option_rename_changes_exactly_the_holders_of_the_old_value(
    backend: str, colours: list[tuple[str | None, list[str]]], old: str
) -> None:
    with fresh(backend) as (ws, _):
        ws.fields.add(FieldDefinition(key="colour", type="select", options=OPTIONS))
        ws.fields.add(FieldDefinition(key="likes", type="multi_select", options=OPTIONS))
        for index, (colour, likes) in enumerate(colours):
            values: dict[str, object] = {"likes": tuple(likes)} if likes else {}
            if colour is not None:
                values["colour"] = colour
            ws.customers.add(Customer(name=f"C{index}", fields=values))
        before = {c.id: c for c in ws.customers.list()}
        result = ws.fields.rename_option("colour", old, "purple", expected_version=1)
        after = {c.id: c for c in ws.customers.list()}
        holders = {cid for cid, c in before.items() if c.fields.get("colour") == old}
        assert result.changed == len(holders)
        for cid, customer in after.items():
            if cid in holders:
                assert customer.fields == {**before[cid].fields, "colour": "purple"}
                assert customer.version == before[cid].version + 1
            else:
                assert customer == before[cid]
        renamed = ws.fields.rename_option("likes", old, "purple")
        changed = {c.id for c in ws.customers.list() if holds(c.fields.get("likes"), "purple")}
        held = {cid for cid, c in before.items() if holds(c.fields.get("likes"), old)}
        assert changed == held and renamed.changed == len(held)


def holds(value: object, option: str) -> bool:
    return isinstance(value, tuple) and option in value


@pytest.mark.parametrize(
    ("day", "hour", "due_at"),
    [
        # New York springs forward at 02:00 on 8 March 2026: 02:00 does not exist.
        (date(2026, 3, 8), 2, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        (date(2026, 3, 8), 8, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # It falls back on 1 November 2026: 01:00 happens twice; the first counts.
        (date(2026, 11, 1), 1, datetime(2026, 11, 1, 5, 0, tzinfo=UTC)),
        (date(2026, 11, 1), 8, datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_reminder_moments_across_daylight_saving_changes(
    day: date, hour: int, due_at: datetime
) -> None:
    zone = ZoneInfo("America/New_York")
    assert reminder_moment(day, hour, zone) == due_at
    assert last_due_day(due_at, hour, zone) == day
    assert last_due_day(due_at - timedelta(microseconds=1), hour, zone) == day - timedelta(days=1)
