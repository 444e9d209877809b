"""The in-memory store: the reference backend, every other one must behave exactly like it."""

from __future__ import annotations

import copy
import itertools
import statistics
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from pipeline_core.customer import Customer, RowEncoder, trusted_replace
from pipeline_core.domain.access import User
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicate_settings import normalize_options
from pipeline_core.domain.events import Event, EventKind, JSONValue, with_id
from pipeline_core.domain.flows import FlowDefinition, FlowEvent, FlowHide
from pipeline_core.domain.normalize import ContactKey, index_keys
from pipeline_core.domain.outbox import Delivery, DeliveryState, Notification
from pipeline_core.domain.records import (
    LinkedRecord,
    ProfileParts,
    check_same_key,
    profile_parts,
    record_order,
)
from pipeline_core.domain.report_keys import (
    AggregateRow,
    GroupKey,
    StageTime,
    field_label,
    merge_rows,
)
from pipeline_core.domain.search import SearchQuery, score, search_terms
from pipeline_core.domain.serialization import typed_field_value
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import ConcurrencyError, InvalidValue, MergedMeanwhile, NotFound
from pipeline_core.rules.ast import MATCH_ALL, MatchAll, Rule, uses_records
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.storage.protocol import NewCustomer, Order
from pipeline_core.storage.sql.common import STATUS_ATTRIBUTES, field_rows


def _itself(customer: Customer) -> tuple[Customer]:
    """The memory store's ``row_encoder``: it keeps customers as they are."""
    return (customer,)


def _key_values(customer: Customer, key: GroupKey) -> list[str | None]:
    """A customer's raw group values for one key (several for tags, like the SQL join)."""
    if key.kind == "tag":
        return list(customer.tags) or [None]
    if key.kind == "field":
        if key.field not in customer.fields:
            return [None]
        [(_, _, kind, text, number)] = field_rows(
            customer.id, {key.field: customer.fields[key.field]}
        )
        return [field_label(kind, text, number)]
    if key.kind == "created_month":
        return [customer.created_at.astimezone(UTC).strftime("%Y-%m")]
    value: str | None = getattr(customer, key.kind)
    return [value]


@attrs.define
class _State:
    customers: dict[int, Customer] = attrs.Factory(dict)
    events: list[Event] = attrs.Factory(list)
    machines: dict[str, StatusMachine] = attrs.Factory(dict)
    flows: dict[str, FlowDefinition] = attrs.Factory(dict)
    hidden: dict[str, set[int]] = attrs.Factory(dict)
    # Who hid a card and when, by (flow, customer); values are immutable.
    hides: dict[tuple[str, int], FlowHide] = attrs.Factory(dict)
    flow_events: list[FlowEvent] = attrs.Factory(list)
    next_customer_id: int = 1
    settings: dict[str, JSONValue] = attrs.Factory(dict)
    tasks: dict[int, Task] = attrs.Factory(dict)
    time_entries: dict[int, TimeEntry] = attrs.Factory(dict)
    # The contact-key index: values are immutable so that a shallow copy is a snapshot.
    keys: dict[int, tuple[ContactKey, ...]] = attrs.Factory(dict)
    index: dict[ContactKey, frozenset[int]] = attrs.Factory(dict)
    merged: dict[int, int] = attrs.Factory(dict)
    users: dict[str, User] = attrs.Factory(dict)
    teams: set[str] = attrs.Factory(set)
    fired: dict[str, datetime] = attrs.Factory(dict)
    deliveries: dict[int, Delivery] = attrs.Factory(dict)
    notifications: dict[int, Notification] = attrs.Factory(dict)
    records: dict[int, LinkedRecord] = attrs.Factory(dict)
    seen: dict[tuple[str, int], int] = attrs.Factory(dict)

    def copy(self) -> _State:
        return _State(
            customers=dict(self.customers),
            events=list(self.events),
            machines=dict(self.machines),
            flows=dict(self.flows),
            hidden={flow: set(ids) for flow, ids in self.hidden.items()},
            hides=dict(self.hides),
            flow_events=list(self.flow_events),
            next_customer_id=self.next_customer_id,
            settings=dict(self.settings),
            tasks=dict(self.tasks),
            time_entries=dict(self.time_entries),
            keys=dict(self.keys),
            index=dict(self.index),
            merged=dict(self.merged),
            users=dict(self.users),
            teams=set(self.teams),
            fired=dict(self.fired),
            deliveries=dict(self.deliveries),
            notifications=dict(self.notifications),
            records=dict(self.records),
            seen=dict(self.seen),
        )


