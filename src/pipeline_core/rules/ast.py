"""The rule AST: small frozen attrs nodes, shared by evaluation, SQL compilation and printing.

A field is named by text: a built-in name (``folder``, ``tags``, ``created``...)
or ``field.KEY`` for the custom field ``KEY``. Which operators suit which
field is the catalog's business (``rules.catalog``); the nodes only check
what is true of every rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import attrs

from pipeline_core.customer import currency_codes
from pipeline_core.errors import InvalidValue

Quantifier = Literal["any", "all", "none"]
"""How a multi-valued field meets a list: at least one, every one, or none of the values."""

Operator = Literal["=", "!=", "<", "<=", ">", ">=", "~"]
"""Comparison operators; ``~`` is case-insensitive contains."""

OPERATORS: tuple[Operator, ...] = ("=", "!=", "<", "<=", ">", ">=", "~")

Direction = Literal["past", "next"]
"""``within N days`` looks back (``past``) or ahead (``next``) from today."""

Unit = Literal["days", "hours", "minutes"]
"""``within N days`` counts calendar days (today included); hours and minutes are a
rolling window back (or ahead) from the moment the rule is evaluated."""

MOMENT_FIELDS = ("created", "updated", "converted", "last_contacted", "closed")
"""The fields that hold a moment, not only a day: the ones a moment or a rolling window
of hours or minutes may test."""

CUSTOM_PREFIX = "field."
"""A field name starting with this names a custom field: ``field.insurance_provider``."""


@attrs.frozen
class Today:
    """A date relative to the day a rule is evaluated: today plus ``offset`` days."""

    offset: int = 0


Value = str | Decimal | bool | datetime | date | Today
"""What a comparison compares with: text, a number, true/false, a moment (aware), a date
or a relative date."""


def _field(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"a rule needs a field name, got {value!r}")
    if value.startswith(CUSTOM_PREFIX) and not value[len(CUSTOM_PREFIX) :].strip():
        raise InvalidValue("a custom field needs a name after 'field.'")
    return _unicode(value)


def _unicode(text: str) -> str:
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise InvalidValue(f"rule text {text!r} holds a lone surrogate, which is not unicode text")
    return text


def _value(value: Value) -> Value:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValue(f"moment {value.isoformat()} needs a UTC offset")
        return value
    if isinstance(value, str):
        return _unicode(value)
    if isinstance(value, bool | date | Today):
        return value
    if isinstance(value, int | Decimal):
        number = Decimal(value)
        if not number.is_finite():
            raise InvalidValue(f"a rule number must be finite, got {value!r}")
        return number
    raise InvalidValue(f"a rule cannot compare with {value!r}")


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    result = tuple(values)
    if not result:
        raise InvalidValue("a rule needs at least one value in its list")
    for value in result:
        if not isinstance(value, str):
            raise InvalidValue(f"list values in a rule must be text, got {value!r}")
        _unicode(value)
    return result


@attrs.frozen
class MatchAll:
    """The rule every customer satisfies (written ``true``)."""


@attrs.frozen
class Compare:
    """``field OP value``: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or ``~`` (contains)."""

    field: str = attrs.field(converter=_field)
    op: Operator = attrs.field(validator=attrs.validators.in_(OPERATORS))
    value: Value = attrs.field(converter=_value)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.value, datetime) and (self.field not in MOMENT_FIELDS or self.op == "~"):
            raise InvalidValue(
                f"only {', '.join(MOMENT_FIELDS)} compare with a moment"
                f" (=, !=, <, <=, >, >=), not {self.field} {self.op}"
            )


@attrs.frozen
class InSet:
    """``field in (values...)``: a single-valued text field equals one of the values."""

    field: str = attrs.field(converter=_field)
    values: tuple[str, ...] = attrs.field(converter=_texts)


@attrs.frozen
class SetTest:
    """``tags any|all|none (values...)``: a multi-valued field against a list of values."""

    field: str = attrs.field(converter=_field)
    quantifier: Quantifier = attrs.field(validator=attrs.validators.in_(("any", "all", "none")))
    values: tuple[str, ...] = attrs.field(converter=_texts)


@attrs.frozen
class Has:
    """``has field``: the field has a value (text not blank, a list not empty)."""

    field: str = attrs.field(converter=_field)


def _days(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValue(f"'within' needs a whole number of days, 0 or more, not {value!r}")
    return value


@attrs.frozen
class Within:
    """``date_field within [next] N days``: between today and N days ago (or ahead), inclusive.

    With ``unit`` hours or minutes (``created within 24 hours``), a rolling window:
    between the moment of evaluation and N hours before (or after) it.
    """

    field: str = attrs.field(converter=_field)
    days: int = attrs.field(converter=_days)
    direction: Direction = attrs.field(
        default="past", validator=attrs.validators.in_(("past", "next"))
    )
    unit: Unit = attrs.field(
        default="days", validator=attrs.validators.in_(("days", "hours", "minutes"))
    )

    def __attrs_post_init__(self) -> None:
        if self.unit != "days" and self.field not in MOMENT_FIELDS:
            raise InvalidValue(
                f"{self.field} holds a day: 'within N {self.unit}' needs one of "
                f"{', '.join(MOMENT_FIELDS)}"
            )


@attrs.frozen
class Not:
    """Negation of one rule."""

    operand: Rule


def _operands(values: Iterable[Rule]) -> tuple[Rule, ...]:
    result = tuple(values)
    if len(result) < 2:
        raise InvalidValue("'and' and 'or' need at least two operands")
    return result


@attrs.frozen
class And:
    """Conjunction: every operand holds."""

    operands: tuple[Rule, ...] = attrs.field(converter=_operands)


@attrs.frozen
class Or:
    """Disjunction: at least one operand holds."""

    operands: tuple[Rule, ...] = attrs.field(converter=_operands)


RecordField = Literal["state", "channel", "currency", "ref", "amount"]
"""What a condition on a linked record tests (``has invoice where state = "overdue"``)."""

RECORD_FIELDS: tuple[RecordField, ...] = ("state", "channel", "currency", "ref", "amount")

RecordMeasure = Literal["has", "total", "count", "last", "next"]
"""How a linked-record test looks at a customer's records of one kind."""

