"""``rules()`` and ``atoms()``: well-typed random rules over every field."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pipeline_core.rules.ast import (
    MATCH_ALL,
    MOMENT_FIELDS,
    And,
    Compare,
    Has,
    InSet,
    Not,
    Or,
    Rule,
    SetTest,
    Today,
    Value,
    Within,
)
from pipeline_core.rules.catalog import BUILTIN_FIELDS, Catalog
from pipeline_core.testing.pools import FIELD_KEYS, days, known_or, moments, numbers, texts
from pipeline_core.testing.vocabulary import Vocabulary

_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": ("=", "!=", "~"),
    "number": ("=", "!=", "<", "<=", ">", ">="),
    "date": ("=", "!=", "<", "<=", ">", ">="),
    "bool": ("=", "!="),
}


@st.composite
def _text_list(draw: st.DrawFn, words: st.SearchStrategy[str]) -> tuple[str, ...]:
    return tuple(draw(st.lists(words, min_size=1, max_size=3)))


def _literal(kind: str, words: st.SearchStrategy[str]) -> st.SearchStrategy[Value]:
    if kind == "number":
        return numbers()
    if kind == "date":
        return st.one_of(days(), st.builds(Today, st.integers(-40, 40)))
    if kind == "bool":
        return st.booleans()
    return words


def _atom(field: str, kind: str, words: st.SearchStrategy[str]) -> st.SearchStrategy[Rule]:
    values = _text_list(words)
    has: st.SearchStrategy[Rule] = st.just(Has(field))
    if kind == "set":
        quantifiers = st.sampled_from(("any", "all", "none"))
        return st.one_of(
            has,
            st.builds(SetTest, st.just(field), quantifiers, values),
            st.builds(Compare, st.just(field), st.just("~"), words),
        )
    if kind == "enum":
        choices = BUILTIN_FIELDS[field].choices
        return st.one_of(
            has,
            st.builds(
                Compare, st.just(field), st.sampled_from(("=", "!=")), st.sampled_from(choices)
            ),
            st.builds(InSet, st.just(field), _text_list(st.sampled_from(choices))),
        )
    compare = st.builds(
        Compare, st.just(field), st.sampled_from(_OPS_BY_KIND[kind]), _literal(kind, words)
    )
    if kind == "text":
        return st.one_of(has, compare, st.builds(InSet, st.just(field), values))
    if kind == "date":
        within = st.builds(
            Within, st.just(field), st.integers(0, 30), st.sampled_from(("past", "next"))
        )
        if field not in MOMENT_FIELDS:
            return st.one_of(has, compare, within)
        # Timestamps also meet moments and rolling windows of hours and minutes.
        at_moment = st.builds(
            Compare, st.just(field), st.sampled_from(_OPS_BY_KIND[kind]), moments()
        )
        rolling = st.builds(
            Within,
            st.just(field),
            st.integers(0, 72),
            st.sampled_from(("past", "next")),
            st.sampled_from(("hours", "minutes")),
        )
        return st.one_of(has, compare, within, at_moment, rolling)
    return st.one_of(has, compare)


def atoms(
    catalog: Catalog | None = None, *, vocabulary: Vocabulary | None = None
) -> st.SearchStrategy[Rule]:
    """Single tests of one field: every built-in field, and custom fields of every kind.

    With a catalog that knows custom fields, only its keys and kinds are used
    (a vocabulary naming fields gives its own catalog); text compared with is
    the vocabulary's words half the time, traps otherwise.
    """
    if catalog is None and vocabulary is not None and vocabulary.fields:
        catalog = vocabulary.catalog()
    v = vocabulary or Vocabulary()

    def words(field: str) -> st.SearchStrategy[str]:
        # The words filed under the field (a tags test names tags), else all of them.
        filed = (
            {
                "status": v.statuses,
                "tags": v.tags,
                "folder": v.folders,
                "source": v.sources,
                "team": v.teams,
                "owner": v.workers,
                "workers": v.workers,
                "country": v.countries,
                "currency": v.currencies,
                "lost_reason": v.lost_reasons,
            }.get(field)
            or v.options.get(field.removeprefix("field."))
            or v.all_words()
        )
        return known_or(filed, texts())

    builtin = [_atom(name, spec.kind, words(name)) for name, spec in BUILTIN_FIELDS.items()]
    custom_kinds: dict[str, Any] = (
        {key: sorted(kinds) for key, kinds in catalog.custom.items()}
        if catalog is not None and catalog.custom is not None
        else {key: ["text", "number", "date", "bool", "set"] for key in FIELD_KEYS}
    )
    custom = [
        _atom(f"field.{key}", kind, words(f"field.{key}"))
        for key, kinds in sorted(custom_kinds.items())
        for kind in kinds
        if kind != "enum"
    ]
    return st.one_of(*builtin, *custom)


def rules(
    catalog: Catalog | None = None, *, max_leaves: int = 6, vocabulary: Vocabulary | None = None
) -> st.SearchStrategy[Rule]:
    """Well-typed rules: atoms combined with not, and, or (and the odd ``true``)."""
    leaves = st.one_of(atoms(catalog, vocabulary=vocabulary), st.just(MATCH_ALL))

    def extend(children: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
        many = st.lists(children, min_size=2, max_size=3)
        return st.one_of(children.map(Not), many.map(And), many.map(Or))

    return st.recursive(leaves, extend, max_leaves=max_leaves)
