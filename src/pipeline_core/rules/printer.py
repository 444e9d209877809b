"""The rule printer: canonical text for a rule, such that ``parse(to_text(r)) == r``.

Canonical means lower-case keywords, canonical field names, double-quoted
text, single spaces, and parentheses only where precedence needs them (plus
around a nested 'and' in an 'and' and an 'or' in an 'or', which the parser
would otherwise flatten).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from pipeline_core.rules.ast import (
    And,
    Compare,
    Has,
    InSet,
    MatchAll,
    Not,
    Or,
    RecordTest,
    Rule,
    SetTest,
    Today,
    Value,
    Within,
    custom_key,
    is_custom,
)

_PLAIN_KEY = re.compile(r"^[^\W\d]\w*$")
_QUOTED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def quote(text: str) -> str:
    """Text as a double-quoted rule string, escaping what needs it."""
    out = []
    for char in text:
        if char in _QUOTED:
            out.append(_QUOTED[char])
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def field_text(field: str) -> str:
    """A field name as rule text (``field.KEY``, quoting a key that is not a plain word)."""
    if not is_custom(field):
        return field
    key = custom_key(field)
    return "field." + (key if _PLAIN_KEY.match(key) else quote(key))


def value_text(value: Value) -> str:
    """A comparison value as rule text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Today):
        if value.offset == 0:
            return "today"
        sign = "+" if value.offset > 0 else "-"
        return f"today {sign} {abs(value.offset)} days"
    if isinstance(value, datetime):
        return value.isoformat()
    assert isinstance(value, date)
    return value.isoformat()


def _list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(quote(value) for value in values) + ")"


def record_text(rule: RecordTest) -> str:
    """The canonical text of a linked-record test."""
    if rule.measure in ("last", "next"):
        return f"{rule.measure} {rule.kind} within {rule.days} days"
    if rule.measure == "total":
        return f"{rule.kind}s.total in {rule.currency} {rule.op} {value_text(rule.value)}"
    if rule.measure == "count":
        return f"{rule.kind}s.{rule.measure} {rule.op} {value_text(rule.value)}"
    if not rule.where:
        return f"has {rule.kind}"
    conditions = [f"{c.field} {c.op} {value_text(c.value)}" for c in rule.where]
    if len(conditions) == 1:
        return f"has {rule.kind} where {conditions[0]}"
    return f"has {rule.kind} where ({' and '.join(conditions)})"


def to_text(rule: Rule) -> str:
    """The canonical text of a rule."""
    match rule:
        case MatchAll():
            return "true"
        case Compare(field=field, op=op, value=value):
            return f"{field_text(field)} {op} {value_text(value)}"
        case InSet(field=field, values=values):
            return f"{field_text(field)} in {_list(values)}"
        case SetTest(field=field, quantifier=quantifier, values=values):
            return f"{field_text(field)} {quantifier} {_list(values)}"
        case Has(field=field):
            return f"has {field_text(field)}"
        case Within(field=field, days=days, direction=direction, unit=unit):
            ahead = "next " if direction == "next" else ""
            return f"{field_text(field)} within {ahead}{days} {unit}"
        case RecordTest():
            return record_text(rule)
        case Not(operand=operand):
            inner = to_text(operand)
            return f"not ({inner})" if isinstance(operand, And | Or) else f"not {inner}"
        case And(operands=operands):
            return " and ".join(
                f"({to_text(o)})" if isinstance(o, And | Or) else to_text(o) for o in operands
            )
        case Or(operands=operands):
            return " or ".join(
                f"({to_text(o)})" if isinstance(o, Or) else to_text(o) for o in operands
            )
    raise TypeError(f"not a rule: {rule!r}")
