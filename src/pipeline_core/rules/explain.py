"""Explaining a rule against one customer: which clauses held and which did not, as a tree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs

from pipeline_core.customer import Customer
from pipeline_core.rules.ast import And, MatchAll, Not, Or, RecordTest, Rule
from pipeline_core.rules.dates import utc_today
from pipeline_core.rules.evaluate import RecordLookup, compile_predicate, getter
from pipeline_core.rules.printer import field_text, quote, to_text


@attrs.frozen
class Explanation:
    """One node of a rule, whether it held for the customer, and why.

    ``actual`` is what the customer has in the tested field (for tests of one
    field); ``children`` explain the operands of 'and', 'or' and 'not'.
    """

    text: str
    holds: bool
    actual: str | None = None
    children: tuple[Explanation, ...] = ()

    def lines(self, depth: int = 0) -> list[str]:
        """The tree as indented lines: ``yes``/``no``, the clause, and the customer's value."""
        mark = "yes" if self.holds else "no "
        line = f"{'  ' * depth}{mark}  {self.text}"
        if self.actual is not None:
            line += f"    [{self.actual}]"
        return [line] + [line for child in self.children for line in child.lines(depth + 1)]

    def render(self) -> str:
        """The tree as text, one clause per line."""
        return "\n".join(self.lines()) + "\n"


def _shown(value: object) -> str:
    if value is None or value == () or value == "":
        return "none"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, tuple):
        return ", ".join(quote(str(item)) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def explain(
    rule: Rule,
    customer: Customer,
    *,
    today: date | None = None,
    shown: Customer | None = None,
    now: datetime | None = None,
    records: RecordLookup | None = None,
) -> Explanation:
    """Explain ``rule`` for ``customer``; ``today`` fixes relative dates (default: UTC today),
    ``now`` where rolling windows end.

    ``shown`` is the customer as the reader may see it (contact data masked): the
    values quoted come from it, while whether each clause holds is the real answer.
    """
    if today is None:
        now = now or datetime.now(UTC)
        today = utc_today(now)
    return _explain(rule, customer, today, customer if shown is None else shown, now, records)


def _explain(
    rule: Rule,
    customer: Customer,
    today: date,
    shown: Customer,
    now: datetime | None,
    records: RecordLookup | None = None,
) -> Explanation:
    holds = compile_predicate(rule, today=today, now=now, records=records)(customer)
    match rule:
        case MatchAll():
            return Explanation("true", holds)
        case Not(operand=operand):
            child = _explain(operand, customer, today, shown, now, records)
            return Explanation(to_text(rule), holds, children=(child,))
        case And(operands=operands) | Or(operands=operands):
            children = tuple(_explain(o, customer, today, shown, now, records) for o in operands)
            return Explanation(to_text(rule), holds, children=children)
        case RecordTest():
            mine = [] if records is None else [r for r in records(customer) if r.kind == rule.kind]
            return Explanation(to_text(rule), holds, f"{rule.kind} records: {len(mine)}")
    value = getter(rule.field)(shown)
    return Explanation(to_text(rule), holds, f"{field_text(rule.field)}: {_shown(value)}")
