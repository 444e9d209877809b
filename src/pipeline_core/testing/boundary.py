"""Customers on both sides of a rule's boundary: ``customers_for``, ``matching``, ``not_matching``.

A property about a rule says nothing unless some drawn customers match the
rule and some miss it, ideally by one clause. Random customers rarely match
a rule of three clauses, so these strategies read the rule instead:

1. Each test of a field in the rule (an atom) reads one slot of the customer
   (an attribute, or one custom field). For every slot the rule mentions, a
   small table of candidate values is built from the rule's own constants and
   their neighbours (``5000`` gives 4999, 4999.99, 5000, 5000.01, 5001;
   ``"VIP"`` gives "VIP", "vip", "VIP!"...; a day gives the day before and after,
   at times whose local day differs from the UTC day), and each candidate is
   evaluated against each atom once.
2. For each customer, hypothesis chooses a side (match or miss) and walks the
   rule down to the atoms that decide it: every clause of an ``and`` to
   match, one clause to miss (the others matching, so the customer misses by
   one clause); the mirror for ``or``; ``not`` swaps sides.
3. Each slot takes a candidate that gives its atoms the truth values chosen;
   the rest of the customer is drawn by ``customers()`` from the vocabulary
   and the rule's words, mixed with the trap pools.

When the chosen atoms contradict each other (``tags any ("a") and tags none
("a")``) a random candidate is taken: the strategy never filters, so it never
fails a health check; ``matching`` and ``not_matching`` do filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import chain, combinations
from typing import Any

import attrs
from hypothesis import strategies as st

from pipeline_core.customer import Customer
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import (
    And,
    Atom,
    Compare,
    InSet,
    MatchAll,
    Not,
    Or,
    Rule,
    SetTest,
    custom_key,
    is_custom,
)
from pipeline_core.rules.catalog import ALIASES, BUILTIN_FIELDS
from pipeline_core.rules.dates import bind_dates
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.rules.parser import parse
from pipeline_core.rules.printer import to_text
from pipeline_core.testing.customers import Values, built, customer_values
from pipeline_core.testing.pools import COUNTRIES, CURRENCIES, DAY, PHONES, STATUSES
from pipeline_core.testing.vocabulary import Vocabulary, atoms_of

_ATTRIBUTE_OF: dict[str, str] = {
    **{name: name for name in BUILTIN_FIELDS},
    **{canonical: alias for alias, canonical in ALIASES.items() if alias.endswith("_at")},
    "owner": "workers",
}
"""The Customer attribute each built-in rule field reads (``created`` reads ``created_at``)."""

_NOT_NULL = frozenset({"name", "status", "created_at", "updated_at"})
_SETS = frozenset({"tags", "workers", "emails", "phones"})
_TIMESTAMPS = frozenset(alias for alias in ALIASES if alias.endswith("_at"))
_MAX_ELEMENTS = 6
"""Set slots try every subset of at most this many words (64 candidates)."""

# Two moments per day whose local day is not the UTC day, to catch a rule or a
# store that reads the local day.
_WEST = timezone(-timedelta(hours=5))
_EAST = timezone(timedelta(hours=5, minutes=30))


@attrs.frozen
class Slot:
    """Where an atom looks: a Customer attribute, or (``attribute == "fields"``) one custom field."""

    attribute: str
    key: str | None = None


def slot_of(field: str) -> Slot:
    """The slot a rule field reads."""
    if is_custom(field):
        return Slot("fields", custom_key(field))
    return Slot(_ATTRIBUTE_OF[field])


Wanted = tuple[Atom, bool, bool]
"""An atom, the truth it should have, and whether that decides the side (else it is
only wanted to keep the customer one clause from the boundary)."""


@attrs.frozen
class Table:
    """The candidate values of one slot (None: missing) and each atom's truth for each."""

    slot: Slot
    values: tuple[Any, ...]
    truths: dict[Atom, tuple[bool, ...]]

    def fitting(self, wanted: Sequence[tuple[Atom, bool]]) -> list[int]:
        """The candidates that give every atom its wanted truth."""
        return [
            index
            for index in range(len(self.values))
            if all(self.truths[atom][index] == truth for atom, truth in wanted)
        ]

    def choices(self, wanted: Sequence[Wanted]) -> list[int]:
        """The candidates that give every atom its wanted truth; failing that, those that
        give the deciding atoms theirs; failing that, any."""
        return (
            self.fitting([(atom, truth) for atom, truth, _ in wanted])
            or self.fitting([(atom, truth) for atom, truth, decisive in wanted if decisive])
            or list(range(len(self.values)))
        )


