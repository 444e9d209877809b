"""``customers()``: Customer records with every field a rule can see, in your words and ours."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.testing.pools import (
    COUNTRIES,
    CURRENCIES,
    EMAILS,
    FIELD_KEYS,
    ORDER_IDS,
    PHONES,
    STATUSES,
    days,
    field_values,
    known_or,
    moments,
    nonblank,
    numbers,
    text_tuples,
    texts,
)
from pipeline_core.testing.vocabulary import Vocabulary

Values = dict[str, Any]
"""The keyword arguments of one Customer."""

_PLAIN = Customer(name="defaults")
_DEFAULTS: Mapping[str, object] = {
    attribute.name: getattr(_PLAIN, attribute.name)
    for attribute in attrs.fields(Customer)
    if attribute.name != "name"
}


def built(values: Values) -> Customer:
    """The Customer of these keyword arguments, which hypothesis will print as
    ``Customer(name=..., tags=...)`` with only the values that differ from the defaults.

    Call it inside a strategy's draw.
    """
    given: dict[str, Any] = {}
    for key, value in values.items():
        value = tuple(value) if isinstance(value, list) else value
        if _DEFAULTS.get(key, ...) != value:
            given[key] = value
    customer = Customer(**given)
    # What st.builds does to print its result as a call (building the strategies
    # st.builds(Customer, name=st.just(...), ...) for every example is much slower).
    # Should a later hypothesis lack it, the example prints as the Customer's repr,
    # which runs too.
    with contextlib.suppress(AttributeError, TypeError, InvalidArgument):
        current_build_context().record_call(customer, Customer, args=[], kwargs=given)
    return customer


def _optional(*choices: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), *choices)


def optional_text(known: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    """None, one of the ``known`` words, or a nonblank trap."""
    return _optional(*([st.sampled_from(known)] if known else []), nonblank())


def _codes(known: tuple[str, ...], pool: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return _optional(*([st.sampled_from(known)] if known else []), st.sampled_from(pool))


def field_value(
    kinds: Sequence[str], options: tuple[str, ...] = (), words: tuple[str, ...] = ()
) -> st.SearchStrategy[FieldValue]:
    """Values of a custom field of these kinds (see ``Vocabulary.fields``)."""
    text = known_or(options or words, texts())
    option = st.sampled_from(options) if options else known_or(words, nonblank())
    by_kind: dict[str, st.SearchStrategy[Any]] = {
        "text": text,
        "select": option,
        "list": text_tuples(text),
        "set": text_tuples(text),
        "multi_select": text_tuples(option),
        "number": st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6)),
        "int": st.integers(-(10**6), 10**6),
        "float": st.floats(-1e6, 1e6),
        "decimal": numbers(),
        "date": days(),
        "datetime": moments(),
        "checkbox": st.booleans(),
        "bool": st.booleans(),
    }
    return st.one_of(*(by_kind[kind] for kind in kinds))


def _fields(vocabulary: Vocabulary) -> st.SearchStrategy[dict[str, FieldValue]]:
    if not vocabulary.fields:
        return st.dictionaries(st.sampled_from(FIELD_KEYS), field_values(), max_size=3)
    return st.fixed_dictionaries(
        {},
        optional={
            key: field_value(kinds, vocabulary.options.get(key, ()), vocabulary.words)
            for key, kinds in vocabulary.fields.items()
        },
    )


def customer_values(vocabulary: Vocabulary) -> st.SearchStrategy[Values]:
    """The keyword arguments of a drawn Customer: every field a rule can see (see ``customers``)."""
    v = vocabulary
    around: tuple[date, ...] = v.days
    moment = moments(around)
    return st.fixed_dictionaries(
        {
            "name": known_or(v.words, nonblank()),
            "status": st.sampled_from(v.statuses or STATUSES),
            "folder": optional_text(v.folders),
            "source": optional_text(v.sources),
            "team": optional_text(v.teams),
            "tags": st.lists(known_or(v.tags, texts()), max_size=3),
            "workers": st.lists(known_or(v.workers, texts()), max_size=2),
            "emails": st.lists(st.sampled_from(EMAILS), max_size=2),
            "phones": st.lists(st.sampled_from(PHONES), max_size=2),
            "whatsapp": _optional(st.sampled_from(PHONES)),
            "country": _codes(v.countries, COUNTRIES),
            "currency": _codes(v.currencies, CURRENCIES),
            "order_id": _optional(st.sampled_from(ORDER_IDS), known_or(v.words, nonblank())),
            "value": _optional(numbers(v.amounts)),
            "outcome": st.sampled_from((None, "won", "lost")),
            "created_at": moment,
            "updated_at": moment,
            "converted_at": _optional(moment),
            "last_contacted_at": _optional(moment),
            "closed_at": _optional(moment),
            "lost_reason": optional_text(v.lost_reasons),
            "next_follow_up": _optional(days(around)),
            "fields": _fields(v),
        }
    )


@st.composite
def _customers(draw: st.DrawFn, values: st.SearchStrategy[Values]) -> Customer:
    return built(draw(values))


def customers(
    vocabulary: Vocabulary | None = None, *, statuses: Sequence[str] | None = None
) -> st.SearchStrategy[Customer]:
    """Customers with every field a rule can see, from your ``vocabulary`` mixed with traps.

    Text fields take a word of the vocabulary about half the time and a trap
    from ``texts()`` otherwise; statuses and custom fields come only from the
    vocabulary when it names any (``statuses`` overrides its statuses).
    A failing example prints as ``Customer(...)`` code you can paste.
    """
    chosen = vocabulary or Vocabulary()
    if statuses is not None:
        chosen = attrs.evolve(chosen, statuses=tuple(statuses))
    return _customers(customer_values(chosen))
