"""Rules evaluated in Python: a rule compiles once to a predicate over Customer."""

from __future__ import annotations

from collections.abc import Callable

from pipeline_core.customer import Customer
from pipeline_core.rules.ast import And, InSet, MatchAll, Not, Or, Rule, SetTest

Predicate = Callable[[Customer], bool]


def compile_predicate(rule: Rule) -> Predicate:
    """Turn a rule into a plain function of a customer, resolving the tree once."""
    match rule:
        case MatchAll():
            return lambda customer: True
        case InSet(field=field, values=values):
            allowed = frozenset(values)
            return lambda customer: getattr(customer, field) in allowed
        case SetTest(field=field, quantifier=quantifier, values=values):
            wanted = frozenset(values)
            if quantifier == "any":
                return lambda customer: not wanted.isdisjoint(getattr(customer, field))
            if quantifier == "all":
                return lambda customer: wanted.issubset(getattr(customer, field))
            return lambda customer: wanted.isdisjoint(getattr(customer, field))
        case Not(operand=operand):
            inner = compile_predicate(operand)
            return lambda customer: not inner(customer)
        case And(operands=operands):
            parts = tuple(compile_predicate(operand) for operand in operands)
            return lambda customer: all(part(customer) for part in parts)
        case Or(operands=operands):
            parts = tuple(compile_predicate(operand) for operand in operands)
            return lambda customer: any(part(customer) for part in parts)
    raise TypeError(f"not a rule: {rule!r}")


def matches(rule: Rule, customer: Customer) -> bool:
    """Whether one customer satisfies the rule."""
    return compile_predicate(rule)(customer)
