"""Hypothesis strategies for property tests of rules, flows and stores (yours and ours).

Install the extra: ``pip install 'pipeline-core-crm[testing]'``. Then::

    from hypothesis import given
    from pipeline_core.rules import compile_predicate, parse
    from pipeline_core.testing import DAY, Vocabulary, customers, customers_for

    HOT = parse('status = "Lead" and tags any ("VIP")')
    WORDS = Vocabulary(tags=["VIP", "Enterprise"], sources=["Website"])

    @given(customers_for(HOT, WORDS))    # about 40% match HOT, 40% miss it by one clause
    def test_hot_leads(customer): ...

    @given(customers(WORDS))             # your words mixed with the traps below
    def test_any_customer(customer): ...

The values are drawn from small pools full of traps (mixed case, quotes,
``%`` and ``_``, non-ASCII case folding, blanks, time zones whose local day
is not the UTC day) so that rules and customers actually meet, plus
arbitrary unicode text now and then. A failing example prints as
``Customer(...)`` code that runs after ``import datetime``,
``from decimal import Decimal`` and ``from pipeline_core import Customer``.
docs/testing.md shows a worked example.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pipeline_core.testing needs hypothesis: pip install 'pipeline-core-crm[testing]'"
    ) from error

from pipeline_core.testing.boundary import customers_for, matching, not_matching, plan
from pipeline_core.testing.customers import customers, field_value
from pipeline_core.testing.pools import (
    COUNTRIES,
    CURRENCIES,
    DAY,
    FIELD_KEYS,
    STATUSES,
    WORDS,
    days,
    field_values,
    moments,
    numbers,
    texts,
)
from pipeline_core.testing.rules import atoms, rules
from pipeline_core.testing.stores import stores, workspaces
from pipeline_core.testing.vocabulary import Vocabulary

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "DAY",
    "FIELD_KEYS",
    "STATUSES",
    "WORDS",
    "Vocabulary",
    "atoms",
    "customers",
    "customers_for",
    "days",
    "field_value",
    "field_values",
    "matching",
    "moments",
    "not_matching",
    "numbers",
    "plan",
    "rules",
    "stores",
    "texts",
    "workspaces",
]