COUNTED_STATES: dict[str, tuple[str, ...]] = {
    "payment": ("received",),
    "invoice": ("open", "overdue", "paid"),
    "order": ("placed", "paid", "shipped", "delivered"),
    "subscription": ("trial", "active", "paused"),
    "appointment": ("booked", "confirmed", "done"),
}
"""The states whose records ``KIND.total``, ``KIND.count`` and ``next KIND`` take (a failed payment, a void
invoice, a cancelled order are not money or orders); a kind not listed: every state."""

_RECORD_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _record_kind(value: str) -> str:
    if not isinstance(value, str) or not _RECORD_KIND.fullmatch(value):
        raise InvalidValue(f"{value!r} is not a record kind (lower-case letters, digits, _)")
    return value


@attrs.frozen
class RecordCondition:
    """One condition on a linked record: ``state = "overdue"``, ``amount >= 100``.

    Text fields (state, channel, currency, ref) take ``=`` and ``!=``; the amount
    takes every comparison. A missing value satisfies nothing but ``!=``.
    """

    field: RecordField = attrs.field(validator=attrs.validators.in_(RECORD_FIELDS))
    op: Operator = attrs.field(validator=attrs.validators.in_(OPERATORS))
    value: str | Decimal = attrs.field()

    def __attrs_post_init__(self) -> None:
        if self.field == "amount":
            if not isinstance(self.value, Decimal) or not self.value.is_finite():
                raise InvalidValue("a record's amount compares with a number")
            if self.op == "~":
                raise InvalidValue("a record's amount takes =, !=, <, <=, > or >=")
        elif not isinstance(self.value, str) or self.op not in ("=", "!="):
            raise InvalidValue(f'a record\'s {self.field} takes = or != and "text"')
        else:
            _unicode(self.value)


def _conditions(values: Iterable[RecordCondition]) -> tuple[RecordCondition, ...]:
    return tuple(values)


