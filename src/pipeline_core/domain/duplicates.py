"""Duplicates: the policies on a match, clusters of customers sharing a contact key
(transitively, by union-find), and what a merge did."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Literal

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.collector import PAUSED
from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.normalize import ContactKey
from pipeline_core.errors import InvalidValue


@attrs.frozen
class DuplicateCluster:
    """Customers linked by shared keys; ``customers`` is filled only when asked for."""

    customer_ids: tuple[int, ...]
    keys: tuple[ContactKey, ...]
    customers: tuple[Customer, ...] = ()


def collector_paused() -> AbstractContextManager[None]:
    """Pause the cyclic garbage collector while building many small objects at once.

    Clustering a million-customer store creates hundreds of thousands of tuples,
    none of them cyclic; the collector would walk the growing heap again and
    again (a third of the run time). Reference counting still frees everything.
    Held, not set (``domain.collector``): concurrent scans share one pause.
    """
    return PAUSED.held()


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


DuplicatePolicy = Literal["block", "allow", "merge", "update"]
"""What adding a customer does when it matches others: refuse, add anyway, merge, update."""

POLICIES: tuple[DuplicatePolicy, ...] = ("block", "allow", "merge", "update")


@attrs.frozen
class MergeResult:
    """What a merge did (or, with ``dry_run``, would do).

    ``customer`` is the primary as it is (would be) stored; ``merged`` the ids that
    became tombstones; ``details`` the data of the ``merged`` event: what came from
    which record. A dry run does the merge and rolls it back, so it shows exactly this.
    """

    customer: Customer
    merged: tuple[int, ...]
    details: dict[str, JSONValue]
    dry_run: bool = False


def check_policy(policy: str) -> DuplicatePolicy:
    """A policy name checked against the known ones."""
    for known in POLICIES:
        if policy == known:
            return known
    raise InvalidValue(f"on_duplicate must be one of {', '.join(POLICIES)}, not {policy!r}")
