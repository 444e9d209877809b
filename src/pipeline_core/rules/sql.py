"""Rules compiled to parameterized SQL over the store schema; user text travels only as parameters.

The schema is the one every SQL backend shares: table ``customers`` aliased
``c`` (its ``tags`` a JSON array of texts, mirrored in ``customer_tags(customer_id,
tag)``) and ``customer_fields(customer_id, key, kind, text_value, num_value)``. A ``Dialect`` supplies what differs
between databases. Every compiled expression is two-valued (never NULL), so
that ``NOT`` means what it means in Python; ``rules.evaluate`` is the
reference and the property tests hold the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import partial
from typing import Literal

import attrs

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
from pipeline_core.rules.casefold import casefold_contains, fold
from pipeline_core.rules.catalog import BUILTIN_FIELDS
from pipeline_core.rules.dates import bind_dates, utc_today

SqlValue = str | int | float | date | datetime | None

Storage = Literal["text", "date", "timestamp"]


@attrs.frozen
class Dialect:
    """What differs between SQL databases for compiled rules.

    ``contains`` tests whether a text contains an already casefolded needle;
    ``elements`` is a table expression of the text elements of a JSON array
    (named ``alias``, one column ``value``); ``first`` is the first element of a
    JSON array. ``native_moments``: the customers table keeps timestamps and
    days as timestamp and date columns (else as ISO text). ``text_order`` is
    appended to text range comparisons so that they compare code points.
    ``opaque`` wraps the part of a large rule the planner should take as one
    expression rather than as separate tests (see ``compile_sql``).
    ``tags_inline``: a tag test probed per candidate row reads the customers
    row's ``tags`` JSON text (which the board's covering indexes hold) instead
    of ``customer_tags`` (see ``_Compiler.tag_held``).
    """

    name: str
    placeholder: str = "?"
    contains: str = "pc_contains({value}, {needle})"
    elements: str = "json_each({array}) AS {alias}"
    first: str = "json_extract({array}, '$[0]')"
    native_moments: bool = False
    text_order: str = ""
    opaque: str = "{expression}"
    tags_inline: bool = False


SQLITE = Dialect("sqlite", tags_inline=True)
POSTGRES = Dialect(
    "postgresql",
    placeholder="%s",
    # The PostgreSQL store creates pg_temp.pc_casefold in each session (rules.casefold).
    contains="strpos(pg_temp.pc_casefold({value}), {needle}) > 0",
    elements="jsonb_array_elements_text({array}::jsonb) AS {alias}(value)",
    first="({array}::jsonb ->> 0)",
    native_moments=True,
    text_order=' COLLATE "C"',
    # PostgreSQL plans each test of the top-level AND on its own (an EXISTS as a join),
    # in time that grows faster than their number: 5,000 took minutes and gigabytes.
    # Under IS TRUE (the same on a never-NULL expression) they are one expression.
    opaque="({expression}) IS TRUE",
)

SQL_FUNCTIONS = {"pc_contains": (2, casefold_contains)}
"""Functions a SQLite connection must have for compiled rules: name -> (arity, function)."""

_TEXT_COLUMNS = {
    "name": "c.name",
    "status": "c.status",
    "folder": "c.folder",
    "source": "c.source",
    "team": "c.team",
    "country": "c.country",
    "currency": "c.currency",
    "order_id": "c.order_id",
    "whatsapp": "c.whatsapp",
    "lost_reason": "c.lost_reason",
    "outcome": "c.outcome",
}
_DATE_COLUMNS = {
    "created": "c.created_at",
    "updated": "c.updated_at",
    "converted": "c.converted_at",
    "last_contacted": "c.last_contacted_at",
    "closed": "c.closed_at",
    "next_follow_up": "c.next_follow_up",
}
_JSON_SETS = {"workers": "c.workers", "emails": "c.emails", "phones": "c.phones"}
_NOT_NULL = frozenset({"c.name", "c.status", "c.created_at", "c.updated_at"})
_NUMBER_KINDS = "('int', 'float', 'decimal')"
# Stored days and timestamps are ISO text starting YYYY-MM-DD (timestamps then 'T'), so
# "on or before day D" is "text < D + 'U'": every text for day D sorts below it.
_DAY_END = "U"


@attrs.frozen
class Compiled:
    """A SQL boolean expression and its bound parameters, in order."""

    sql: str
    params: tuple[SqlValue, ...]


def compile_sql(
    rule: Rule,
    dialect: Dialect = SQLITE,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> Compiled:
    """Compile a rule to a two-valued SQL expression with bound parameters.

    ``today`` fixes what relative dates mean (default: the UTC date now) and
    ``now`` where rolling windows end (default: now, or the start of ``today``).
    """
    compiler = _Compiler(dialect)
    if today is None:
        now = now or datetime.now(UTC)
        today = utc_today(now)
    bound = bind_dates(rule, today, now)
    top = bound.operands if isinstance(bound, And) else (bound,)
    # The database plans each operand of the top-level 'and' as a test of its own, which
    # an index may serve: up to FLAT_CHAIN small ones. The rest of a large rule (a long
    # chain, a 'not' the database would push into one) goes as one opaque expression.
    small = [i for i, operand in enumerate(top) if _atoms(operand) <= FLAT_CHAIN]
    separate = small[:FLAT_CHAIN]
    chosen = set(separate)
    rest = [operand for i, operand in enumerate(top) if i not in chosen]
    # A test of a related table can either drive the query (c.id IN (ids from its index))
    # or be probed per candidate row (EXISTS on its primary key). Probing wins when an
    # indexed column test narrows the candidates first; driving wins when nothing does.
    drive = not any(_narrows(top[i]) for i in separate)
    parts = [compiler.top(top[i], drive=drive) for i in separate]
    if rest:
        expression = compiler.rule(rest[0] if len(rest) == 1 else And(rest))
        parts.append(dialect.opaque.format(expression=expression))
    sql = parts[0] if len(parts) == 1 else chain("AND", parts)
    return Compiled(sql, tuple(compiler.params))


FLAT_CHAIN = 16
"""The longest 'and'/'or' chain compiled flat; a longer one nests as a balanced tree."""


def chain(op: str, parts: list[str]) -> str:
    """``parts`` joined by ``op``, in parentheses; a long chain as a balanced tree.

    SQLite parses ``a OR b OR c ...`` into a tree as deep as the chain is long
    and refuses one deeper than 1000; nested halves keep the depth near
    ``FLAT_CHAIN + log2(n)`` whatever the length. The order of the parts (and so
    of their bound parameters) is kept.
    """
    if len(parts) <= FLAT_CHAIN:
        return "(" + f" {op} ".join(parts) + ")"
    middle = len(parts) // 2
    return f"({chain(op, parts[:middle])} {op} {chain(op, parts[middle:])})"


_PLAIN_TAG = re.compile(r"[ -~]+")
_NOT_PLAIN = frozenset('"\\,[]')


def plain_tag(tag: str) -> bool:
    """Whether every JSON encoder writes ``tag`` as itself between quotes, and only as an element.

    Printable ASCII (so neither ``ensure_ascii`` nor control escapes change
    it) without a quote or a backslash (escaped in JSON text) and without
    ``,``, ``[`` or ``]``: then a quote right after ``[``, ``,`` or a space
    is never escaped, never closes a string (it would be followed by ``,``
    or ``]``), so ``"tag"`` there is a whole element.
    """
    return _PLAIN_TAG.fullmatch(tag) is not None and _NOT_PLAIN.isdisjoint(tag)


def _atoms(rule: Rule) -> int:
    """How many tests (of a field, of one value of a list) ``rule`` holds."""
    match rule:
        case SetTest(quantifier="all", values=values):
            return len(values)  # one subquery per value
        case Not(operand=operand):
            return _atoms(operand)
        case And(operands=operands) | Or(operands=operands):
            return sum(_atoms(operand) for operand in operands)
        case MatchAll():
            return 0
    return 1


def _narrows(rule: Rule) -> bool:
    """Whether a top-level test can use a customers index (status, folder)."""
    indexed = ("status", "folder")
    if isinstance(rule, InSet):
        return rule.field in indexed
    return isinstance(rule, Compare) and rule.op == "=" and rule.field in indexed


class _Compiler:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.params: list[SqlValue] = []
        self.driving = False

    def top(self, rule: Rule, *, drive: bool) -> str:
        """Compile one operand of the top-level 'and' (where a related test may drive)."""
        self.driving = drive
        try:
            return self.rule(rule)
        finally:
            self.driving = False

    def related(self, table: str, owner: str, condition: str) -> str:
        """``condition`` holds for some row of ``table`` belonging to the customer."""
        if self.driving:
            return f"c.id IN (SELECT {owner} FROM {table} WHERE {condition})"
        return f"EXISTS (SELECT 1 FROM {table} WHERE {owner} = c.id AND {condition})"

    def mark(self, value: SqlValue) -> str:
        self.params.append(value)
        return self.dialect.placeholder

    def marks(self, values: tuple[str, ...]) -> str:
        return ", ".join(self.mark(value) for value in dict.fromkeys(values))

    def contains(self, value: str, needle: str) -> str:
        return self.dialect.contains.format(value=value, needle=self.mark(fold(needle)))

    def rule(self, rule: Rule) -> str:
        match rule:
            case MatchAll():
                return "1 = 1"
            case Not(operand=operand):
                self.driving = False
                return f"NOT ({self.rule(operand)})"
            case And(operands=operands):
                self.driving = False
                return chain("AND", [self.rule(o) for o in operands])
            case Or(operands=operands):
                self.driving = False
                return chain("OR", [self.rule(o) for o in operands])
            case Compare(op="!="):
                self.driving = False
                return f"NOT ({self.rule(Compare(rule.field, '=', rule.value))})"
            case Within():
                raise TypeError("relative dates must be bound before compiling")
            case RecordTest():
                return self.record(rule)
            case Compare() | InSet() | SetTest() | Has():
                if is_custom(rule.field):
                    return self.custom(rule)
                return self.builtin(rule)
        raise TypeError(f"not a rule: {rule!r}")

    # built-in fields -------------------------------------------------------------

    def builtin(self, rule: Compare | InSet | SetTest | Has) -> str:
        field = rule.field
        if field == "tags":
            return self.tags(rule)
        if field in _JSON_SETS:
            return self.json_set(_JSON_SETS[field], rule)
        if field == "owner":
            column = self.dialect.first.format(array="c.workers")
        elif field in _TEXT_COLUMNS:
            column = _TEXT_COLUMNS[field]
        elif field in _DATE_COLUMNS:
            column = _DATE_COLUMNS[field]
        elif field == "value":
            column = "c.value_num"
        else:
            raise TypeError(f"unknown field {field!r}")
        kind = BUILTIN_FIELDS[field].kind
        storage: Storage = "text"
        if self.dialect.native_moments and field in _DATE_COLUMNS:
            storage = "date" if field == "next_follow_up" else "timestamp"
        guard = "" if column in _NOT_NULL else f"{column} IS NOT NULL AND "
        if isinstance(rule, Has):
            blank = f" AND {column} <> ''" if kind in ("text", "enum") else ""
            return f"({column} IS NOT NULL{blank})"
        if isinstance(rule, InSet):
            return f"({guard}{column} IN ({self.marks(rule.values)}))"
        if isinstance(rule, SetTest):
            raise TypeError(f"{field} is not a list field")
        return f"({guard}{self.scalar(column, rule, storage)})"

    def scalar(self, column: str, rule: Compare, storage: Storage = "text") -> str:
        """``column OP value`` for a non-NULL column value, per the kind of the value.

        ``storage`` says how the column keeps a day or a moment: ISO text, a date or a timestamp.
        """
        value, op = rule.value, rule.op
        if op == "~":
            assert isinstance(value, str)
            return self.contains(column, value)
        if isinstance(value, bool):
            return f"{column} {op} {self.mark(1.0 if value else 0.0)}"
        if isinstance(value, Decimal):
            return f"{column} {op} {self.mark(float(value))}"
        if isinstance(value, datetime):
            return self.moment(column, op, value, storage)
        if isinstance(value, date):
            return self.day(column, op, value, storage)
        assert isinstance(value, str)
        return f"{column} {op} {self.mark(value)}"

    def moment(self, column: str, op: str, moment: datetime, storage: Storage) -> str:
        """``column``'s moment compared with ``moment`` (stored as UTC ISO text, or native)."""
        if storage == "timestamp":
            return f"{column} {op} {self.mark(moment)}"
        # Stored text is UTC with microseconds, so text order is time order.
        text = moment.astimezone(UTC).isoformat(timespec="microseconds")
        return f"{column}{self.dialect.text_order} {op} {self.mark(text)}"

    def day(self, column: str, op: str, day: date, storage: Storage) -> str:
        """``column``'s (UTC) day compared with ``day``, as a range an index can serve."""
        if storage == "date":
            return f"{column} {op} {self.mark(day)}"
        start: SqlValue
        end: SqlValue
        if storage == "timestamp":
            start = datetime.combine(day, time(), UTC)
            if day == date.max:
                end = None
            else:
                end = datetime.combine(day + timedelta(days=1), time(), UTC)
        else:
            column += self.dialect.text_order
            start, end = day.isoformat(), day.isoformat() + _DAY_END
        if end is None:  # the last day there is: nothing comes after it
            bounds = {"=": ">=", "<": "<", "<=": None, ">": "never", ">=": ">="}
            chosen = bounds[op]
            if chosen is None:
                return "1 = 1"
            if chosen == "never":
                return "1 = 0"
            return f"{column} {chosen} {self.mark(start)}"
        if op == "=":
            return f"{column} >= {self.mark(start)} AND {column} < {self.mark(end)}"
        bound = {"<": ("<", start), "<=": ("<", end), ">": (">=", end), ">=": (">=", start)}
        sql_op, limit = bound[op]
        return f"{column} {sql_op} {self.mark(limit)}"

    def tags(self, rule: Compare | InSet | SetTest | Has) -> str:
        def tagged(condition: str) -> str:
            return self.related("customer_tags t", "t.customer_id", condition)

        if isinstance(rule, Has):
            return "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id)"
        if isinstance(rule, Compare) and rule.op == "~":
            assert isinstance(rule.value, str)
            return tagged(self.contains("t.tag", rule.value))
        if not isinstance(rule, SetTest):
            raise TypeError("tags take any, all, none, ~ or has")
        if rule.quantifier == "none":
            self.driving = False
        if self.dialect.tags_inline and not self.driving:
            held = [self.tag_held(v) for v in dict.fromkeys(rule.values)]
            if rule.quantifier == "all":
                return chain("AND", held)
            test = chain("OR", held)
            return test if rule.quantifier == "any" else f"NOT {test}"
        if rule.quantifier == "all":
            each = [tagged(f"t.tag = {self.mark(v)}") for v in dict.fromkeys(rule.values)]
            return chain("AND", each)
        test = tagged(f"t.tag IN ({self.marks(rule.values)})")
        return test if rule.quantifier == "any" else f"NOT {test}"

    def tag_held(self, tag: str) -> str:
        """Whether the customers row's ``tags`` JSON array holds ``tag``, read from that row alone.

        Probing ``customer_tags`` costs a table look-up per candidate row; the
        row's own JSON text is in the board's covering indexes. ``json_each`` is
        exact but slow, so a plain tag (see ``plain_tag``) is first looked for
        as text: absent means not held, and a first occurrence right after
        ``[``, ``,`` or a space starts an element equal to it. Anything else
        (an occurrence inside a longer element) falls back to ``json_each``.
        """
        source = self.dialect.elements.format(array="c.tags", alias="e")

        def exact() -> str:  # marks its parameter where it stands in the text
            return f"EXISTS (SELECT 1 FROM {source} WHERE e.value = {self.mark(tag)})"

        if not plain_tag(tag):
            return exact()
        quoted = f'"{tag}"'
        found = f"instr(c.tags, {self.mark(quoted)})"
        before = f"substr(c.tags, instr(c.tags, {self.mark(quoted)}) - 1, 1)"
        return f"(CASE WHEN {found} = 0 THEN 0 WHEN {before} IN ('[', ',', ' ') THEN 1 ELSE {exact()} END)"

    def json_set(self, array: str, rule: Compare | InSet | SetTest | Has) -> str:
        if isinstance(rule, Has):
            return f"{array} <> '[]'"
        source = self.dialect.elements.format(array=array, alias="e")

        def exists(condition: str) -> str:
            return f"EXISTS (SELECT 1 FROM {source} WHERE {condition})"

        if isinstance(rule, Compare) and rule.op == "~":
            assert isinstance(rule.value, str)
            return exists(self.contains("e.value", rule.value))
        if not isinstance(rule, SetTest):
            raise TypeError(f"{rule.field} takes any, all, none, ~ or has")
        if rule.quantifier == "all":
            each = [exists(f"e.value = {self.mark(v)}") for v in dict.fromkeys(rule.values)]
            return chain("AND", each)
        test = exists(f"e.value IN ({self.marks(rule.values)})")
        return test if rule.quantifier == "any" else f"NOT {test}"

    # custom fields ------------------------------------------------------------------

    def listed(self, value: str) -> str:
        """The condition that a custom multi-select field (joined as ``j``) holds ``value``."""
        return f" AND f.kind = 'list' AND j.value = {self.mark(value)}"

    def custom(self, rule: Compare | InSet | SetTest | Has) -> str:
        key = custom_key(rule.field)
        elements = ", " + self.dialect.elements.format(array="f.text_value", alias="j")

        def having(condition: Callable[[], str], joins: str = "") -> str:
            # Driving, the (key, text_value) and (key, num_value) indexes serve the test.
            key_mark = self.mark(key)
            where = f"f.key = {key_mark}{condition()}"
            return self.related(f"customer_fields f{joins}", "f.customer_id", where)

        if isinstance(rule, Has):
            return having(lambda: "")
        if isinstance(rule, InSet):
            values = rule.values
            return having(
                lambda: f" AND f.kind = 'text' AND f.text_value IN ({self.marks(values)})"
            )
        if isinstance(rule, SetTest):
            if rule.quantifier == "all":
                each = [
                    having(partial(self.listed, v), elements) for v in dict.fromkeys(rule.values)
                ]
                return chain("AND", each)
            values = rule.values
            if rule.quantifier == "none":
                self.driving = False
            test = having(
                lambda: f" AND f.kind = 'list' AND j.value IN ({self.marks(values)})", elements
            )
            return test if rule.quantifier == "any" else f"NOT {test}"
        value = rule.value
        if rule.op == "~":
            assert isinstance(value, str)
            needle = value
            text = having(
                lambda: f" AND f.kind = 'text' AND {self.contains('f.text_value', needle)}"
            )
            listed = having(
                lambda: f" AND f.kind = 'list' AND {self.contains('j.value', needle)}", elements
            )
            return f"({text} OR {listed})"
        compare = rule
        if isinstance(value, bool):
            kinds, column = "= 'bool'", "f.num_value"
        elif isinstance(value, Decimal):
            kinds, column = f"IN {_NUMBER_KINDS}", "f.num_value"
        elif isinstance(value, date):
            kinds, column = "IN ('date', 'datetime')", "f.text_value"
        else:
            kinds, column = "= 'text'", "f.text_value"
        return having(lambda: f" AND f.kind {kinds} AND {self.scalar(column, compare)}")

    # linked records -----------------------------------------------------------------

    def record(self, rule: RecordTest) -> str:
        """A linked-record test over ``linked_records`` (aliased ``r``)."""
        compared: tuple[str, int] | None = None
        if rule.measure in ("total", "count"):
            literal = rule.value.scaleb(4) if rule.measure == "total" else rule.value
            outcome = whole_comparison(rule.op, literal)
            if isinstance(outcome, bool):
                return "1 = 1" if outcome else "1 = 0"
            compared = outcome
        where = f"r.customer_id = c.id AND r.kind = {self.mark(rule.kind)}"
        if rule.measure == "has":
            conditions = "".join(f" AND {self.record_condition(c)}" for c in rule.where)
            return f"EXISTS (SELECT 1 FROM linked_records r WHERE {where}{conditions})"
        if rule.measure == "last":
            if rule.since is None or rule.until is None:
                raise TypeError("relative dates must be bound before compiling")
            storage: Storage = "timestamp" if self.dialect.native_moments else "text"
            low = self.day("max(r.moment)", ">=", rule.since, storage)
            high = self.day("max(r.moment)", "<=", rule.until, storage)
            return (
                f"EXISTS (SELECT 1 FROM linked_records r WHERE {where}"
                f" GROUP BY r.customer_id HAVING {low} AND {high})"
            )
        states = COUNTED_STATES.get(rule.kind)
        if states is not None:
            where += f" AND r.state IN ({self.marks(states)})"
        if rule.measure == "next":
            if rule.since is None or rule.until is None:
                raise TypeError("relative dates must be bound before compiling")
            storage = "timestamp" if self.dialect.native_moments else "text"
            low = self.day("r.moment", ">=", rule.since, storage)
            high = self.day("r.moment", "<=", rule.until, storage)
            return f"EXISTS (SELECT 1 FROM linked_records r WHERE {where} AND {low} AND {high})"
        assert compared is not None
        if rule.currency is not None:
            where += f" AND r.currency = {self.mark(rule.currency)}"
        measured = "COALESCE(SUM(r.amount_e4), 0)" if rule.measure == "total" else "count(*)"
        op, bound = compared
        return f"(SELECT {measured} FROM linked_records r WHERE {where}) {op} {self.mark(bound)}"

    def record_condition(self, condition: RecordCondition) -> str:
        """One condition on a linked record ``r``, two-valued."""
        if condition.op == "!=":
            equal = RecordCondition(condition.field, "=", condition.value)
            return f"NOT ({self.record_condition(equal)})"
        column = "r.amount_e4" if condition.field == "amount" else f"r.{condition.field}"
        if condition.field != "amount":
            assert isinstance(condition.value, str)
            return f"({column} IS NOT NULL AND {column} = {self.mark(condition.value)})"
        assert isinstance(condition.value, Decimal)
        outcome = whole_comparison(condition.op, condition.value.scaleb(4))
        if isinstance(outcome, bool):
            return f"({column} IS NOT NULL AND {'1 = 1' if outcome else '1 = 0'})"
        op, bound = outcome
        return f"({column} IS NOT NULL AND {column} {op} {self.mark(bound)})"


BIGGEST = 2**63 - 1
"""The largest whole number the stores sum amounts into (SQLite's integers are 64-bit)."""


def whole_comparison(op: str, literal: Decimal) -> tuple[str, int] | bool:
    """``N OP literal`` for every whole number N, as ``(op, whole bound)`` or as always/never.

    Sums of amounts (in 1/10000) and counts are whole numbers: ``N >= 2.5`` is
    ``N >= 3``, ``N = 2.5`` never holds. So the bound is an integer every
    database compares exactly, whatever the literal's digits.
    """
    if literal == literal.to_integral_value():
        whole, exact = int(literal), True
    else:
        exact = False
        whole = int(literal.to_integral_value(ROUND_CEILING if op in (">", ">=") else ROUND_FLOOR))
    if not exact:
        if op in ("=", "!="):
            return op == "!="
        op = ">=" if op in (">", ">=") else "<="
    if whole > BIGGEST:
        return op in ("<", "<=", "!=")
    if whole < -BIGGEST:
        return op in (">", ">=", "!=")
    return op, whole
