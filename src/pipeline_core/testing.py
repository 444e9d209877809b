"""Hypothesis strategies for property tests of rules, flows and stores (yours and ours).

Install the extra: ``pip install 'pipeline-core-crm[testing]'``. Then::

    from hypothesis import given
    from pipeline_core.testing import customers, rules

    @given(customers(), rules())
    def test_my_rule(customer, rule): ...

The values are drawn from small pools full of traps (mixed case, quotes,
``%`` and ``_``, non-ASCII case folding, blanks) so that rules and
customers actually meet, plus arbitrary unicode text now and then.
docs/testing.md shows a worked example.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pipeline_core.testing needs hypothesis: pip install 'pipeline-core-crm[testing]'"
    ) from error

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.domain.clock import FixedClock
from pipeline_core.rules.ast import (
    MATCH_ALL,
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
from pipeline_core.storage import Store, open_store
from pipeline_core.workspace.facade import Workspace

WORDS = (
    "Leads",
    "leads",
    "LEADS",
    "New Leads",
    "VIP",
    "vip",
    "Commercial",
    "100%",
    "a_b",
    "a%b",
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "Straße",
    "STRASSE",
    "İstanbul",
    "ǅemal",
    "ﬁle",
    "café",
    "CAFÉ",
    "ß",
    "ss",
    "SS",
    "ﬁ",
    "FI",
    "ǅ",
    "ǆ",
    "ς",
    "Σ",
    "google ads",
    "Google",
    "x",
)
"""Text that customers and rules share, so that comparisons hit and miss interestingly."""

STATUSES = ("Lead", "Prospect", "Quoted", "Customer", "Inactive")
FIELD_KEYS = ("plan", "score", "vip", "renewal", "colours", "Policy Value")
DAY = date(2026, 1, 15)
"""The day the pools of dates cluster around (and the default ``today`` of rules tests)."""

# NUL cannot travel through SQLite's JSON functions (nor be stored by PostgreSQL at all).
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=8,
)


def texts() -> st.SearchStrategy[str]:
    """Mostly words from ``WORDS`` (and pieces of them), sometimes arbitrary unicode."""
    piece = st.sampled_from(WORDS).flatmap(
        lambda w: st.tuples(st.integers(0, len(w)), st.integers(0, len(w))).map(
            lambda ab: w[min(ab) : max(ab)]
        )
    )
    return st.one_of(st.sampled_from(WORDS), piece, _TEXT)


def _nonblank() -> st.SearchStrategy[str]:
    return texts().filter(lambda t: bool(t.strip()))


def days() -> st.SearchStrategy[date]:
    """Days within a few weeks of ``DAY``."""
    return st.integers(-40, 40).map(lambda n: DAY + timedelta(days=n))


def moments() -> st.SearchStrategy[datetime]:
    """Aware timestamps near ``DAY``, in time zones from UTC-12 to UTC+14."""
    zones = st.integers(-12 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
    base = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    return st.builds(
        lambda seconds, zone: (base + timedelta(seconds=seconds)).astimezone(zone),
        st.integers(-40 * 86400, 40 * 86400),
        zones,
    )


def numbers() -> st.SearchStrategy[Decimal]:
    """Decimal amounts, some with fractions, some negative."""
    return st.one_of(
        st.sampled_from([Decimal(v) for v in ("0", "1000", "5000", "999.99", "-1", "0.1")]),
        st.decimals(-(10**6), 10**6, allow_nan=False, allow_infinity=False, places=2),
    )


def field_values() -> st.SearchStrategy[FieldValue]:
    """Custom field values of every kind: text, int, float, decimal, bool, date, datetime, list."""
    return st.one_of(
        texts(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        numbers(),
        st.booleans(),
        days(),
        moments(),
        st.lists(texts(), max_size=3).map(tuple),
    )


def customers(*, statuses: Sequence[str] = STATUSES) -> st.SearchStrategy[Customer]:
    """Customers with every rule-visible field drawn from small, trap-filled pools."""
    optional_text = st.none() | _nonblank()
    return st.builds(
        Customer,
        name=_nonblank(),
        status=st.sampled_from(tuple(statuses)),
        folder=optional_text,
        source=optional_text,
        team=optional_text,
        tags=st.lists(texts(), max_size=3),
        workers=st.lists(texts(), max_size=2),
        emails=st.lists(
            st.sampled_from(("ada@example.com", "ADA@example.com", "b_c@x.org")), max_size=2
        ),
        phones=st.lists(st.sampled_from(("+14155550100", "+442079460000")), max_size=2),
        value=st.none() | numbers(),
        outcome=st.sampled_from((None, "won", "lost")),
        created_at=moments(),
        updated_at=moments(),
        converted_at=st.none() | moments(),
        last_contacted_at=st.none() | moments(),
        closed_at=st.none() | moments(),
        lost_reason=optional_text,
        next_follow_up=st.none() | days(),
        fields=st.dictionaries(st.sampled_from(FIELD_KEYS), field_values(), max_size=3),
    )


def _literal(kind: str) -> st.SearchStrategy[Value]:
    if kind == "number":
        return numbers()
    if kind == "date":
        return st.one_of(days(), st.integers(-40, 40).map(Today))
    if kind == "bool":
        return st.booleans()
    return texts()


_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": ("=", "!=", "~"),
    "number": ("=", "!=", "<", "<=", ">", ">="),
    "date": ("=", "!=", "<", "<=", ">", ">="),
    "bool": ("=", "!="),
}


def _atom(field: str, kind: str) -> st.SearchStrategy[Rule]:
    values = st.lists(texts(), min_size=1, max_size=3).map(tuple)
    has: st.SearchStrategy[Rule] = st.just(Has(field))
    if kind == "set":
        quantifiers = st.sampled_from(("any", "all", "none"))
        return st.one_of(
            has,
            st.builds(SetTest, st.just(field), quantifiers, values),
            st.builds(Compare, st.just(field), st.just("~"), texts()),
        )
    if kind == "enum":
        choices = BUILTIN_FIELDS[field].choices
        return st.one_of(
            has,
            st.builds(
                Compare, st.just(field), st.sampled_from(("=", "!=")), st.sampled_from(choices)
            ),
            st.builds(
                InSet, st.just(field), st.lists(st.sampled_from(choices), min_size=1).map(tuple)
            ),
        )
    compare = st.builds(
        Compare, st.just(field), st.sampled_from(_OPS_BY_KIND[kind]), _literal(kind)
    )
    if kind == "text":
        return st.one_of(has, compare, st.builds(InSet, st.just(field), values))
    if kind == "date":
        within = st.builds(
            Within, st.just(field), st.integers(0, 30), st.sampled_from(("past", "next"))
        )
        return st.one_of(has, compare, within)
    return st.one_of(has, compare)


def atoms(catalog: Catalog | None = None) -> st.SearchStrategy[Rule]:
    """Single tests of one field: every built-in field, and custom fields of every kind.

    With a catalog that knows custom fields, only its keys and kinds are used.
    """
    builtin = [_atom(name, spec.kind) for name, spec in BUILTIN_FIELDS.items()]
    custom_kinds: dict[str, Any] = (
        {key: sorted(kinds) for key, kinds in catalog.custom.items()}
        if catalog is not None and catalog.custom is not None
        else {key: ["text", "number", "date", "bool", "set"] for key in FIELD_KEYS}
    )
    custom = [
        _atom(f"field.{key}", kind)
        for key, kinds in sorted(custom_kinds.items())
        for kind in kinds
        if kind != "enum"
    ]
    return st.one_of(*builtin, *custom)


def rules(catalog: Catalog | None = None, *, max_leaves: int = 6) -> st.SearchStrategy[Rule]:
    """Well-typed rules: atoms combined with not, and, or (and the odd ``true``)."""
    leaves = st.one_of(atoms(catalog), st.just(MATCH_ALL))

    def extend(children: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
        many = st.lists(children, min_size=2, max_size=3)
        return st.one_of(children.map(Not), many.map(And), many.map(Or))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def workspaces(
    url: str = "memory:", *, max_customers: int = 12, today: date = DAY
) -> st.SearchStrategy[Workspace]:
    """Open workspaces (default: in memory) holding a few customers from ``customers()``.

    The workspace's clock stands at noon UTC on ``today``; close the workspace
    when done (``with`` it). Each example needs a fresh store, so give a URL
    that opens an empty one each time: ``memory:`` or ``sqlite:///:memory:``. Customers keep their drawn status, folder, tags...
    but their timestamps are the clock's.
    """

    def build(people: list[Customer]) -> Workspace:
        clock = FixedClock(datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
        workspace = Workspace.open(url, clock=clock)
        for person in people:
            # Drawn customers may share an email or phone: that is data, not a mistake.
            workspace.customers.add(person, on_duplicate="allow")
        return workspace

    return st.lists(customers(), max_size=max_customers).map(build)


def stores(url: str = "memory:", *, max_customers: int = 12) -> st.SearchStrategy[Store]:
    """Open stores (default: in memory) holding customers exactly as ``customers()`` drew them."""

    def build(people: list[Customer]) -> Store:
        store = open_store(url)
        with store.transaction() as tx:
            for person in people:
                tx.insert_customer(person)
        return store

    return st.lists(customers(), max_size=max_customers).map(build)