class MemoryTransaction:
    """A transaction over a private copy of the state, swapped in on commit."""

    def __init__(self, state: _State) -> None:
        self._state = state
        self._written = False

    @property
    def _w(self) -> _State:
        # Copy on first write: readers pay nothing, a rollback just drops the copy.
        if not self._written:
            self._state = self._state.copy()
            self._written = True
        return self._state

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        found = self._state.customers.get(customer_id)
        if found is None or not self._predicate(scope)(found):
            raise NotFound(f"no customer with id {customer_id}")
        return found

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        # Transactions already hold the store's lock; a tombstone is never changed again.
        found = self.get_customer(customer_id, scope=scope)
        if customer_id in self._state.merged:
            raise MergedMeanwhile(customer_id, self._state.merged[customer_id])
        return found

    def insert_customer(self, customer: Customer) -> Customer:
        state = self._w
        stored = attrs.evolve(customer, id=state.next_customer_id, version=1)
        state.customers[stored.id] = stored
        state.next_customer_id += 1
        self._index(stored)
        return stored

    def insert_customers(self, customers: Sequence[NewCustomer]) -> list[int]:
        # The memory store is the reference: bulk is exactly one insert after another
        # (the keys are indexed again, with the store's options, as insert_customer does).
        return [self.insert_customer(new.rows[0]).id for new in customers]

    def row_encoder(self) -> RowEncoder:
        return _itself

    def prepare_bulk_load(self, rows: int) -> None:
        pass  # nothing between the import and the dicts to tune

    def update_customer(self, customer: Customer) -> Customer:
        stored = self._replace(customer)
        self._index(stored)
        return stored

    def update_status(self, customer: Customer, changes: Mapping[str, Any]) -> Customer:
        # A move changes no contact: the duplicate index stays as it is.
        unknown = set(changes).difference(STATUS_ATTRIBUTES)
        if unknown:
            raise KeyError(f"not a status attribute: {', '.join(sorted(unknown))}")
        return self._replace(trusted_replace(customer, **changes))

    def _replace(self, customer: Customer) -> Customer:
        """Store ``customer`` over the stored one at its version; the checks of an update."""
        current = self.get_customer(customer.id)
        if customer.id in self._state.merged:
            raise MergedMeanwhile(customer.id, self._state.merged[customer.id])
        if current.version != customer.version:
            raise ConcurrencyError(customer.id, customer.version, current.version)
        stored = attrs.evolve(customer, version=customer.version + 1)
        self._w.customers[stored.id] = stored
        return stored

    def _index(self, customer: Customer) -> None:
        options = normalize_options(self._state.settings.get(DUPLICATES_KEY))
        self._unindex(customer.id)
        state = self._w
        keys = index_keys(customer, options)
        state.keys[customer.id] = keys
        for key in keys:
            state.index[key] = state.index.get(key, frozenset()) | {customer.id}

    def _unindex(self, customer_id: int) -> None:
        state = self._w
        for key in state.keys.pop(customer_id, ()):
            remaining = state.index[key] - {customer_id}
            if remaining:
                state.index[key] = remaining
            else:
                del state.index[key]

    def _live(self) -> Iterator[Customer]:
        """Every customer but the tombstones of merges, which leave every list."""
        merged = self._state.merged
        return (c for c in self._state.customers.values() if c.id not in merged)

    def _predicate(self, rule: Rule) -> Callable[[Customer], bool]:
        """``rule`` in Python, reading linked records from this state if it tests them."""
        if isinstance(rule, MatchAll):
            return lambda customer: True
        if not uses_records(rule):
            return compile_predicate(rule)
        by_customer: dict[int, list[LinkedRecord]] = {}
        for record in self._state.records.values():
            by_customer.setdefault(record.customer_id, []).append(record)
        return compile_predicate(rule, records=lambda c: by_customer.get(c.id, []))

    def _members(self, rule: Rule, hidden_from: str | None) -> Iterator[Customer]:
        predicate = self._predicate(rule)
        hidden = self._state.hidden.get(hidden_from, set()) if hidden_from else set()
        for customer in self._live():
            if customer.id not in hidden and predicate(customer):
                yield customer

    def find_customers(
        self,
        rule: Rule,
        *,
        hidden_from: str | None = None,
        order: Order = "id",
        limit: int | None = None,
        offset: int = 0,
        after_id: int = 0,
    ) -> list[Customer]:
        found = [c for c in self._members(rule, hidden_from) if c.id > after_id]
        if order == "activity":
            found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        else:
            found.sort(key=lambda c: c.id)
        end = None if limit is None else offset + limit
        return found[offset:end]

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        return sum(1 for _ in self._members(rule, hidden_from))

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for customer in self._members(rule, hidden_from):
            counts[customer.status] = counts.get(customer.status, 0) + 1
        return counts

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        rows = []
        for customer in self._members(rule, hidden_from):
            valued = customer.value is not None
            total = customer.value if customer.value is not None else Decimal(0)
            for combination in itertools.product(*(_key_values(customer, k) for k in keys)):
                rows.append(AggregateRow(tuple(combination), 1, int(valued), total))
        return merge_rows(rows)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        members = {customer.id for customer in self._members(rule, hidden_from)}
        marks: dict[int, list[tuple[datetime, str]]] = {}
        for event in self._state.events:
            if event.customer_id not in members:
                continue
            if event.kind == EventKind.CREATED:
                entered = event.data.get("status")
            elif event.kind == EventKind.STATUS_CHANGED:
                entered = event.data.get("to")
            else:
                continue
            if isinstance(entered, str):
                marks.setdefault(event.customer_id, []).append((event.at, entered))
        stays: dict[str, list[float]] = {}
        for entries in marks.values():
            ends = [at for at, _ in entries[1:]] + [now]
            for (start, status), end in zip(entries, ends, strict=True):
                stays.setdefault(status, []).append((end - start).total_seconds())
        return {
            status: StageTime(len(seconds), statistics.median(seconds))
            for status, seconds in stays.items()
        }

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        kinds: dict[str, set[str]] = {}
        for customer in self._state.customers.values():
            for key, value in customer.fields.items():
                kinds.setdefault(key, set()).add(typed_field_value(value)[0])
        return {key: frozenset(found) for key, found in kinds.items()}

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        state = self._w
        for event in events:
            self.get_customer(event.customer_id)
        first = len(state.events) + 1
        stored = [with_id(event, n) for n, event in enumerate(events, start=first)]
        state.events.extend(stored)
        return stored

    def events(self, customer_id: int) -> list[Event]:
        return [event for event in self._state.events if event.customer_id == customer_id]

    def latest_events(self, customer_id: int, limit: int) -> tuple[list[Event], int]:
        every = self.events(customer_id)
        return (every[-limit:] if limit > 0 else []), len(every)

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        return self._state.machines.get(name)

    def put_status_machine(self, machine: StatusMachine) -> None:
        self._w.machines[machine.name] = machine

    def get_flow(self, name: str) -> FlowDefinition:
        try:
            return self._state.flows[name]
        except KeyError:
            raise NotFound(f"no flow called {name!r}") from None

    def list_flows(self) -> list[FlowDefinition]:
        return [self._state.flows[name] for name in sorted(self._state.flows)]

    def put_flow(self, flow: FlowDefinition) -> None:
        self._w.flows[flow.name] = flow

    def delete_flow(self, name: str) -> None:
        self.get_flow(name)
        state = self._w
        del state.flows[name]
        state.hidden.pop(name, None)
        state.hides = {key: hide for key, hide in state.hides.items() if key[0] != name}
        state.flow_events = [e for e in state.flow_events if e.flow != name]

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        self.get_flow(flow)
        self.get_customer(customer_id)
        ids = self._state.hidden.get(flow, set())
        if (customer_id in ids) == hidden:
            return False
        ids = self._w.hidden.setdefault(flow, set())
        if hidden:
            ids.add(customer_id)
        else:
            ids.discard(customer_id)
            self._w.hides.pop((flow, customer_id), None)
        return True

    def rename_flow(self, name: str, flow: FlowDefinition) -> None:
        self.get_flow(name)
        state = self._w
        if flow.name != name and flow.name in state.flows:
            raise InvalidValue(f"a flow called {flow.name!r} already exists")
        del state.flows[name]
        state.flows[flow.name] = flow
        if name in state.hidden:
            state.hidden[flow.name] = state.hidden.pop(name)
        state.hides = {
            (flow.name if key[0] == name else key[0], key[1]): (
                attrs.evolve(hide, flow=flow.name) if key[0] == name else hide
            )
            for key, hide in state.hides.items()
        }
        state.flow_events = [
            attrs.evolve(e, flow=flow.name) if e.flow == name else e for e in state.flow_events
        ]

    def hide_from_flow(self, flow: str, customer_id: int, by: str, at: datetime) -> bool:
        if not self.set_hidden(flow, customer_id, True):
            return False
        self._w.hides[(flow, customer_id)] = FlowHide(flow, customer_id, by, at)
        return True

    def flow_hides(self, flow: str) -> list[FlowHide]:
        return [
            self._state.hides.get((flow, customer_id), FlowHide(flow, customer_id))
            for customer_id in self.hidden_customers(flow)
        ]

    def append_flow_event(self, event: FlowEvent) -> FlowEvent:
        self.get_flow(event.flow)
        state = self._w
        stored = attrs.evolve(event, id=len(state.flow_events) + 1)
        state.flow_events.append(stored)
        return stored

    def flow_events(self, flow: str) -> list[FlowEvent]:
        self.get_flow(flow)
        return [e for e in self._state.flow_events if e.flow == flow]

    def hidden_customers(self, flow: str) -> list[int]:
        self.get_flow(flow)
        return sorted(self._state.hidden.get(flow, set()))

    def get_setting(self, key: str) -> JSONValue | None:
        # Deep copies: a caller mutating what it got must not change the store.
        return copy.deepcopy(self._state.settings.get(key))

    def put_setting(self, key: str, value: JSONValue) -> None:
        self._w.settings[key] = copy.deepcopy(value)

    # the customer's life --------------------------------------------------------

    def _sorted(self, keep: Iterator[Customer], scope: Rule) -> list[Customer]:
        visible = self._predicate(scope)
        return sorted((c for c in keep if visible(c)), key=lambda c: c.id)

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        customers = self._live()
        return self._sorted((c for c in customers if c.parent_id == parent_id), scope)

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        customers = self._live()
        return self._sorted((c for c in customers if worker in c.workers), scope)

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        customers = self._live()
        return self._sorted((c for c in customers if key in c.fields), scope)

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        visible = self._predicate(scope)
        due = [
            c
            for c in self._live()
            if c.next_follow_up is not None and c.next_follow_up <= last_day and visible(c)
        ]
        return sorted(due, key=lambda c: (c.next_follow_up or last_day, c.id))

    def insert_task(self, task: Task) -> Task:
        self.get_customer(task.customer_id)
        state = self._w
        stored = attrs.evolve(task, id=max(state.tasks, default=0) + 1)
        state.tasks[stored.id] = stored
        return stored

    def get_task(self, task_id: int) -> Task:
        try:
            return self._state.tasks[task_id]
        except KeyError:
            raise NotFound(f"no task with id {task_id}") from None

    def update_task(self, task: Task) -> Task:
        self.get_task(task.id)
        self._w.tasks[task.id] = task
        return task

    def find_tasks(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
        scope: Rule = MATCH_ALL,
    ) -> list[Task]:
        visible = self._visible_ids(scope)
        found = [
            task
            for task in self._state.tasks.values()
            if (customer_id is None or task.customer_id == customer_id)
            and (worker is None or task.worker == worker)
            and not (open_only and task.done)
            and (visible is None or task.customer_id in visible)
        ]
        return sorted(found, key=lambda t: (t.due is None, t.due or date.min, t.id))

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        self.get_customer(entry.customer_id)
        state = self._w
        stored = attrs.evolve(entry, id=max(state.time_entries, default=0) + 1)
        state.time_entries[stored.id] = stored
        return stored

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        visible = self._visible_ids(scope)
        found = [
            entry
            for entry in self._state.time_entries.values()
            if (customer_id is None or entry.customer_id == customer_id)
            and (worker is None or entry.worker == worker)
            and (visible is None or entry.customer_id in visible)
        ]
        return sorted(found, key=lambda e: (e.at, e.id))

    # contact keys and merges ------------------------------------------------------

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        found = [
            (key, customer_id)
            for key in dict.fromkeys(keys)
            for customer_id in self._state.index.get(key, ())
        ]
        return sorted(found, key=lambda pair: (pair[1], pair[0].kind, pair[0].key))

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        return list(self._state.keys.get(customer_id, ()))

    def rebuild_contact_keys(self) -> None:
        state = self._w
        state.keys.clear()
        state.index.clear()
        for customer in list(self._live()):
            self._index(customer)

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        visible = self._visible_ids(scope)
        groups = []
        for key, ids in self._state.index.items():
            held = sorted(ids if visible is None else ids & visible)
            if len(held) > 1:
                groups.append((key, tuple(held)))
        return sorted(groups)

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        customers = self._state.customers
        visible = self._predicate(scope)
        return [
            customers[i]
            for i in sorted(set(customer_ids))
            if i in customers and visible(customers[i])
        ]

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        self.get_customer(to_id)
        state = self._w
        moved: dict[str, list[int]] = {"events": [], "tasks": [], "time_entries": []}
        for position, event in enumerate(state.events):
            if event.customer_id == from_id:
                state.events[position] = attrs.evolve(event, customer_id=to_id)
                moved["events"].append(event.id)
        for task in sorted(state.tasks.values(), key=lambda t: t.id):
            if task.customer_id == from_id:
                state.tasks[task.id] = attrs.evolve(task, customer_id=to_id)
                moved["tasks"].append(task.id)
        for entry in sorted(state.time_entries.values(), key=lambda e: e.id):
            if entry.customer_id == from_id:
                state.time_entries[entry.id] = attrs.evolve(entry, customer_id=to_id)
                moved["time_entries"].append(entry.id)
        return moved

    def hidden_flows(self, customer_id: int) -> list[str]:
        return sorted(flow for flow, ids in self._state.hidden.items() if customer_id in ids)

    def mark_merged(self, customer_id: int, into: int) -> None:
        self.get_customer(customer_id)
        self.get_customer(into)
        merged = self._state.merged
        if into == customer_id:
            raise InvalidValue(f"cannot merge customer {customer_id} into itself")
        if into in merged:
            raise InvalidValue(
                f"cannot merge into customer {into}: it was merged into {merged[into]}"
            )
        if customer_id in merged:
            raise MergedMeanwhile(customer_id, merged[customer_id])
        state = self._w
        self._unindex(customer_id)
        for tombstone, target in list(state.merged.items()):
            if target == customer_id:
                state.merged[tombstone] = into
        state.merged[customer_id] = into

    def merged_into(self, customer_id: int) -> int | None:
        self.get_customer(customer_id)
        return self._state.merged.get(customer_id)

    def _visible_ids(self, scope: Rule) -> set[int] | None:
        if isinstance(scope, MatchAll):
            return None
        return {c.id for c in self._members(scope, None)}

    # access and search ------------------------------------------------------------

    def get_user(self, name: str) -> User:
        try:
            return self._state.users[name]
        except KeyError:
            raise NotFound(f"no user called {name!r}") from None

    def list_users(self) -> list[User]:
        return [self._state.users[name] for name in sorted(self._state.users)]

    def put_user(self, user: User) -> None:
        missing = sorted(set(user.teams) - self._state.teams)
        if missing:
            raise NotFound(f"no team called {missing[0]!r}")
        self._w.users[user.name] = user

    def list_teams(self) -> list[str]:
        return sorted(self._state.teams)

    def add_team(self, name: str) -> bool:
        if name in self._state.teams:
            return False
        self._w.teams.add(name)
        return True

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        scored = []
        for customer in self._members(rule, None):
            points = score(search_terms(customer), query)
            if points is not None:
                scored.append((-points, customer.id, customer))
        scored.sort(key=lambda item: item[:2])
        return [customer for _, _, customer in scored[:limit]]

    # the outbox ----------------------------------------------------------------------

    def mark_fired(self, keys: Sequence[str], at: datetime) -> list[str]:
        new = [key for key in dict.fromkeys(keys) if key not in self._state.fired]
        if new:
            self._w.fired.update(dict.fromkeys(new, at))
        return new

    def insert_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        stored = []
        for delivery in deliveries:
            state = self._w
            new = attrs.evolve(delivery, id=max(state.deliveries, default=0) + 1)
            state.deliveries[new.id] = new
            stored.append(new)
        return stored

    def claim_deliveries(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        due = sorted(
            (
                d
                for d in self._state.deliveries.values()
                if d.state == "pending"
                and d.next_attempt_at <= now
                and (d.lease_until is None or d.lease_until <= now)
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        claimed = [attrs.evolve(d, lease_until=lease_until) for d in due]
        if claimed:
            self._w.deliveries.update((d.id, d) for d in claimed)
        return claimed

    def get_delivery(self, delivery_id: int) -> Delivery:
        found = self._state.deliveries.get(delivery_id)
        if found is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        return found

    def finish_delivery(self, delivery: Delivery, *, claimed: datetime | None) -> bool:
        found = self._state.deliveries.get(delivery.id)
        if found is None or found.lease_until != claimed:
            return False
        self._w.deliveries[delivery.id] = attrs.evolve(
            found,
            state=delivery.state,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            lease_until=delivery.lease_until,
        )
        return True

    def list_deliveries(
        self, *, state: DeliveryState | None = None, limit: int | None = None
    ) -> list[Delivery]:
        found = [
            d
            for _, d in sorted(self._state.deliveries.items(), reverse=True)
            if state is None or d.state == state
        ]
        return found if limit is None else found[:limit]

    def insert_notifications(self, notifications: Sequence[Notification]) -> list[Notification]:
        stored = []
        for notification in notifications:
            state = self._w
            new = attrs.evolve(notification, id=max(state.notifications, default=0) + 1)
            state.notifications[new.id] = new
            stored.append(new)
        return stored

    def list_notifications(
        self, recipients: Sequence[str] | None, *, unread_only: bool = False
    ) -> list[Notification]:
        return [
            n
            for _, n in sorted(self._state.notifications.items(), reverse=True)
            if (recipients is None or n.recipient in recipients)
            and not (unread_only and n.read_at is not None)
        ]

    def mark_read(
        self, ids: Sequence[int], recipients: Sequence[str] | None, at: datetime
    ) -> list[int]:
        changed = [
            n.id for n in self.list_notifications(recipients, unread_only=True) if n.id in set(ids)
        ]
        for notification_id in changed:
            self._w.notifications[notification_id] = attrs.evolve(
                self._state.notifications[notification_id], read_at=at
            )
        return sorted(changed)

    # linked records and new activity ------------------------------------------------

    def insert_records(self, records: Sequence[LinkedRecord]) -> list[LinkedRecord]:
        for customer_id in sorted({r.customer_id for r in records}):
            self.get_customer(customer_id)
        held = {(r.customer_id, r.kind, r.ref): r.id for r in self._state.records.values()}
        stored = []
        next_id = max(self._state.records, default=0) + 1
        for record in records:
            key = (record.customer_id, record.kind, record.ref)
            if key in held:
                raise InvalidValue(
                    f"customer {record.customer_id} already holds {record.kind} {record.ref!r}"
                    f" (record {held[key]})"
                )
            held[key] = next_id
            stored.append(attrs.evolve(record, id=next_id))
            next_id += 1
        state = self._w
        state.records.update((r.id, r) for r in stored)
        return stored

    def update_record(self, record: LinkedRecord) -> LinkedRecord:
        check_same_key(self.get_record(record.id), record)
        self._w.records[record.id] = record
        return record

    def get_record(self, record_id: int, *, scope: Rule = MATCH_ALL) -> LinkedRecord:
        found = self._state.records.get(record_id)
        visible = self._visible_ids(scope)
        if found is None or (visible is not None and found.customer_id not in visible):
            raise NotFound(f"no linked record with id {record_id}")
        return found

    def records_by_ref(self, kind: str, refs: Sequence[str]) -> list[LinkedRecord]:
        wanted = set(refs)
        return sorted(
            (r for r in self._state.records.values() if r.kind == kind and r.ref in wanted),
            key=lambda r: r.id,
        )

    def find_records(
        self,
        *,
        customer_id: int | None = None,
        kinds: Sequence[str] = (),
        states: Sequence[str] = (),
        scope: Rule = MATCH_ALL,
    ) -> list[LinkedRecord]:
        visible = self._visible_ids(scope)
        found = [
            r
            for r in self._state.records.values()
            if (customer_id is None or r.customer_id == customer_id)
            and (not kinds or r.kind in kinds)
            and (not states or r.state in states)
            and (visible is None or r.customer_id in visible)
        ]
        return sorted(found, key=record_order)

    def record_profile(self, customer_id: int) -> ProfileParts:
        return profile_parts(self.find_records(customer_id=customer_id))

    def move_records(self, from_id: int, to_id: int) -> tuple[list[int], list[tuple[int, int]]]:
        self.get_customer(to_id)
        held = {
            (r.kind, r.ref): r.id for r in self._state.records.values() if r.customer_id == to_id
        }
        moved: list[int] = []
        conflicts: list[tuple[int, int]] = []
        for record in sorted(self._state.records.values(), key=lambda r: r.id):
            if record.customer_id != from_id:
                continue
            kept = held.get((record.kind, record.ref))
            if kept is None:
                self._w.records[record.id] = attrs.evolve(record, customer_id=to_id)
                moved.append(record.id)
            else:
                conflicts.append((kept, record.id))
        return moved, conflicts

    def mark_seen(self, user: str, customer_id: int, event_id: int) -> None:
        key = (user, customer_id)
        if event_id > self._state.seen.get(key, 0):
            self._w.seen[key] = event_id

    def new_activity(self, user: str, customer_ids: Sequence[int]) -> dict[int, int]:
        wanted = set(customer_ids)
        counts: dict[int, int] = {}
        for event in self._state.events:
            if (
                event.customer_id in wanted
                and event.actor != user
                and event.id > self._state.seen.get((user, event.customer_id), 0)
            ):
                counts[event.customer_id] = counts.get(event.customer_id, 0) + 1
        return counts


class MemoryStore:
    """A store that lives in this process only. URL: ``memory:``."""

    def __init__(self, url: str = "memory:") -> None:
        self.url = url
        self._state = _State()
        self._lock = threading.RLock()
        self._committed = threading.Condition()
        self._commits = 0

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        """Serialize units of work; commit by swapping in the transaction's copy."""
        with self._lock:
            tx = MemoryTransaction(self._state)
            yield tx
            if tx._written:
                self._state = tx._state
                with self._committed:
                    self._commits += 1
                    self._committed.notify_all()

    def changes(self, *, poll: float = 0.25) -> Generator[int, None, None]:
        """Yield 0 now, then a number after each transaction that wrote (woken, not polled)."""
        seen = self._commits
        count = 0
        yield count
        while True:
            with self._committed:
                if self._commits == seen:  # woken by a commit, or the poll's end
                    self._committed.wait(timeout=poll)
                now = self._commits
            if now != seen:
                seen = now
                count += 1
                yield count

    def close(self) -> None:
        """Nothing to release."""


def open_memory_store(url: str, *, create: bool = True) -> MemoryStore:
    """Open a fresh, empty memory store (``memory:``).

    A memory store is always new: there is no existing one to find, so ``create``
    changes nothing.
    """
    return MemoryStore(url)
