"""Rules evaluated in Python: a rule compiles once to a predicate over Customer.

The meaning of every test is documented in docs/rules.md; ``rules.sql``
compiles the same meaning to SQL and the property tests hold the two equal.
In short: a test on a missing value is false, except ``!=``, which is
exactly ``not =``; numbers compare as 64-bit floats; timestamps compare by
their UTC calendar day (a moment compares with the moment itself); ``~`` compares
text casefolded and without accents (``rules.casefold.fold``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from pipeline_core.customer import Customer
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import (
    COUNTED_STATES,
    And,
    Compare,
    Has,
    InSet,
    MatchAll,
    Not,
    Or,
    RecordCondition,
    RecordTest,
    Rule,
    SetTest,
    Within,
    custom_key,
    is_custom,
)
from pipeline_core.rules.casefold import fold
from pipeline_core.rules.catalog import BUILTIN_FIELDS
from pipeline_core.rules.dates import bind_dates, utc_today

Predicate = Callable[[Customer], bool]
Getter = Callable[[Customer], Any]


class RecordFacts(Protocol):
    """What rules read of a linked record (``pipeline_core.domain.records.LinkedRecord``)."""

    @property
    def kind(self) -> str:
        """The record's kind."""
        ...

    @property
    def state(self) -> str:
        """Its state."""
        ...

    @property
    def channel(self) -> str | None:
        """A conversation's channel."""
        ...

    @property
    def currency(self) -> str | None:
        """The currency of its amount."""
        ...

    @property
    def ref(self) -> str:
        """Its external reference."""
        ...

    @property
    def amount(self) -> Decimal | None:
        """Its amount."""
        ...

    @property
    def moment(self) -> datetime | None:
        """When it took place."""
        ...


RecordLookup = Callable[[Customer], Sequence[RecordFacts]]
"""A customer's linked records, for rules that test them."""


def _no_records(customer: Customer) -> Sequence[RecordFacts]:
    raise InvalidValue(
        "this rule tests linked records: evaluate it with the customer's records"
        " (compile_predicate(rule, records=...))"
    )


ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_TIMESTAMPS = {
    "created": "created_at",
    "updated": "updated_at",
    "converted": "converted_at",
    "last_contacted": "last_contacted_at",
    "closed": "closed_at",
}


def day_of(value: object) -> date | None:
    """The calendar day a date or timestamp falls on (UTC for timestamps); None otherwise."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return None


def number_of(value: object) -> float | None:
    """A number as the float rules compare; None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def getter(field: str) -> Getter:
    """How to read a field (built-in or custom) from a customer, as rules see it."""
    if is_custom(field):
        key = custom_key(field)
        return lambda customer: customer.fields.get(key)
    if field == "owner":
        return lambda customer: customer.workers[0] if customer.workers else None
    if field in _TIMESTAMPS:
        name = _TIMESTAMPS[field]
        return lambda customer: day_of(getattr(customer, name))
    if field not in BUILTIN_FIELDS:
        raise TypeError(f"unknown field {field!r}")
    return operator.attrgetter(field)


def _present(value: object) -> bool:
    return value is not None and value != "" and value != ()


def compile_predicate(
    rule: Rule,
    *,
    today: date | None = None,
    now: datetime | None = None,
    records: RecordLookup | None = None,
) -> Predicate:
    """Turn a rule into a plain function of a customer, resolving the tree once.

    ``today`` fixes what relative dates mean (default: the UTC date now) and
    ``now`` where rolling windows end (default: now, or the start of ``today``);
    ``records`` reads a customer's linked records, for rules that test them.
    """
    if today is None:
        now = now or datetime.now(UTC)
        today = utc_today(now)
    return _compile(bind_dates(rule, today, now), records or _no_records)


def matches(
    rule: Rule,
    customer: Customer,
    *,
    today: date | None = None,
    now: datetime | None = None,
    records: RecordLookup | None = None,
) -> bool:
    """Whether one customer satisfies the rule."""
    return compile_predicate(rule, today=today, now=now, records=records)(customer)


def _compile(rule: Rule, records: RecordLookup = _no_records) -> Predicate:
    match rule:
        case RecordTest():
            return record_predicate(rule, records)
        case MatchAll():
            return lambda customer: True
        case Not(operand=operand):
            inner = _compile(operand, records)
            return lambda customer: not inner(customer)
        case And(operands=operands):
            parts = tuple(_compile(operand, records) for operand in operands)
            if len(parts) == 2:
                first, second = parts
                return lambda customer: first(customer) and second(customer)
            if len(parts) == 3:
                first, second, third = parts
                return lambda customer: first(customer) and second(customer) and third(customer)
            return lambda customer: all(part(customer) for part in parts)
        case Or(operands=operands):
            parts = tuple(_compile(operand, records) for operand in operands)
            if len(parts) == 2:
                first, second = parts
                return lambda customer: first(customer) or second(customer)
            if len(parts) == 3:
                first, second, third = parts
                return lambda customer: first(customer) or second(customer) or third(customer)
            return lambda customer: any(part(customer) for part in parts)
        case Has(field=field):
            read = getter(field)
            if is_custom(field):
                key = custom_key(field)
                return lambda customer: key in customer.fields
            return lambda customer: _present(read(customer))
        case InSet(field=field, values=values):
            read, allowed = getter(field), frozenset(values)
            # Only text is in ``allowed``, so a missing value or a number never is.
            return lambda customer: read(customer) in allowed
        case SetTest():
            return _set_test(rule)
        case Compare():
            return _compare(rule)
        case Within():
            raise TypeError("relative dates must be bound before compiling")
    raise TypeError(f"not a rule: {rule!r}")


