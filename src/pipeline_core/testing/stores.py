"""``workspaces()`` and ``stores()``: open stores holding drawn customers.

The workspace and storage layers are imported when one of these strategies
is first used, so that ``import pipeline_core.testing`` stays light for
property tests of rules alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pipeline_core.customer import Customer
from pipeline_core.testing.customers import customers
from pipeline_core.testing.pools import DAY
from pipeline_core.testing.vocabulary import Vocabulary

if TYPE_CHECKING:
    from pipeline_core.storage import Store
    from pipeline_core.workspace.facade import Workspace


def workspaces(
    url: str = "memory:",
    *,
    max_customers: int = 12,
    today: date = DAY,
    vocabulary: Vocabulary | None = None,
) -> st.SearchStrategy[Workspace]:
    """Open workspaces (default: in memory) holding a few customers from ``customers()``.

    The workspace's clock stands at noon UTC on ``today``; close the workspace
    when done (``with`` it). Each example needs a fresh store, so give a URL
    that opens an empty one each time: ``memory:`` or ``sqlite:///:memory:``.
    Customers keep their drawn status, folder, tags... but their timestamps
    are the clock's. A vocabulary's statuses must be the workspace's.
    """

    def build(people: list[Customer]) -> Workspace:
        from pipeline_core.domain.clock import FixedClock
        from pipeline_core.workspace.facade import Workspace

        clock = FixedClock(datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
        workspace = Workspace.open(url, clock=clock)
        for person in people:
            # Drawn customers may share an email or phone: that is data, not a mistake.
            workspace.customers.add(person, on_duplicate="allow")
        return workspace

    return st.lists(customers(vocabulary), max_size=max_customers).map(build)


def stores(
    url: str = "memory:", *, max_customers: int = 12, vocabulary: Vocabulary | None = None
) -> st.SearchStrategy[Store]:
    """Open stores (default: in memory) holding customers exactly as ``customers()`` drew them."""

    def build(people: list[Customer]) -> Store:
        from pipeline_core.storage import open_store

        store = open_store(url)
        with store.transaction() as tx:
            for person in people:
                tx.insert_customer(person)
        return store

    return st.lists(customers(vocabulary), max_size=max_customers).map(build)
