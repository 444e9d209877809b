"""Reading many customers page by page, a session per page: flat memory for exports and lists.

Shared by exports (``bulk``), ``ws.customers.iter`` and the linked-records export.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_core.customer import Customer
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.workspace.permissions import shown_all
from pipeline_core.workspace.rules import RuleLike, bound
from pipeline_core.workspace.session import SessionOpener

EXPORT_PAGE = 1000
"""Customers read per session by an export or ``iterate``."""


def iterate(
    opener: SessionOpener,
    where: RuleLike = MATCH_ALL,
    *,
    page: int = EXPORT_PAGE,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[Customer]:
    """Customers satisfying ``where``, oldest first, read ``page`` at a time: flat memory.

    The rule is checked now (a bad one raises here, not at the first customer);
    each page is then read by id in a session of its own, as an export reads, so
    customers added while it runs may appear and ones merged away may not. ``limit``
    and ``offset`` are ``list``'s.
    """
    if page < 1:
        raise InvalidValue(f"a page holds at least one customer, not {page}")
    with opener.session() as s:
        rule = bound(s, where)
    return (customer for chunk in pages(opener, rule, page, limit, offset) for customer in chunk)


def pages(
    opener: SessionOpener,
    rule: Rule,
    page: int,
    limit: int | None = None,
    offset: int = 0,
) -> Iterator[list[Customer]]:
    """Pages of the customers satisfying ``rule`` (as the actor may see them), by id."""
    after, left = 0, limit
    while left is None or left > 0:
        size = page if left is None else min(page, left)
        with opener.session() as s:
            # The offset skips the first customers once; later pages start after an id.
            found = s.find_customers(rule, limit=size, offset=offset, after_id=after)
            shown = shown_all(s, found)  # contact data masked for agents
        if not found:
            return
        yield shown
        after, offset = found[-1].id, 0
        if left is not None:
            left -= len(found)
        if len(found) < size:
            return
