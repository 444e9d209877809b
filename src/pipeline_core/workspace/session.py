"""The Session: one use case, one store transaction, seen by one actor.

A Session is what every use case function receives. It is a full, typed
``Transaction``: reads of customers (and of what hangs on them: events, tasks,
time entries, children) are limited to the actor's scope inside the store; the
rest is passed to the store's transaction as it is. It also knows who is acting
(``principal``, ``actor``), the clock, and keeps the events appended to it (the
outbox) so that the facade can publish them after commit.

Only the facade (``Workspace``) opens sessions; a session belongs to one
thread and one use case, and nothing about it lives on the shared workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import attrs

from pipeline_core.customer import Customer, RowEncoder
from pipeline_core.domain.access import Principal, User
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.clock import Clock
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.flows import FlowDefinition, FlowEvent, FlowEventKind, FlowHide
from pipeline_core.domain.normalize import ContactKey
from pipeline_core.domain.outbox import Delivery, DeliveryState, Notification
from pipeline_core.domain.records import LinkedRecord, ProfileParts
from pipeline_core.domain.report_keys import AggregateRow, GroupKey, StageTime
from pipeline_core.domain.search import SearchQuery
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import MergedMeanwhile, NotFound
from pipeline_core.rules.ast import MATCH_ALL, Rule, all_of
from pipeline_core.storage import Order, Transaction
from pipeline_core.storage.protocol import NewCustomer
from pipeline_core.workspace.dedupe import resolve

FOLLOWED_MERGES = 10
"""How many merges, each committed while it waited, ``Session.lock_customer`` follows at most."""

P = ParamSpec("P")
T = TypeVar("T")


class Session(Transaction):
    """One store transaction seen by one actor: the argument of every use case.

    ``principal`` is the acting user (role and teams as stored in this very
    transaction) or the system; ``actor`` is the name events record (a user, the
    system, or ``automation:NAME``); ``scope`` is the visibility rule composed
    into every customer read; ``unscoped`` is the raw transaction, for checks
    that must see everything; ``outbox`` the events appended so far; and
    ``automations`` the names of the automations whose run this session is part
    of (so that an automation's own changes never trigger it again).
    """

    def __init__(
        self,
        tx: Transaction,
        *,
        principal: Principal,
        actor: str,
        scope: Rule,
        clock: Clock,
        automations: tuple[str, ...] = (),
    ) -> None:
        self.unscoped = tx
        self.principal = principal
        self.actor = actor
        self.scope = scope
        self.clock = clock
        self.automations = automations
        self.outbox: list[Event] = []
        self._live: dict[int, int] = {}

    # the actor and the clock ------------------------------------------------------

    def now(self) -> datetime:
        """The session's clock reading (aware, UTC)."""
        return self.clock.now()

    def event(self, customer_id: int, kind: EventKind, **data: JSONValue) -> Event:
        """An event of the customer, now, by this session's actor (not yet appended)."""
        return self.event_at(customer_id, kind, self.clock.now(), data)

    def event_at(
        self, customer_id: int, kind: EventKind, at: datetime, data: Mapping[str, JSONValue]
    ) -> Event:
        """``event`` at a moment the caller read once (a move's, an import batch's)."""
        return Event(customer_id=customer_id, kind=kind, at=at, actor=self.actor, data=data)

    def record(self, customer_id: int, kind: EventKind, **data: JSONValue) -> Event:
        """Append one event of the customer by this session's actor; the stored event."""
        return self.append_events([self.event(customer_id, kind, **data)])[0]

    # merged ids --------------------------------------------------------------------

    def _resolved(self, customer_id: int) -> int:
        # A merged customer's old id leads to its primary, for reads and for anything
        # attached to it; remembered, so that a use case pays the look-up once per id.
        if customer_id not in self._live:
            self._live[customer_id] = resolve(self.unscoped, customer_id)
        return self._live[customer_id]

    # customers: scoped reads ---------------------------------------------------------

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        """The customer (a merged id leads to its primary), if the actor may see it."""
        resolved = self._resolved(customer_id)
        return self.unscoped.get_customer(resolved, scope=all_of(self.scope, scope))

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        """``get_customer``, locking the row against other writers until commit.

        When another writer merged the customer while this one waited for the lock,
        the old id is followed to its primary, which is locked instead: a change
        made after a merge lands on the survivor, as it would have a moment later.
        """
        # The common call names no scope of its own: the actor's is the rule.
        rule = self.scope if scope is MATCH_ALL else all_of(self.scope, scope)
        for _ in range(FOLLOWED_MERGES):
            # Most ids are live: lock first and look for a merge only when the lock
            # refuses (one statement a lock instead of two on PostgreSQL).
            resolved = self._live.get(customer_id, customer_id)
            try:
                found = self.unscoped.lock_customer(resolved, scope=rule)
            except MergedMeanwhile:
                self._live.clear()  # what this session resolved before is stale now
            except NotFound:
                # A tombstone outside the actor's scope reads as missing; its primary
                # may still be one the actor sees.
                if customer_id in self._live or self._resolved(customer_id) == customer_id:
                    raise
                continue
            else:
                self._live[customer_id] = resolved
                return found
            self._resolved(customer_id)
        return self.unscoped.lock_customer(self._resolved(customer_id), scope=rule)

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        """The customers with those ids that the actor may see."""
        return self.unscoped.get_customers(customer_ids, scope=all_of(self.scope, scope))

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
        """Customers satisfying ``rule`` within the actor's scope."""
        return self.unscoped.find_customers(
            all_of(self.scope, rule),
            hidden_from=hidden_from,
            order=order,
            limit=limit,
            offset=offset,
            after_id=after_id,
        )

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        """How many customers within the actor's scope satisfy ``rule``."""
        return self.unscoped.count_customers(all_of(self.scope, rule), hidden_from=hidden_from)

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        """Counts per status of the customers within scope satisfying ``rule``."""
        return self.unscoped.count_by_status(all_of(self.scope, rule), hidden_from=hidden_from)

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        """Search within the actor's scope."""
        return self.unscoped.search_customers(query, all_of(self.scope, rule), limit=limit)

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        """Grouped figures of the customers within scope."""
        return self.unscoped.aggregate(all_of(self.scope, rule), keys, hidden_from=hidden_from)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        """Time in stage per status, of the customers within scope."""
        return self.unscoped.stage_times(all_of(self.scope, rule), now, hidden_from=hidden_from)

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The visible direct sub-customers of ``parent_id``."""
        return self.unscoped.children(parent_id, scope=all_of(self.scope, scope))

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The visible customers ``worker`` is assigned to."""
        return self.unscoped.customers_of_worker(worker, scope=all_of(self.scope, scope))

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The visible customers holding a value for custom field ``key``."""
        return self.unscoped.customers_with_field(key, scope=all_of(self.scope, scope))

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The visible customers with a follow-up due on or before ``last_day``."""
        return self.unscoped.follow_ups_until(last_day, scope=all_of(self.scope, scope))

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        """Contact keys held by several visible customers."""
        return self.unscoped.duplicate_groups(scope=all_of(self.scope, scope))

    # what hangs on a customer: through a visible customer only -----------------------

    def events(self, customer_id: int) -> list[Event]:
        """The timeline of a visible customer."""
        return self.unscoped.events(self.get_customer(customer_id).id)

    def latest_events(self, customer_id: int, limit: int) -> tuple[list[Event], int]:
        """The last ``limit`` events of a visible customer, oldest first, and their number."""
        return self.unscoped.latest_events(self.get_customer(customer_id).id, limit)

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        """Store events (a merged id's events go to its primary) and keep them to publish.

        The stored events, with their ids, in order; the outbox keeps the same.
        """
        resolved = [
            e
            if self._resolved(e.customer_id) == e.customer_id
            else attrs.evolve(e, customer_id=self._resolved(e.customer_id))
            for e in events
        ]
        stored = self.unscoped.append_events(resolved)
        self.outbox.extend(stored)
        return stored

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        """Hide or show a visible customer on a flow's board."""
        self.unscoped.get_flow(flow)  # an unknown flow is named before an unknown customer
        return self.unscoped.set_hidden(flow, self.get_customer(customer_id).id, hidden)

    def get_task(self, task_id: int) -> Task:
        """A task of a visible customer."""
        task = self.unscoped.get_task(task_id)
        try:
            self.get_customer(task.customer_id)
        except NotFound:
            raise NotFound(f"no task with id {task_id}") from None
        return task

    def update_task(self, task: Task) -> Task:
        """Store a changed task of a visible customer."""
        self.get_task(task.id)
        return self.unscoped.update_task(task)

    def insert_task(self, task: Task) -> Task:
        """Store a new task on a visible customer (locked: a concurrent merge waits)."""
        owner = self.lock_customer(task.customer_id)
        return self.unscoped.insert_task(attrs.evolve(task, customer_id=owner.id))

    def find_tasks(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
        scope: Rule = MATCH_ALL,
    ) -> list[Task]:
        """Tasks of visible customers (a merged customer's id: its primary's)."""
        return self.unscoped.find_tasks(
            customer_id=None if customer_id is None else self._resolved(customer_id),
            worker=worker,
            open_only=open_only,
            scope=all_of(self.scope, scope),
        )

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        """Store working time on a visible customer (locked: a concurrent merge waits)."""
        owner = self.lock_customer(entry.customer_id)
        return self.unscoped.insert_time_entry(attrs.evolve(entry, customer_id=owner.id))

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        """Time entries of visible customers (a merged customer's id: its primary's)."""
        return self.unscoped.time_entries(
            customer_id=None if customer_id is None else self._resolved(customer_id),
            worker=worker,
            scope=all_of(self.scope, scope),
        )

    # linked records: through a visible customer only ------------------------------------

    def insert_records(self, records: Sequence[LinkedRecord]) -> list[LinkedRecord]:
        """Store new records on visible customers (locked: a concurrent merge waits)."""
        owners = {i: self.lock_customer(i).id for i in {r.customer_id for r in records}}
        return self.unscoped.insert_records(
            [
                r if owners[r.customer_id] == r.customer_id
                else attrs.evolve(r, customer_id=owners[r.customer_id])
                for r in records
            ]
        )  # fmt: skip

    def update_record(self, record: LinkedRecord) -> LinkedRecord:
        """Store a changed record of a visible customer."""
        self.get_record(record.id)
        return self.unscoped.update_record(record)

    def get_record(self, record_id: int, *, scope: Rule = MATCH_ALL) -> LinkedRecord:
        """A record of a visible customer."""
        return self.unscoped.get_record(record_id, scope=all_of(self.scope, scope))

    def records_by_ref(self, kind: str, refs: Sequence[str]) -> list[LinkedRecord]:
        """Records of any customer by reference (writers match upserts with it)."""
        return self.unscoped.records_by_ref(kind, refs)

    def find_records(
        self,
        *,
        customer_id: int | None = None,
        kinds: Sequence[str] = (),
        states: Sequence[str] = (),
        scope: Rule = MATCH_ALL,
    ) -> list[LinkedRecord]:
        """Records of visible customers (a merged customer's id: its primary's)."""
        return self.unscoped.find_records(
            customer_id=None if customer_id is None else self._resolved(customer_id),
            kinds=kinds,
            states=states,
            scope=all_of(self.scope, scope),
        )

    def record_profile(self, customer_id: int) -> ProfileParts:
        """What a visible customer's profile shows of its records (``NotFound`` if hidden)."""
        return self.unscoped.record_profile(self.get_customer(customer_id).id)

    def move_records(self, from_id: int, to_id: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Move one customer's records to another (merging)."""
        return self.unscoped.move_records(from_id, to_id)

    def mark_seen(self, user: str, customer_id: int, event_id: int) -> None:
        """Remember what ``user`` saw of a customer."""
        self.unscoped.mark_seen(user, customer_id, event_id)

    def new_activity(self, user: str, customer_ids: Sequence[int]) -> dict[int, int]:
        """How many events each customer had since ``user`` last saw it."""
        return self.unscoped.new_activity(user, customer_ids)

    # customers: writes ----------------------------------------------------------------

    def insert_customer(self, customer: Customer) -> Customer:
        """Store a new customer."""
        return self.unscoped.insert_customer(customer)

    def insert_customers(self, customers: Sequence[NewCustomer]) -> list[int]:
        """Store many new customers at once (made with ``row_encoder``); their ids."""
        ids = self.unscoped.insert_customers(customers)
        # New ids are live by construction: their events need no tombstone look-up.
        self._live.update((customer_id, customer_id) for customer_id in ids)
        return ids

    def row_encoder(self) -> RowEncoder:
        """The store's encoder of a new customer's rows for ``insert_customers``."""
        return self.unscoped.row_encoder()

    def prepare_bulk_load(self, rows: int) -> None:
        """Tune this session's transaction for a bulk import of about ``rows`` rows."""
        self.unscoped.prepare_bulk_load(rows)

    def update_customer(self, customer: Customer) -> Customer:
        """Store a changed customer (its version is checked and bumped)."""
        return self.unscoped.update_customer(customer)

    def update_status(self, customer: Customer, changes: Mapping[str, Any]) -> Customer:
        """Store a move: status ``changes`` made to the stored ``customer``; the moved one."""
        return self.unscoped.update_status(customer, changes)

    def mark_merged(self, customer_id: int, into: int) -> None:
        """Make ``customer_id`` a tombstone leading to ``into``."""
        self.unscoped.mark_merged(customer_id, into)
        self._live.clear()

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        """Move what hangs on one customer to another (merging)."""
        return self.unscoped.move_attachments(from_id, to_id)

    def merged_into(self, customer_id: int) -> int | None:
        """The customer a merged one was folded into, if any."""
        return self.unscoped.merged_into(customer_id)

    # contact keys ------------------------------------------------------------------

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        """Live customers (of any team: duplicates are global) holding these keys."""
        return self.unscoped.find_by_keys(keys)

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        """The contact keys stored for a customer."""
        return self.unscoped.contact_keys(customer_id)

    def rebuild_contact_keys(self) -> None:
        """Recompute every customer's contact keys (after a normalization change)."""
        self.unscoped.rebuild_contact_keys()

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        """The kinds of value each custom field key holds in the store."""
        return self.unscoped.custom_field_kinds()

    # definitions and settings: not customer data, not scoped --------------------------

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        """The stored status machine, if any."""
        return self.unscoped.get_status_machine(name)

    def put_status_machine(self, machine: StatusMachine) -> None:
        """Store the status machine."""
        self.unscoped.put_status_machine(machine)

    def get_flow(self, name: str) -> FlowDefinition:
        """The flow called ``name``."""
        return self.unscoped.get_flow(name)

    def list_flows(self) -> list[FlowDefinition]:
        """Every flow, by name."""
        return self.unscoped.list_flows()

    def put_flow(self, flow: FlowDefinition) -> None:
        """Store a flow."""
        self.unscoped.put_flow(flow)

    def delete_flow(self, name: str) -> None:
        """Delete a flow."""
        self.unscoped.delete_flow(name)

    def hidden_customers(self, flow: str) -> list[int]:
        """Ids hidden from a flow's board."""
        return self.unscoped.hidden_customers(flow)

    def hidden_flows(self, customer_id: int) -> list[str]:
        """The flows a customer is hidden from."""
        return self.unscoped.hidden_flows(customer_id)

    def rename_flow(self, name: str, flow: FlowDefinition) -> None:
        """Store ``flow`` in place of the flow called ``name``."""
        self.unscoped.rename_flow(name, flow)

    def hide_from_flow(self, flow: str, customer_id: int, by: str, at: datetime) -> bool:
        """Hide a visible customer from a flow's board, recording who and when."""
        self.unscoped.get_flow(flow)  # an unknown flow is named before an unknown customer
        return self.unscoped.hide_from_flow(flow, self.get_customer(customer_id).id, by, at)

    def flow_hides(self, flow: str) -> list[FlowHide]:
        """The customers hidden from a flow's board, with who hid them and when."""
        return self.unscoped.flow_hides(flow)

    def append_flow_event(self, event: FlowEvent) -> FlowEvent:
        """Append an entry to a flow's history."""
        return self.unscoped.append_flow_event(event)

    def flow_events(self, flow: str) -> list[FlowEvent]:
        """A flow's history, oldest first."""
        return self.unscoped.flow_events(flow)

    def record_flow(self, flow: str, kind: FlowEventKind, **data: JSONValue) -> FlowEvent:
        """Append one entry to a flow's history by this session's actor, now."""
        event = FlowEvent(flow=flow, kind=kind, at=self.clock.now(), actor=self.actor, data=data)
        return self.append_flow_event(event)

    def get_setting(self, key: str) -> JSONValue | None:
        """A workspace setting."""
        return self.unscoped.get_setting(key)

    def put_setting(self, key: str, value: JSONValue) -> None:
        """Store a workspace setting."""
        self.unscoped.put_setting(key, value)

    def get_user(self, name: str) -> User:
        """The user called ``name``."""
        return self.unscoped.get_user(name)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return self.unscoped.list_users()

    def put_user(self, user: User) -> None:
        """Store a user."""
        self.unscoped.put_user(user)

    def list_teams(self) -> list[str]:
        """Every team, by name."""
        return self.unscoped.list_teams()

    def add_team(self, name: str) -> bool:
        """Create a team; False if it exists."""
        return self.unscoped.add_team(name)

    # the outbox: not customer data, not scoped (the use cases check who may see it) -----

    def mark_fired(self, keys: Sequence[str], at: datetime) -> list[str]:
        """Record fired reminder keys; the new ones."""
        return self.unscoped.mark_fired(keys, at)

    def insert_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Store new deliveries in this transaction."""
        return self.unscoped.insert_deliveries(deliveries)

    def claim_deliveries(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Lease pending deliveries that are due."""
        return self.unscoped.claim_deliveries(now, lease_until, limit)

    def get_delivery(self, delivery_id: int) -> Delivery:
        """One delivery."""
        return self.unscoped.get_delivery(delivery_id)

    def finish_delivery(self, delivery: Delivery, *, claimed: datetime | None) -> bool:
        """Store a delivery's outcome if it is still leased as claimed."""
        return self.unscoped.finish_delivery(delivery, claimed=claimed)

    def list_deliveries(
        self, *, state: DeliveryState | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest first."""
        return self.unscoped.list_deliveries(state=state, limit=limit)

    def insert_notifications(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Store new notifications in this transaction."""
        return self.unscoped.insert_notifications(notifications)

    def list_notifications(
        self, recipients: Sequence[str] | None, *, unread_only: bool = False
    ) -> list[Notification]:
        """Notifications for some recipients (None: all), newest first."""
        return self.unscoped.list_notifications(recipients, unread_only=unread_only)

    def mark_read(
        self, ids: Sequence[int], recipients: Sequence[str] | None, at: datetime
    ) -> list[int]:
        """Mark notifications read; the ids changed."""
        return self.unscoped.mark_read(ids, recipients, at)


class SessionOpener(Protocol):
    """What opens sessions and runs use cases in them: the ``Workspace`` facade."""

    def session(self) -> AbstractContextManager[Session]:
        """One session (one transaction) whose events are published after commit."""
        ...

    def run(
        self, use_case: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one use case in one new session."""
        ...

    def write(
        self,
        expected_version: int | None,
        use_case: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a writing use case; re-run on a race only if no ``expected_version`` was given."""
        ...
