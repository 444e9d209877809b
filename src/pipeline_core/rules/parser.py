"""The rule parser: recursive descent over tokens, type-checked against a field catalog.

Precedence, loosest first: ``or``, ``and``, ``not``; parentheses group.
Nesting (parentheses and ``not``) is bounded by ``MAX_DEPTH`` so that no text,
however hostile, can exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from pipeline_core.customer import currency_codes
from pipeline_core.errors import InvalidValue, RuleSyntaxError
from pipeline_core.rules.ast import (
    MATCH_ALL,
    MOMENT_FIELDS,
    RECORD_FIELDS,
    And,
    Compare,
    Has,
    InSet,
    Not,
    Operator,
    Or,
    RecordCondition,
    RecordMeasure,
    RecordTest,
    Rule,
    SetTest,
    Today,
    Unit,
    Value,
    Within,
    is_custom,
)
from pipeline_core.rules.catalog import DEFAULT_CATALOG, Catalog, suggest
from pipeline_core.rules.lexer import KEYWORDS, Token, error_at, tokenize

MAX_DEPTH = 40
"""How deeply parentheses and ``not`` may nest."""

_COMPARISONS: dict[str, Operator] = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "~": "~",
}
_DATE_WORDS: dict[str, Operator] = {"before": "<", "after": ">", "on": "="}
_TESTS = "=, !=, <, <=, >, >=, ~, in, not in, any, all, none, within, before, after or on"
_TEST_WORDS = ("in", "not", "any", "all", "none", "within", "before", "after", "on")
_VALUE = 'a value: "text", a number, a date (YYYY-MM-DD), today, true or false'


def parse(text: str, catalog: Catalog = DEFAULT_CATALOG) -> Rule:
    """Parse and type-check rule text; ``RuleSyntaxError`` says where and why it does not."""
    if not isinstance(text, str):
        raise InvalidValue(f"a rule must be text, got {type(text).__name__}")
    parser = _Parser(text, catalog)
    try:
        return parser.rule()
    except RuleSyntaxError:
        raise
    except InvalidValue as error:
        # A node refused a value the grammar let through: report it where the parser stood.
        raise parser.fail(parser.tokens[max(parser.index - 1, 0)], str(error)) from None


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the rule"
    if token.kind == "string":
        return f"text {token.text!r}"
    return repr(token.text)


class _Parser:
    def __init__(self, text: str, catalog: Catalog) -> None:
        self.text = text
        self.catalog = catalog
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # plumbing -----------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def fail(
        self, token: Token, message: str, expected: str = "", hint: str | None = None
    ) -> RuleSyntaxError:
        found = "" if token.kind == "end" else self.text[token.start : token.end]
        return error_at(self.text, token.start, message, expected=expected, found=found, hint=hint)

    def unexpected(
        self, token: Token, expected: str, words: Iterable[str] = KEYWORDS
    ) -> RuleSyntaxError:
        hint = None
        if token.kind == "word":
            hint = suggest(token.text, words)
        return self.fail(token, f"unexpected {_describe(token)}", expected, hint)

    def expect_op(self, op: str) -> Token:
        token = self.peek()
        if not token.is_op(op):
            raise self.unexpected(token, repr(op))
        return self.advance()

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(
                token,
                f"the rule nests more than {MAX_DEPTH} levels deep",
                "a flatter rule (fewer parentheses or 'not's)",
            )

    # grammar ------------------------------------------------------------------

    def rule(self) -> Rule:
        if self.peek().kind == "end":
            raise self.fail(
                self.peek(), "the rule is empty", 'a condition such as folder = "Leads"'
            )
        result = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise self.unexpected(token, "'and', 'or' or the end of the rule", ("and", "or"))
        return result

    def disjunction(self) -> Rule:
        parts = [self.conjunction()]
        while self.peek().is_word("or"):
            self.advance()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Or(parts)

    def conjunction(self) -> Rule:
        parts = [self.negation()]
        while self.peek().is_word("and"):
            self.advance()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else And(parts)

    def negation(self) -> Rule:
        token = self.peek()
        if token.is_word("not"):
            self.advance()
            self.nest(token)
            operand = self.negation()
            self.depth -= 1
            return Not(operand)
        return self.atom()

    def atom(self) -> Rule:
        token = self.peek()
        if token.is_op("("):
            self.advance()
            self.nest(token)
            inner = self.disjunction()
            self.expect_op(")")
            self.depth -= 1
            return inner
        if token.is_word("true"):
            self.advance()
            return MATCH_ALL
        if token.is_word("false"):
            self.advance()
            return Not(MATCH_ALL)
        if token.is_word("has"):
            self.advance()
            field_token = self.peek()
            kind = self.record_word(field_token)
            if kind is not None:
                self.advance()
                return self.has_record(kind)
            return self.checked(Has(self.field()), field_token, field_token)
        if token.is_word("last", "next"):
            following = self.tokens[self.index + 1]
            kind = self.record_word(following)
            if kind is not None:
                self.advance()
                self.advance()
                return self.moment_record(kind, "next" if token.is_word("next") else "last")
        kind = self.record_word(token)
        if kind is not None and self.tokens[self.index + 1].is_op("."):
            self.advance()
            self.advance()
            return self.record_measure(kind)
        field_token = self.peek()
        field = self.field()
        return self.test(field, field_token)

    # linked records ------------------------------------------------------------

    def record_word(self, token: Token) -> str | None:
        """The record kind ``token`` names, unless it names a field."""
        if token.kind != "word" or self.catalog.canonical(token.text) is not None:
            return None
        return self.catalog.record_kind(token.text)

    def has_record(self, kind: str) -> Rule:
        if not self.peek().is_word("where"):
            return RecordTest(kind, "has")
        self.advance()
        if not self.peek().is_op("("):
            return RecordTest(kind, "has", (self.record_condition(),))
        opening = self.advance()
        self.nest(opening)
        conditions = [self.record_condition()]
        while self.peek().is_word("and"):
            self.advance()
            conditions.append(self.record_condition())
        self.expect_op(")")
        self.depth -= 1
        return RecordTest(kind, "has", tuple(conditions))

    def record_condition(self) -> RecordCondition:
        token = self.peek()
        name = token.text.lower() if token.kind == "word" else ""
        if name not in RECORD_FIELDS:
            raise self.unexpected(
                token, f"a record field: {', '.join(RECORD_FIELDS)}", RECORD_FIELDS
            )
        self.advance()
        op_token = self.peek()
        if op_token.kind != "op" or op_token.text not in _COMPARISONS:
            raise self.unexpected(op_token, "=, !=, <, <=, > or >=")
        self.advance()
        op = _COMPARISONS[op_token.text]
        if name == "amount":
            return RecordCondition("amount", op, self.number())
        value = self.peek()
        if value.kind != "string":
            raise self.unexpected(value, '"text" in quotes')
        self.advance()
        if op not in ("=", "!="):
            raise self.fail(op_token, f"a record's {name} takes = or !=", "= or !=")
        text = value.text.upper() if name == "currency" else value.text
        if name in ("state", "channel"):
            text = text.lower()
        return RecordCondition(name, op, text)

    def record_measure(self, kind: str) -> Rule:
        token = self.peek()
        if not token.is_word("total", "count"):
            raise self.unexpected(token, "'total' or 'count'", ("total", "count"))
        self.advance()
        total = token.text.lower() == "total"
        currency = self.total_currency(kind) if total else None
        op_token = self.peek()
        if op_token.kind != "op" or op_token.text not in _COMPARISONS or op_token.text == "~":
            raise self.unexpected(op_token, "=, !=, <, <=, > or >=")
        self.advance()
        value = self.number()
        operator = _COMPARISONS[op_token.text]
        if total:
            return RecordTest(kind, "total", op=operator, value=value, currency=currency)
        return RecordTest(kind, "count", op=operator, value=value)

    def total_currency(self, kind: str) -> str:
        """``in CUR`` after ``KINDs.total``: amounts of different currencies never add up."""
        token = self.peek()
        if not token.is_word("in"):
            raise self.fail(
                token,
                f"{kind}s.total adds amounts of one currency: name it",
                "'in' and a currency",
                f"{kind}s.total in EUR {token.text}".rstrip(),
            )
        self.advance()
        code = self.peek()
        if code.kind != "word" or code.text.upper() not in currency_codes():
            raise self.unexpected(code, "an ISO 4217 currency code (EUR, USD, JPY...)")
        self.advance()
        return code.text.upper()

    def moment_record(self, kind: str, measure: RecordMeasure) -> Rule:
        token = self.peek()
        if not token.is_word("within"):
            raise self.unexpected(token, "'within'", ("within",))
        self.advance()
        days = self.days()
        return RecordTest(kind, measure, days=days)

    def field(self) -> str:
        token = self.peek()
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise self.unexpected(
                token, "a field name (such as folder, tags or field.KEY), '(' or 'not'"
            )
        self.advance()
        if token.text.lower() == "field" and self.peek().is_op("."):
            self.advance()
            key = self.peek()
            if key.kind not in ("word", "string") or not key.text.strip():
                raise self.unexpected(key, "a custom field name after 'field.'")
            self.advance()
            return "field." + key.text
        canonical = self.catalog.canonical(token.text)
        if canonical is None:
            problem = self.catalog.unknown(token.text)
            raise self.fail(token, problem.message, problem.expected, problem.hint)
        return canonical

    def checked(self, node: Rule, field_token: Token, at: Token) -> Rule:
        assert isinstance(node, Compare | InSet | SetTest | Has | Within)
        problem = self.catalog.check(node)
        if problem is not None:
            unknown = self.catalog.kinds(node.field) is None
            token = field_token if unknown else at
            raise self.fail(token, problem.message, problem.expected, problem.hint)
        return node

    def test(self, field: str, field_token: Token) -> Rule:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            value = self.value(field)
            return self.checked(Compare(field, _COMPARISONS[token.text], value), field_token, token)
        if token.kind == "word":
            word = token.text.lower()
            if word in _DATE_WORDS:
                self.advance()
                value = self.value(field)
                return self.checked(Compare(field, _DATE_WORDS[word], value), field_token, token)
            if word == "in":
                self.advance()
                return self.checked(InSet(field, self.values(field)), field_token, token)
            if word == "not" and self.tokens[self.index + 1].is_word("in"):
                self.advance()
                self.advance()
                return Not(self.checked(InSet(field, self.values(field)), field_token, token))
            if word in ("any", "all", "none"):
                self.advance()
                node = SetTest(field, word, self.values(field))  # type: ignore[arg-type]
                return self.checked(node, field_token, token)
            if word == "within":
                self.advance()
                return self.checked(self.within(field), field_token, token)
        raise self.unexpected(token, _TESTS, _TEST_WORDS)

    def within(self, field: str) -> Within:
        direction = "past"
        if self.peek().is_word("next"):
            self.advance()
            direction = "next"
        count = self.whole_number()
        unit = self.peek()
        if unit.is_word("day", "days"):
            chosen: Unit = "days"
        elif unit.is_word("hour", "hours", "minute", "minutes"):
            chosen = "hours" if unit.is_word("hour", "hours") else "minutes"
            if field not in MOMENT_FIELDS:
                raise self.fail(
                    unit,
                    f"{field} holds a day, not a moment: 'within N {chosen}' cannot test it",
                    "'days'",
                )
        else:
            raise self.unexpected(unit, "'days', 'hours' or 'minutes'")
        self.advance()
        return Within(field, count, direction, chosen)  # type: ignore[arg-type]

    def days(self) -> int:
        """``N days`` (or ``1 day``): the whole number."""
        days = self.whole_number()
        unit = self.peek()
        if not unit.is_word("day", "days"):
            raise self.unexpected(unit, "'days'")
        self.advance()
        return days

    def whole_number(self) -> int:
        token = self.peek()
        if token.kind != "number" or "." in token.text:
            raise self.unexpected(token, "a whole number of days")
        self.advance()
        if len(token.text) > 6:
            raise self.fail(token, f"{token.text} days is too far", "at most 999999 days")
        return int(token.text)

    def values(self, field: str) -> tuple[str, ...]:
        self.expect_op("(")
        values: list[str] = []
        while True:
            token = self.peek()
            value = self.value(field)
            if not isinstance(value, str):
                raise self.fail(token, "lists in rules hold text only", '"text" in quotes')
            values.append(value)
            if self.peek().is_op(","):
                self.advance()
                continue
            if self.peek().is_op(")"):
                self.advance()
                return tuple(values)
            raise self.unexpected(self.peek(), "',' or ')'")

    def value(self, field: str) -> Value:
        token = self.peek()
        if token.kind == "string":
            self.advance()
            return token.text
        if token.kind == "moment":
            if field not in MOMENT_FIELDS:
                raise self.fail(
                    token,
                    f"{field} holds a day, not a moment",
                    "a date YYYY-MM-DD",
                    token.text[:10],
                )
            self.advance()
            try:
                return datetime.fromisoformat(token.text)
            except ValueError:
                raise self.fail(
                    token, f"{token.text} is not a valid moment", "YYYY-MM-DDTHH:MM+00:00"
                ) from None
        if token.kind == "date":
            self.advance()
            try:
                return date.fromisoformat(token.text)
            except ValueError:
                raise self.fail(
                    token, f"{token.text} is not a valid date", "a date YYYY-MM-DD"
                ) from None
        if token.kind == "number" or token.is_op("-"):
            return self.number()
        if token.is_word("today"):
            self.advance()
            return self.today()
        if token.is_word("true", "false"):
            self.advance()
            return token.text.lower() == "true"
        if token.kind == "word" and not is_custom(field):
            kinds = self.catalog.kinds(field) or frozenset()
            if "enum" in kinds:
                self.advance()
                return token.text.lower()
            if kinds & {"text", "set"}:
                raise self.fail(
                    token, f"unexpected {_describe(token)}", '"text" in quotes', f'"{token.text}"'
                )
        raise self.unexpected(token, _VALUE)

    def number(self) -> Decimal:
        negative = False
        if self.peek().is_op("-"):
            self.advance()
            negative = True
        token = self.peek()
        if token.kind != "number":
            raise self.unexpected(token, "a number")
        self.advance()
        value = Decimal(token.text)
        return -value if negative else value

    def today(self) -> Today:
        sign = self.peek()
        if not sign.is_op("+", "-"):
            return Today(0)
        self.advance()
        days = self.days()
        return Today(days if sign.text == "+" else -days)
