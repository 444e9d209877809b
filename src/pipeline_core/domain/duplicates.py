"""Duplicate clusters: customers that share any contact key, transitively (union-find)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.normalize import ContactKey


@attrs.frozen
class DuplicateCluster:
    """Customers linked by shared keys; ``customers`` is filled only when asked for."""

    customer_ids: tuple[int, ...]
    keys: tuple[ContactKey, ...]
    customers: tuple[Customer, ...] = ()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects at once.

    Clustering a million-customer store creates hundreds of thousands of tuples,
    none of them cyclic; the collector would walk the growing heap again and
    again (a third of the run time). Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def clusters(groups: Iterable[tuple[ContactKey, tuple[int, ...]]]) -> list[DuplicateCluster]:
    """Join key groups (a key and the customers holding it) into clusters, smallest id first.

    Linear in the size of the groups: each group unions its members, so A-B by
    phone and B-C by email give one cluster {A, B, C} without comparing pairs.
    Each cluster lists its keys in the order of ``groups`` (the stores give key order).
    """
    parent: dict[int, int] = {}

    def root(item: int) -> int:
        top = item
        while parent[top] != top:
            top = parent[top]
        while parent[item] != top:  # path compression keeps later look-ups flat
            parent[item], item = top, parent[item]
        return top

    shared: list[tuple[ContactKey, int]] = []
    for key, ids in groups:
        first = ids[0]
        top = root(first) if first in parent else parent.setdefault(first, first)
        for other in ids[1:]:
            other_top = root(other) if other in parent else parent.setdefault(other, other)
            if other_top != top:
                # The smaller id is the root, so a cluster's root is its smallest member.
                low, high = (top, other_top) if top < other_top else (other_top, top)
                parent[high] = low
                top = low
        shared.append((key, first))
    members: dict[int, list[int]] = {}
    keys: dict[int, list[ContactKey]] = {}
    for item in parent:
        members.setdefault(root(item), []).append(item)
    for key, first in shared:
        keys.setdefault(root(first), []).append(key)
    return [
        DuplicateCluster(customer_ids=tuple(sorted(members[top])), keys=tuple(keys[top]))
        for top in sorted(members)
    ]