@attrs.frozen
class Plan:
    """A rule, bound to a day, with the tables of every slot it reads."""

    rule: Rule
    vocabulary: Vocabulary
    tables: tuple[Table, ...]
    predicates: dict[Atom, Callable[[Customer], bool]]
    values: st.SearchStrategy[Values]
    """The rest of each customer: ``customers()`` of the vocabulary and the rule's words."""

    can_be: dict[tuple[Rule, bool], bool] = attrs.field(factory=dict, eq=False)
    """Memo of ``can``."""

    def __repr__(self) -> str:
        # Hypothesis names the strategy in its errors: the rule says which one.
        return f"plan({to_text(self.rule)!r})"

    def can(self, rule: Rule, want: bool) -> bool:
        """Whether some candidates give ``rule`` the truth ``want``, each atom on its own
        (atoms sharing a slot may still contradict each other)."""
        key = (rule, want)
        if key not in self.can_be:
            self.can_be[key] = self._can(rule, want)
        return self.can_be[key]

    def _can(self, rule: Rule, want: bool) -> bool:
        match rule:
            case MatchAll():
                return want
            case Not(operand=operand):
                return self.can(operand, not want)
            case And(operands=operands) | Or(operands=operands):
                if want == isinstance(rule, And):
                    return all(self.can(operand, want) for operand in operands)
                return any(self.can(operand, want) for operand in operands)
        for table in self.tables:
            if rule in table.truths:
                return want in table.truths[rule]
        return True


def _probe(slot: Slot, value: Any) -> Customer | None:
    try:
        if slot.key is not None:
            return Customer(name="probe", fields={} if value is None else {slot.key: value})
        if slot.attribute == "name":
            return Customer(name=value)
        return Customer(name="probe", **{slot.attribute: value})
    except (InvalidValue, TypeError):
        return None


def _read(slot: Slot, customer: Customer) -> Any:
    if slot.key is not None:
        return customer.fields.get(slot.key)
    return getattr(customer, slot.attribute)


def _variants(word: str) -> list[str]:
    # Case changes (and casefold's "ß" -> "ss"), containing, contained and following text.
    return [
        word,
        word.upper(),
        word.lower(),
        word.swapcase(),
        word.casefold(),
        f"{word}!",
        f"x {word}",
        word[1:],
        word + "a",
    ]


def _numbers(number: Decimal) -> list[Decimal]:
    steps = (Decimal(0), Decimal(1), Decimal("0.01"))
    return [number + sign * step for step in steps for sign in (1, -1)]


def _neighbour_days(days: Sequence[date]) -> list[date]:
    result: list[date] = []
    for day in days:
        for offset in (0, -1, 1):
            try:
                result.append(day + timedelta(days=offset))
            except OverflowError:
                continue
    return result


def _moments(day: date) -> list[datetime]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        return [
            (midnight + timedelta(minutes=30)).astimezone(_WEST),
            (midnight + timedelta(hours=23, minutes=30)).astimezone(_EAST),
        ]
    except OverflowError:
        return [midnight]


def _subsets(elements: Sequence[str], rotate: bool) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for size in range(len(elements) + 1):
        for subset in combinations(elements, size):
            found.append(subset)
            if rotate:
                found.extend(subset[i:] + subset[:i] for i in range(1, len(subset)))
    return found


@attrs.frozen
class _Constants:
    texts: tuple[str, ...]
    numbers: tuple[Decimal, ...]
    days: tuple[date, ...]
    bools: tuple[bool, ...]


def _constants(atoms: Sequence[Atom]) -> _Constants:
    texts: list[str] = []
    numbers: list[Decimal] = []
    days: list[date] = []
    bools: list[bool] = []
    for atom in atoms:
        if isinstance(atom, InSet | SetTest):
            texts.extend(atom.values)
        elif isinstance(atom, Compare):
            value = atom.value
            if isinstance(value, bool):
                bools.append(value)
            elif isinstance(value, Decimal):
                numbers.append(value)
            elif isinstance(value, date):
                days.append(value)
            elif isinstance(value, str):
                texts.append(value)
    return _Constants(
        tuple(dict.fromkeys(texts)),
        tuple(dict.fromkeys(numbers)),
        tuple(dict.fromkeys(days)),
        tuple(dict.fromkeys(bools)),
    )


def _elements(words: Sequence[str], known: Sequence[str]) -> list[str]:
    elements = list(dict.fromkeys(word for word in words if word.strip()))[: _MAX_ELEMENTS - 1]
    other = next((word for word in known if word not in elements), "Other")
    elements.append(other)
    for word in list(elements):
        if len(elements) >= _MAX_ELEMENTS:
            break
        if word.swapcase() not in elements:
            elements.append(word.swapcase())
    return elements


