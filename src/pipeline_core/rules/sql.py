"""Rules compiled to parameterized SQL over the store schema; user text travels only as parameters.

The schema is the one every SQL backend shares: table ``customers`` aliased ``c``
and ``customer_tags(customer_id, tag)``. A ``Dialect`` supplies what differs
between databases (the parameter placeholder).
"""

from __future__ import annotations

import attrs

from pipeline_core.rules.ast import And, InSet, MatchAll, Not, Or, Rule, SetTest

SqlValue = str | int | float | None


@attrs.frozen
class Dialect:
    """What differs between SQL databases for compiled rules."""

    placeholder: str = "?"


SQLITE = Dialect(placeholder="?")
POSTGRES = Dialect(placeholder="%s")

_COLUMNS = {"status": "c.status", "folder": "c.folder", "source": "c.source", "team": "c.team"}


@attrs.frozen
class Compiled:
    """A SQL boolean expression and its bound parameters, in order."""

    sql: str
    params: tuple[SqlValue, ...]


def compile_sql(rule: Rule, dialect: Dialect = SQLITE) -> Compiled:
    """Compile a rule to a two-valued SQL expression (never NULL) with bound parameters."""
    params: list[SqlValue] = []
    sql = _compile(rule, dialect, params)
    return Compiled(sql, tuple(params))


def _marks(dialect: Dialect, values: tuple[str, ...], params: list[SqlValue]) -> str:
    params.extend(values)
    return ", ".join(dialect.placeholder for _ in values)


def _compile(rule: Rule, dialect: Dialect, params: list[SqlValue]) -> str:
    match rule:
        case MatchAll():
            return "1 = 1"
        case InSet(field=field, values=values):
            column = _COLUMNS[field]
            # IS NOT NULL keeps the expression two-valued, so NOT agrees with Python.
            return f"({column} IS NOT NULL AND {column} IN ({_marks(dialect, values, params)}))"
        case SetTest(quantifier=quantifier, values=values):
            if quantifier == "all":
                each = []
                for value in values:
                    params.append(value)
                    each.append(
                        "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id"
                        f" AND t.tag = {dialect.placeholder})"
                    )
                return "(" + " AND ".join(each) + ")"
            exists = (
                "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id"
                f" AND t.tag IN ({_marks(dialect, values, params)}))"
            )
            return exists if quantifier == "any" else f"NOT {exists}"
        case Not(operand=operand):
            return f"NOT ({_compile(operand, dialect, params)})"
        case And(operands=operands):
            return "(" + " AND ".join(_compile(o, dialect, params) for o in operands) + ")"
        case Or(operands=operands):
            return "(" + " OR ".join(_compile(o, dialect, params) for o in operands) + ")"
    raise TypeError(f"not a rule: {rule!r}")