@attrs.frozen
class RecordTest:
    """A test of the customer's linked records of one ``kind``.

    - ``has``: ``has KIND [where CONDITION]``: some record satisfies ``where``
      (every condition).
    - ``total``: ``KINDs.total in CUR OP N``: the amounts in ``currency`` of the records
      in the kind's ``COUNTED_STATES`` added up exactly, compared with N. Amounts of
      different currencies never add up, so a total always names its currency.
    - ``count``: ``KINDs.count OP N``: how many records in those states, compared with N.
    - ``last``: ``last KIND within N days``: the latest record's moment (when it
      happened, else started, else was attached) falls, by its UTC day, within the
      last N days; ``since`` and ``until`` are those days once bound to a today.
    - ``next``: ``next KIND within N days``: a record in the kind's ``COUNTED_STATES``
      (a cancelled appointment is not coming) has its moment (when it happens, else
      starts) on a UTC day from today to N days ahead, as ``within next N days``.
    """

    kind: str = attrs.field(converter=_record_kind)
    measure: RecordMeasure = attrs.field(
        validator=attrs.validators.in_(("has", "total", "count", "last", "next"))
    )
    where: tuple[RecordCondition, ...] = attrs.field(default=(), converter=_conditions)
    op: Operator = attrs.field(default="=", validator=attrs.validators.in_(OPERATORS))
    value: Decimal = attrs.field(default=Decimal(0))
    days: int = attrs.field(default=0, converter=_days)
    since: date | None = None
    until: date | None = None
    currency: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.measure == "total":
            if self.currency is None:
                raise InvalidValue(
                    f"{self.kind}s.total adds amounts of one currency: name it, as in "
                    f"'{self.kind}s.total in EUR >= 1000'"
                )
            if self.currency not in currency_codes():
                raise InvalidValue(
                    f"{self.currency!r} is not an ISO 4217 currency code (EUR, USD, JPY...)"
                )
        elif self.currency is not None:
            raise InvalidValue(f"only a total names a currency, not {self.measure}")
        if self.measure in ("total", "count"):
            if self.op == "~" or not isinstance(self.value, Decimal):
                raise InvalidValue(f"{self.kind}s.{self.measure} compares with a number")
            if not self.value.is_finite():
                raise InvalidValue("a rule number must be finite")

    @property
    def field(self) -> str:
        """The name the rule's fields list it under: ``records.KIND``."""
        return f"{RECORDS_PREFIX}{self.kind}"


RECORDS_PREFIX = "records."
"""The prefix of the field name a linked-record test is listed under."""


Rule = MatchAll | Compare | InSet | SetTest | Has | Within | RecordTest | Not | And | Or
"""Any rule node."""


def uses_records(rule: Rule) -> bool:
    """Whether the rule tests linked records (evaluating it in Python needs them)."""
    match rule:
        case RecordTest():
            return True
        case Not(operand=operand):
            return uses_records(operand)
        case And(operands=operands) | Or(operands=operands):
            return any(uses_records(o) for o in operands)
    return False


Atom = Compare | InSet | SetTest | Has | Within | RecordTest
"""A rule node that tests one field."""

MATCH_ALL = MatchAll()


def is_custom(field: str) -> bool:
    """Whether ``field`` names a custom field (``field.KEY``)."""
    return field.startswith(CUSTOM_PREFIX)


def custom_key(field: str) -> str:
    """The KEY of ``field.KEY``."""
    return field[len(CUSTOM_PREFIX) :]


def all_of(*rules: Rule) -> Rule:
    """Combine rules with 'and', dropping MatchAll and flattening nested conjunctions."""
    parts: list[Rule] = []
    for rule in rules:
        if isinstance(rule, MatchAll):
            continue
        parts.extend(rule.operands if isinstance(rule, And) else (rule,))
    if not parts:
        return MATCH_ALL
    return parts[0] if len(parts) == 1 else And(parts)


def any_of(*rules: Rule) -> Rule:
    """Combine rules with 'or', flattening nested disjunctions."""
    parts: list[Rule] = []
    for rule in rules:
        if isinstance(rule, MatchAll):
            return MATCH_ALL
        parts.extend(rule.operands if isinstance(rule, Or) else (rule,))
    if not parts:
        raise InvalidValue("'or' needs at least one operand")
    return parts[0] if len(parts) == 1 else Or(parts)


def fields_of(rule: Rule) -> set[str]:
    """Every field a rule mentions."""
    match rule:
        case Not(operand=operand):
            return fields_of(operand)
        case And(operands=operands) | Or(operands=operands):
            return set().union(*(fields_of(o) for o in operands))
        case MatchAll():
            return set()
        case _:
            return {rule.field}
