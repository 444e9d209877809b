"""Relative dates: binding ``today`` and ``within N days`` to calendar days before evaluation.

Python evaluation and SQL compilation both bind with the same ``today``, so
they agree; the workspace takes ``today`` from its clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import attrs

from pipeline_core.rules.ast import And, Compare, Not, Or, RecordTest, Rule, Today, Within


def utc_today(now: datetime | None = None) -> date:
    """The UTC calendar day of ``now`` (default: the system clock)."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(UTC).date()


def shift(day: date, days: int) -> date:
    """``day`` plus ``days``, clamped to the calendar's first and last day."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def moment_of(today: date, now: datetime | None) -> datetime:
    """The moment rolling windows count from: ``now``, or (not given) the start of ``today``."""
    return now.astimezone(UTC) if now is not None else datetime.combine(today, time(), UTC)


def bind_dates(rule: Rule, today: date, now: datetime | None = None) -> Rule:
    """The same rule with every relative date replaced by the calendar day it means on ``today``.

    Rolling windows (``within 24 hours``) become a range of moments ending (or, for
    ``next``, starting) at ``now``; without ``now``, at the start of ``today``.
    """
    match rule:
        case Compare(value=Today(offset=offset)):
            return Compare(rule.field, rule.op, shift(today, offset))
        case Within(field=field, days=days, direction=direction, unit="days"):
            if direction == "past":
                low, high = shift(today, -days), today
            else:
                low, high = today, shift(today, days)
            return And((Compare(field, ">=", low), Compare(field, "<=", high)))
        case RecordTest(measure="last", days=days, since=None):
            # Bound once: a bound rule keeps its days when bound again (as Within's do).
            return attrs.evolve(rule, since=shift(today, -days), until=today)
        case RecordTest(measure="next", days=days, since=None):
            return attrs.evolve(rule, since=today, until=shift(today, days))
        case Within(field=field, days=count, direction=direction, unit=unit):
            moment = moment_of(today, now)
            span = timedelta(hours=count) if unit == "hours" else timedelta(minutes=count)
            start, end = (moment - span, moment) if direction == "past" else (moment, moment + span)
            return And((Compare(field, ">=", start), Compare(field, "<=", end)))
        case Not(operand=operand):
            return Not(bind_dates(operand, today, now))
        case And(operands=operands):
            return And(tuple(bind_dates(o, today, now) for o in operands))
        case Or(operands=operands):
            return Or(tuple(bind_dates(o, today, now) for o in operands))
    return rule


def is_relative(rule: Rule) -> bool:
    """Whether the rule's meaning depends on the day it is evaluated."""
    match rule:
        case (
            Compare(value=Today())
            | Within()
            | RecordTest(measure="last", since=None)
            | RecordTest(measure="next", since=None)
        ):
            return True
        case Not(operand=operand):
            return is_relative(operand)
        case And(operands=operands) | Or(operands=operands):
            return any(is_relative(o) for o in operands)
    return False