def _items(value: object) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ()


def _set_test(rule: SetTest) -> Predicate:
    wanted = frozenset(rule.values)
    if not is_custom(rule.field):
        # Built-in list fields always hold a tuple: skip the type check.
        items = getter(rule.field)
        if rule.quantifier == "any":
            return lambda customer: not wanted.isdisjoint(items(customer))
        if rule.quantifier == "all":
            return lambda customer: wanted.issubset(items(customer))
        return lambda customer: wanted.isdisjoint(items(customer))
    read = getter(rule.field)
    if rule.quantifier == "any":
        return lambda customer: not wanted.isdisjoint(_items(read(customer)))
    if rule.quantifier == "all":
        return lambda customer: wanted.issubset(_items(read(customer)))
    return lambda customer: wanted.isdisjoint(_items(read(customer)))


def _contains(needle: str) -> Callable[[object], bool]:
    folded = fold(needle)

    def test(value: object) -> bool:
        if isinstance(value, str):
            return folded in fold(value)
        if isinstance(value, tuple):
            return any(folded in fold(item) for item in value)
        return False

    return test


def _compare(rule: Compare) -> Predicate:
    if rule.op == "!=":
        equal = _compare(Compare(rule.field, "=", rule.value))
        return lambda customer: not equal(customer)
    read, literal = getter(rule.field), rule.value
    if rule.op == "~":
        assert isinstance(literal, str)
        test = _contains(literal)
        return lambda customer: test(read(customer))
    order = ORDER[rule.op]
    if isinstance(literal, bool):
        return lambda customer: isinstance(v := read(customer), bool) and order(v, literal)
    if isinstance(literal, str):
        if rule.op == "=":
            # Text equals only text: a missing value or a number never equals it.
            return lambda customer: read(customer) == literal
        return lambda customer: isinstance(v := read(customer), str) and order(v, literal)
    if isinstance(literal, datetime):
        # A moment tests the moment itself (MOMENT_FIELDS), not its day.
        moment, attribute = literal, _TIMESTAMPS[rule.field]

        def timed(customer: Customer) -> bool:
            value = getattr(customer, attribute)
            return value is not None and order(value, moment)

        return timed
    if isinstance(literal, Decimal):
        number = float(literal)

        def numeric(customer: Customer) -> bool:
            value = number_of(read(customer))
            return value is not None and order(value, number)

        return numeric
    if isinstance(literal, date):
        day = literal

        def dated(customer: Customer) -> bool:
            value = day_of(read(customer))
            return value is not None and order(value, day)

        return dated
    raise TypeError("relative dates must be bound before compiling")


# linked records ---------------------------------------------------------------------------


def scaled(value: Decimal) -> Decimal:
    """An amount in the 1/10000 the stores sum amounts in (``amount_e4``)."""
    return value.scaleb(4)


def counted(kind: str, state: str) -> bool:
    """Whether a record in ``state`` counts in ``KIND.total`` and ``KIND.count``."""
    states = COUNTED_STATES.get(kind)
    return states is None or state in states


def _condition(condition: RecordCondition) -> Callable[[RecordFacts], bool]:
    field, op, literal = condition.field, condition.op, condition.value
    if op == "!=":
        equal = _condition(RecordCondition(field, "=", literal))
        return lambda record: not equal(record)
    if field == "amount":
        assert isinstance(literal, Decimal)
        order = ORDER[op]
        return lambda record: record.amount is not None and order(record.amount, literal)
    read = operator.attrgetter(field)
    return lambda record: read(record) == literal


def record_predicate(rule: RecordTest, records: RecordLookup) -> Predicate:
    """A linked-record test as a predicate over a customer (its records read by ``records``)."""
    kind = rule.kind
    if rule.measure == "has":
        tests = tuple(_condition(c) for c in rule.where)
        return lambda customer: any(
            r.kind == kind and all(test(r) for test in tests) for r in records(customer)
        )
    if rule.measure == "last":
        if rule.since is None or rule.until is None:
            raise TypeError("relative dates must be bound before compiling")
        since, until = rule.since, rule.until

        def last(customer: Customer) -> bool:
            moments = [r.moment for r in records(customer) if r.kind == kind]
            present = [m for m in moments if m is not None]
            if not present:
                return False
            latest = day_of(max(present))
            return latest is not None and since <= latest <= until

        return last
    if rule.measure == "next":
        if rule.since is None or rule.until is None:
            raise TypeError("relative dates must be bound before compiling")
        first, final = rule.since, rule.until

        def coming(customer: Customer) -> bool:
            for r in records(customer):
                if r.kind == kind and counted(kind, r.state):
                    day = day_of(r.moment)
                    if day is not None and first <= day <= final:
                        return True
            return False

        return coming
    order = operator.ne if rule.op == "!=" else ORDER[rule.op]
    literal = scaled(rule.value) if rule.measure == "total" else rule.value

    def measured(customer: Customer) -> bool:
        mine = [r for r in records(customer) if r.kind == kind and counted(kind, r.state)]
        if rule.measure == "count":
            return bool(order(Decimal(len(mine)), literal))
        amounts = (r.amount for r in mine if r.currency == rule.currency)
        total = sum((scaled(a) for a in amounts if a is not None), Decimal(0))
        return bool(order(total, literal))

    return measured
