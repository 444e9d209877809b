"""The rule AST: small frozen attrs nodes, shared by evaluation, SQL compilation and printing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from pipeline_core.errors import InvalidValue

SCALAR_FIELDS = ("status", "folder", "source", "team")
"""Single-valued text fields a rule can test for membership in a set of values."""

SET_FIELDS = ("tags",)
"""Multi-valued fields a rule can test with any / all / none."""

Quantifier = Literal["any", "all", "none"]


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    result = tuple(values)
    if not result:
        raise InvalidValue("a rule needs at least one value in its list")
    for value in result:
        if not isinstance(value, str):
            raise InvalidValue(f"rule values must be text, got {value!r}")
    return result


def _scalar_field(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in SCALAR_FIELDS:
        raise InvalidValue(
            f"field {value!r} cannot be tested with 'in'; use one of {', '.join(SCALAR_FIELDS)}"
        )


def _set_field(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in SET_FIELDS:
        raise InvalidValue(
            f"field {value!r} is not a list field; use one of {', '.join(SET_FIELDS)}"
        )


@attrs.frozen
class MatchAll:
    """The rule every customer satisfies."""


@attrs.frozen
class InSet:
    """``field in (values...)``: a single-valued field equals one of the values."""

    field: str = attrs.field(validator=_scalar_field)
    values: tuple[str, ...] = attrs.field(converter=_texts)


@attrs.frozen
class SetTest:
    """``tags any|all|none (values...)``: a multi-valued field against a set of values."""

    field: str = attrs.field(validator=_set_field)
    quantifier: Quantifier = attrs.field(validator=attrs.validators.in_(("any", "all", "none")))
    values: tuple[str, ...] = attrs.field(converter=_texts)


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


Rule = MatchAll | InSet | SetTest | Not | And | Or
"""Any rule node."""

MATCH_ALL = MatchAll()


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
