"""The words of the application under test: its statuses, tags, folders, custom fields...

A rule written for a real workspace names "Enterprise" or ``field.renewal``;
customers drawn only from the library's trap pools never carry them, so
properties about such rules pass without ever being exercised. A
``Vocabulary`` tells the strategies those words; they mix them with the traps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

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
from pipeline_core.rules.catalog import KINDS, STORED_KIND_FAMILY, Catalog, value_kinds
from pipeline_core.rules.dates import bind_dates
from pipeline_core.testing.pools import DAY

if TYPE_CHECKING:
    from pipeline_core.workspace.facade import Workspace

FIELD_KINDS: tuple[str, ...] = tuple(
    dict.fromkeys([*STORED_KIND_FAMILY, *(kind for kind in KINDS if kind != "enum")])
)
"""The kinds a custom field may be given: the types of field definitions (``text``,
``number``, ``decimal``, ``date``, ``datetime``, ``checkbox``, ``select``,
``multi_select``), the stored kinds (``int``, ``float``, ``bool``, ``list``) and the
rule kinds (``set``)."""


def _words(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        raise InvalidValue(f"a vocabulary takes a list of words, not the text {values!r}")
    seen: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            raise InvalidValue(f"a vocabulary's words must be text, got {value!r}")
        if value.strip() and "\x00" not in value:
            seen.setdefault(value.strip(), None)
    return tuple(seen)


def _code(attribute: str, code: str) -> str | None:
    """The code as a customer holds it; None if a customer refuses it.

    The Customer's own converter says what a valid code is, so that a
    vocabulary agrees with the customers it describes.
    """
    values: dict[str, Any] = {attribute: code}
    try:
        return str(getattr(Customer(name="check", **values), attribute))
    except InvalidValue:
        return None


def _checked_codes(attribute: str, values: Iterable[str]) -> tuple[str, ...]:
    codes: dict[str, None] = {}
    for word in _words(values):
        code = _code(attribute, word)
        if code is None:
            raise InvalidValue(
                f"a vocabulary's {attribute} {word!r} is not a code a customer takes"
            )
        codes.setdefault(code, None)
    return tuple(codes)


def _countries(values: Iterable[str]) -> tuple[str, ...]:
    return _checked_codes("country", values)


def _currencies(values: Iterable[str]) -> tuple[str, ...]:
    return _checked_codes("currency", values)


def _kinds(values: Mapping[str, str | Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for key, kinds in values.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidValue(f"custom field keys must be non-blank text, got {key!r}")
        listed = _words([kinds] if isinstance(kinds, str) else kinds)
        for kind in listed:
            if kind not in FIELD_KINDS:
                raise InvalidValue(
                    f"custom field {key!r}: unknown kind {kind!r}; kinds: {', '.join(FIELD_KINDS)}"
                )
        if not listed:
            raise InvalidValue(f"custom field {key!r} needs at least one kind")
        result[key.strip()] = listed
    return result


def _options(values: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return {key.strip(): _words(options) for key, options in values.items()}


def _amounts(values: Iterable[Decimal | int | str]) -> tuple[Decimal, ...]:
    return tuple(dict.fromkeys(Decimal(value) for value in values))


def _dates(values: Iterable[date]) -> tuple[date, ...]:
    return tuple(dict.fromkeys(values))


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


@attrs.frozen(kw_only=True)
class Vocabulary:
    """The words of your application, for ``customers()``, ``customers_for()`` and ``rules()``.

    Every attribute is optional. ``fields`` maps each custom field key to its
    kind (or kinds): a field definition's type (``text``, ``number``,
    ``decimal``, ``date``, ``datetime``, ``checkbox``, ``select``,
    ``multi_select``) or a stored kind (``int``, ``float``, ``bool``,
    ``list``); ``options`` gives the values of text and select fields.
    ``words`` are other text your data holds (names, order ids); ``amounts``
    deal values; ``days`` dates your rules care about.

    Statuses and custom field keys, when given, are the only ones drawn (a
    workspace refuses others); everything else is mixed with the trap pools.
    """

    statuses: tuple[str, ...] = attrs.field(default=(), converter=_words)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_words)
    folders: tuple[str, ...] = attrs.field(default=(), converter=_words)
    sources: tuple[str, ...] = attrs.field(default=(), converter=_words)
    teams: tuple[str, ...] = attrs.field(default=(), converter=_words)
    workers: tuple[str, ...] = attrs.field(default=(), converter=_words)
    countries: tuple[str, ...] = attrs.field(default=(), converter=_countries)
    currencies: tuple[str, ...] = attrs.field(default=(), converter=_currencies)
    lost_reasons: tuple[str, ...] = attrs.field(default=(), converter=_words)
    fields: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_kinds)
    options: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_options)
    words: tuple[str, ...] = attrs.field(default=(), converter=_words)
    amounts: tuple[Decimal, ...] = attrs.field(default=(), converter=_amounts)
    days: tuple[date, ...] = attrs.field(default=(), converter=_dates)

    def merge(self, other: Vocabulary) -> Vocabulary:
        """Both vocabularies' words; for a field both name, this one's kinds."""
        options = dict(other.options)
        for key, values in self.options.items():
            options[key] = _union(values, options.get(key, ()))
        return Vocabulary(
            statuses=_union(self.statuses, other.statuses),
            tags=_union(self.tags, other.tags),
            folders=_union(self.folders, other.folders),
            sources=_union(self.sources, other.sources),
            teams=_union(self.teams, other.teams),
            workers=_union(self.workers, other.workers),
            countries=_union(self.countries, other.countries),
            currencies=_union(self.currencies, other.currencies),
            lost_reasons=_union(self.lost_reasons, other.lost_reasons),
            fields={**other.fields, **self.fields},
            options=options,
            words=_union(self.words, other.words),
            amounts=tuple(dict.fromkeys(self.amounts + other.amounts)),
            days=tuple(dict.fromkeys(self.days + other.days)),
        )

    def catalog(self) -> Catalog:
        """A rule catalog that knows exactly these custom fields (all fields if none are named)."""
        return Catalog(custom=dict(self.fields) if self.fields else None)

    def all_words(self) -> tuple[str, ...]:
        """Every word of the vocabulary, for text a rule compares with."""
        return tuple(
            dict.fromkeys(
                [
                    *self.statuses,
                    *self.tags,
                    *self.folders,
                    *self.sources,
                    *self.teams,
                    *self.workers,
                    *self.lost_reasons,
                    *(option for values in self.options.values() for option in values),
                    *self.words,
                ]
            )
        )

    @classmethod
    def of_rule(cls, rule: Rule, *, today: date = DAY) -> Vocabulary:
        """The words a rule mentions, filed under the fields it mentions them for.

        Relative dates are read as of ``today``. Codes a customer could never
        hold (``country = "Straße"``) are left out.
        """
        found: dict[str, list[str]] = {}
        fields: dict[str, list[str]] = {}
        options: dict[str, list[str]] = {}
        amounts: list[Decimal] = []
        days: list[date] = []
        for atom in atoms_of(bind_dates(rule, today)):
            if isinstance(atom, InSet | SetTest):
                texts: tuple[object, ...] = atom.values
            elif isinstance(atom, Compare):
                texts = (atom.value,)
                if isinstance(atom.value, Decimal):
                    amounts.append(atom.value)
                elif isinstance(atom.value, date):
                    days.append(atom.value)
            else:
                texts = ()
            words = [text for text in texts if isinstance(text, str)]
            if is_custom(atom.field):
                key = custom_key(atom.field)
                fields.setdefault(key, []).extend(_inferred_kinds(atom))
                options.setdefault(key, []).extend(words)
            elif atom.field != "outcome" and not (isinstance(atom, Compare) and atom.op == "~"):
                # A contains-needle is a piece of a word, not a word of its own.
                found.setdefault(_FILED_UNDER.get(atom.field, "words"), []).extend(words)
        countries = [_code("country", word) for word in found.get("countries", ())]
        currencies = [_code("currency", word) for word in found.get("currencies", ())]
        return cls(
            statuses=found.get("statuses", ()),
            tags=found.get("tags", ()),
            folders=found.get("folders", ()),
            sources=found.get("sources", ()),
            teams=found.get("teams", ()),
            workers=found.get("workers", ()),
            countries=[code for code in countries if code is not None],
            currencies=[code for code in currencies if code is not None],
            lost_reasons=found.get("lost_reasons", ()),
            fields={key: kinds for key, kinds in fields.items()},
            options={key: values for key, values in options.items() if values},
            words=found.get("words", ()),
            amounts=amounts,
            days=days,
        )

    @classmethod
    def from_workspace(cls, workspace: Workspace) -> Vocabulary:
        """What a workspace defines: statuses (of every folder's machine), folders, teams,
        lost reasons, and custom fields with their types and options.

        Tags, sources and workers are free text that no definition lists: add
        yours with ``merge``.
        """
        folders = workspace.folders.list()
        machines = [workspace.statuses.show(), *(f.machine for f in folders if f.machine)]
        definitions = workspace.fields.list()
        return cls(
            statuses=[status.name for machine in machines for status in machine.statuses],
            folders=[folder.name for folder in folders],
            teams=workspace.teams.list(),
            lost_reasons=workspace.settings.show().lost_reasons,
            fields={definition.key: definition.type for definition in definitions},
            options={d.key: d.options for d in definitions if d.options},
        )


_FILED_UNDER = {
    "status": "statuses",
    "tags": "tags",
    "folder": "folders",
    "source": "sources",
    "team": "teams",
    "owner": "workers",
    "workers": "workers",
    "country": "countries",
    "currency": "currencies",
    "lost_reason": "lost_reasons",
}


_STORED_KINDS: dict[str, tuple[str, ...]] = {
    "number": ("int", "float", "decimal"),
    "date": ("date", "datetime"),
    "bool": ("bool",),
}
"""The kinds of stored value a literal of each rule kind tells apart."""


def _inferred_kinds(atom: Atom) -> tuple[str, ...]:
    """The kinds of custom field value an atom can tell apart."""
    if isinstance(atom, SetTest):
        return ("list",)
    if isinstance(atom, Compare):
        kinds = _STORED_KINDS.get(value_kinds(atom.value)[0])
        if kinds is not None:
            return kinds
        return ("text", "list") if atom.op == "~" else ("text",)
    return ("text",)


def atoms_of(rule: Rule) -> list[Atom]:
    """The tests of single fields in a rule, in order (repeats kept)."""
    match rule:
        case MatchAll():
            return []
        case Not(operand=operand):
            return atoms_of(operand)
        case And(operands=operands) | Or(operands=operands):
            return [atom for operand in operands for atom in atoms_of(operand)]
    return [rule]
