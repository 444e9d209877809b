"""The 360-degree view of a customer and its family tree: read models built from the store."""

from __future__ import annotations

from datetime import datetime

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import Task
from pipeline_core.domain.events import Event
from pipeline_core.domain.records import ProfileRecords


@attrs.frozen(kw_only=True)
class CustomerTree:
    """A customer and its sub-customers, recursively."""

    customer: Customer
    children: tuple[CustomerTree, ...] = ()

    def walk(self, depth: int = 0) -> list[tuple[int, Customer]]:
        """Every customer of the tree with its depth, parents before children."""
        found = [(depth, self.customer)]
        for child in self.children:
            found.extend(child.walk(depth + 1))
        return found


@attrs.frozen(kw_only=True)
class TimeSummary:
    """Working time added up: in total, per worker and per customer."""

    total_minutes: int
    by_worker: dict[str, int]
    by_customer: dict[int, int]


@attrs.frozen(kw_only=True)
class CustomerView:
    """Everything about one customer at a glance (``pipeline customers show``)."""

    customer: Customer
    parent: Customer | None
    children: tuple[Customer, ...]
    open_tasks: tuple[Task, ...]
    overdue_tasks: tuple[int, ...]
    follow_up_due_at: datetime | None
    time: TimeSummary
    recent_events: tuple[Event, ...]
    event_count: int
    records: ProfileRecords = attrs.Factory(ProfileRecords)


@attrs.frozen(kw_only=True)
class ListedCustomer:
    """A customer in a list, with its badge: events since the reader last opened it."""

    customer: Customer
    new_activity: int