def _known_words(attribute: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    return {
        "folder": vocabulary.folders,
        "source": vocabulary.sources,
        "team": vocabulary.teams,
        "lost_reason": vocabulary.lost_reasons,
        "tags": vocabulary.tags,
        "workers": vocabulary.workers,
        "country": vocabulary.countries + COUNTRIES,
        "currency": vocabulary.currencies + CURRENCIES,
        "whatsapp": PHONES,
        "phones": PHONES,
    }.get(attribute, vocabulary.words)


def _builtin_candidates(
    attribute: str, atoms: Sequence[Atom], constants: _Constants, vocabulary: Vocabulary
) -> list[Any]:
    known = _known_words(attribute, vocabulary)
    if attribute == "status":
        return [*(vocabulary.statuses or STATUSES), *constants.texts]
    if attribute == "outcome":
        return [None, "won", "lost"]
    if attribute in _SETS:
        rotate = any(atom.field == "owner" for atom in atoms)
        return _subsets(_elements(constants.texts, known), rotate)
    if attribute == "value":
        return [None, Decimal(0), *chain.from_iterable(map(_numbers, constants.numbers))]
    if attribute in _TIMESTAMPS or attribute == "next_follow_up":
        days = _neighbour_days(constants.days) or [DAY]
        if attribute == "next_follow_up":
            return [None, *days]
        moments = [moment for day in days for moment in _moments(day)]
        return moments if attribute in _NOT_NULL else [None, *moments]
    words = [variant for word in constants.texts for variant in _variants(word)]
    values = [*words, *known[:3], "Other"]
    return values if attribute in _NOT_NULL else [None, *values]


def _custom_candidates(
    kinds: Sequence[str], constants: _Constants, options: Sequence[str]
) -> list[Any]:
    found: list[Any] = [None]
    words = [variant for word in constants.texts for variant in _variants(word)]
    numbers = [n for number in constants.numbers for n in _numbers(number)] or [Decimal(1)]
    days = _neighbour_days(constants.days) or [DAY]
    for kind in kinds:
        if kind == "select" or (kind == "text" and options):
            found.extend([*options, *constants.texts])
        if kind == "text" and not options:
            # A custom text field may hold "", which is a value ("has" is true).
            found.extend([*words, "", "Other"])
        if kind in ("list", "set", "multi_select"):
            known = options or constants.texts
            found.extend(_subsets(_elements(constants.texts, known)[:4], rotate=False))
        if kind in ("number", "int"):
            found.extend(int(n) for n in numbers if n == n.to_integral_value())
        if kind in ("number", "float"):
            found.extend(float(n) for n in numbers)
        if kind == "decimal":
            found.extend(numbers)
        if kind == "date":
            found.extend(days)
        if kind == "datetime":
            found.extend(moment for day in days for moment in _moments(day))
        if kind in ("checkbox", "bool"):
            found.extend([True, False])
    return found


def _table(
    slot: Slot,
    atoms: Sequence[Atom],
    vocabulary: Vocabulary,
    predicates: dict[Atom, Callable[[Customer], bool]],
) -> Table:
    constants = _constants(atoms)
    if slot.key is None:
        raw = _builtin_candidates(slot.attribute, atoms, constants, vocabulary)
    else:
        kinds = vocabulary.fields.get(slot.key, ("text",))
        raw = _custom_candidates(kinds, constants, vocabulary.options.get(slot.key, ()))
    values: dict[tuple[str, str], Any] = {}
    probes: list[Customer] = []
    for candidate in raw:
        probe = _probe(slot, candidate)
        if probe is None:
            continue  # a value no customer can hold (a blank name, country "Straße")
        value = _read(slot, probe)
        identity = (type(value).__name__, repr(value))
        if identity not in values:
            values[identity] = value
            probes.append(probe)
    truths = {
        atom: tuple(predicates[atom](probe) for probe in probes) for atom in dict.fromkeys(atoms)
    }
    return Table(slot, tuple(values.values()), truths)


def plan(rule: Rule | str, vocabulary: Vocabulary | None = None, *, today: date = DAY) -> Plan:
    """The tables ``customers_for`` draws from (exposed to measure and to debug a strategy)."""
    given = vocabulary or Vocabulary()
    parsed = parse(rule, given.catalog()) if isinstance(rule, str) else rule
    bound = bind_dates(parsed, today)
    if not given.statuses:
        # Without the application's statuses, the rule's own are not the only ones.
        given = attrs.evolve(given, statuses=STATUSES)
    merged = given.merge(Vocabulary.of_rule(bound, today=today))
    atoms = atoms_of(bound)
    predicates = {atom: compile_predicate(atom, today=today) for atom in atoms}
    by_slot: dict[Slot, list[Atom]] = {}
    for atom in atoms:
        by_slot.setdefault(slot_of(atom.field), []).append(atom)
    tables = tuple(
        _table(slot, slot_atoms, merged, predicates) for slot, slot_atoms in by_slot.items()
    )
    return Plan(bound, merged, tables, predicates, customer_values(merged))


def _pick(draw: st.DrawFn, choices: Sequence[int]) -> int:
    # st.integers is cached by its bounds; st.sampled_from(a new list) would be
    # built and validated again for every example.
    return choices[draw(st.integers(0, len(choices) - 1))]


def _wanted(
    draw: st.DrawFn,
    plan_: Plan,
    rule: Rule,
    want: bool,
    out: list[Wanted],
    decisive: bool = True,
) -> None:
    match rule:
        case MatchAll():
            return
        case Not(operand=operand):
            _wanted(draw, plan_, operand, not want, out, decisive)
        case And(operands=operands) | Or(operands=operands):
            if want == isinstance(rule, And):
                for operand in operands:
                    _wanted(draw, plan_, operand, want, out, decisive)
                return
            # One clause decides (one that can: "has name" is never false); the
            # others take the other side, so the customer is one clause from the boundary.
            able = [i for i, operand in enumerate(operands) if plan_.can(operand, want)]
            chosen = _pick(draw, able or range(len(operands)))
            for index, operand in enumerate(operands):
                if index == chosen:
                    _wanted(draw, plan_, operand, want, out, decisive)
                else:
                    _wanted(draw, plan_, operand, not want, out, decisive=False)
        case _:
            out.append((rule, want, decisive))


def _put(values: Values, slot: Slot, value: Any) -> None:
    if slot.key is None:
        values[slot.attribute] = value
        return
    fields = dict(values.get("fields") or {})
    if value is None:
        fields.pop(slot.key, None)
    else:
        fields[slot.key] = value
    values["fields"] = fields


def _with_noise(table: Table, plan_: Plan, index: int, base: Any) -> Any:
    """The chosen set plus the base customer's (trap) elements, if that changes no atom."""
    chosen = table.values[index]
    if table.slot.attribute not in _SETS or not base:
        return chosen
    mixed = tuple(dict.fromkeys((*chosen, *base)))
    probe = _probe(table.slot, mixed)
    if probe is None:
        return chosen
    for atom, truths in table.truths.items():
        if plan_.predicates[atom](probe) != truths[index]:
            return chosen
    return mixed


@st.composite
def _boundary(draw: st.DrawFn, plan_: Plan, sides: tuple[bool | None, ...]) -> Customer:
    values = draw(plan_.values)
    side = draw(st.sampled_from(sides))
    wanted: list[Wanted] = []
    if side is not None:
        _wanted(draw, plan_, plan_.rule, side, wanted)
    by_slot: dict[Slot, list[Wanted]] = {}
    for item in wanted:
        by_slot.setdefault(slot_of(item[0].field), []).append(item)
    for table in plan_.tables:
        if not table.values:
            continue
        required = by_slot.get(table.slot)
        if required is None and draw(st.booleans()):
            continue  # this slot keeps the value customers() drew
        index = _pick(draw, table.choices(required or ()))
        base = values.get(table.slot.attribute) if table.slot.key is None else None
        _put(values, table.slot, _with_noise(table, plan_, index, base))
    return built(values)


# Hypothesis draws the first and last of a few choices more often than the others:
# with many entries and the free choice in the middle, the sides come out about
# 45% match, 45% miss, 10% free.
_SIDES: tuple[bool | None, ...] = (*((True, False) * 5), None, *((True, False) * 5))


def customers_for(
    rule: Rule | str, vocabulary: Vocabulary | None = None, *, today: date = DAY
) -> st.SearchStrategy[Customer]:
    """Customers on both sides of ``rule``'s boundary: about 40% match it, 40% miss it by
    one clause, and the rest are ``customers()`` with the rule's words in their pools.

    ``rule`` may be text (parsed against the vocabulary's custom fields).
    Relative dates (``today``, ``within``) are read as of ``today``: evaluate
    the rule with the same day (``compile_predicate(rule, today=DAY)``).
    """
    return _boundary(plan(rule, vocabulary, today=today), _SIDES)


def matching(
    rule: Rule | str, vocabulary: Vocabulary | None = None, *, today: date = DAY
) -> st.SearchStrategy[Customer]:
    """Only customers that match ``rule`` (on ``today``); a rule no customer can match fails
    hypothesis' health check."""
    plan_ = plan(rule, vocabulary, today=today)
    accepts = compile_predicate(plan_.rule, today=today)
    return _boundary(plan_, (True,)).filter(accepts)


def not_matching(
    rule: Rule | str, vocabulary: Vocabulary | None = None, *, today: date = DAY
) -> st.SearchStrategy[Customer]:
    """Only customers that do not match ``rule`` (on ``today``), most of them by one clause."""
    plan_ = plan(rule, vocabulary, today=today)
    accepts = compile_predicate(plan_.rule, today=today)
    return _boundary(plan_, (False,)).filter(lambda customer: not accepts(customer))
