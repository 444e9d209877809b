"""The Store protocol: what every backend (memory, SQLite, PostgreSQL, third-party) implements."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from pipeline_core.customer import Customer, RowEncoder
from pipeline_core.domain.access import User
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.events import Event, JSONValue
from pipeline_core.domain.flows import FlowDefinition, FlowEvent, FlowHide
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, index_keys
from pipeline_core.domain.outbox import Delivery, DeliveryState, Notification
from pipeline_core.domain.records import LinkedRecord, ProfileParts
from pipeline_core.domain.report_keys import AggregateRow, GroupKey, StageTime
from pipeline_core.domain.search import SearchDocument, SearchQuery, search_document
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.rules.ast import MATCH_ALL, Rule

Order = Literal["id", "activity"]
"""``id``: oldest first. ``activity``: most recently updated first (board cards)."""

SCHEMA_VERSION = 12
"""The schema version this release writes; stores at a higher version are refused."""


class NewCustomer(NamedTuple):
    """A new customer as ``insert_customers`` takes it: made beforehand, maybe in another process.

    ``rows`` is the store's ``row_encoder()`` result for the customer (its own form,
    opaque to callers), ``keys`` its ``index_keys`` under the store's normalization
    options and ``document`` its ``search.search_document``.
    """

    rows: tuple[Any, ...]
    keys: Sequence[ContactKey]
    document: SearchDocument


def new_customer(customer: Customer, encode: RowEncoder, options: NormalizeOptions) -> NewCustomer:
    """``customer`` ready for ``insert_customers`` (``encode``: the store's ``row_encoder()``)."""
    return NewCustomer(encode(customer), index_keys(customer, options), search_document(customer))


class Transaction(Protocol):
    """One unit of work against a store: everything in it commits together or not at all."""

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        """The customer with that id; ``NotFound`` if there is none or it is outside ``scope``."""
        ...

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        """Like ``get_customer`` (``scope`` too), and no other writer may change it until this
        transaction ends.

        Use cases that read a customer in order to change it (or attach something
        to it) read it this way, so that concurrent writers queue instead of racing
        (PostgreSQL: ``FOR UPDATE``; SQLite and memory already serialize whole write
        transactions). A tombstone is never changed again: locking one raises
        ``MergedMeanwhile`` naming the customer it was merged into.
        """
        ...

    def insert_customer(self, customer: Customer) -> Customer:
        """Store a new customer (its id is ignored) and return it with its id and version 1."""
        ...

    def insert_customers(self, customers: Sequence[NewCustomer]) -> list[int]:
        """Store many new customers at once (bulk import); returns their new ids, in order.

        Each is stored with version 1, exactly as ``insert_customer`` would store the
        customer its ``rows`` were encoded from, in one round of bulk statements. The
        store builds no ``Customer`` here: an import makes each one's rows, keys and
        search document in its drafting workers (``new_customer``), and the writer
        only adds ids.
        """
        ...

    def row_encoder(self) -> RowEncoder:
        """A picklable function making a customer's ``NewCustomer.rows`` for this store.

        SQL stores give the customers row and the tag and custom-field rows (all but
        the id), the memory store the customer itself. An import runs it in its
        drafting worker processes.
        """
        ...

    def prepare_bulk_load(self, rows: int) -> None:
        """Tune this transaction (and its connection) for a bulk import of about ``rows`` rows.

        Only what keeps every committed transaction whole: SQLite sizes its page cache
        to the import and checkpoints its log less often; PostgreSQL commits without
        waiting for the log flush (a server crash may lose the last commits, never
        half of one: an import's ledger is in the same transaction, so a re-run
        resumes exactly). The memory store has nothing to tune.
        """
        ...

    def update_customer(self, customer: Customer) -> Customer:
        """Replace a stored customer whose version equals ``customer.version``.

        Returns it with the version incremented. ``ConcurrencyError`` if the
        stored version differs, ``MergedMeanwhile`` (a ``ConcurrencyError``) if it
        is a tombstone, ``NotFound`` if it does not exist. Both checks are part of
        the ``UPDATE`` itself, so a concurrent change or merge is never overwritten.
        """
        ...

    def update_status(self, customer: Customer, changes: Mapping[str, Any]) -> Customer:
        """Store a move: ``changes`` (``domain.outcomes.status_changes``) made to ``customer``.

        ``customer`` is the stored customer at its version (as read, locked, or returned by
        a write of this transaction); ``changes`` name only ``STATUS_ATTRIBUTES`` (status,
        updated_at, converted_at, outcome, closed_at, lost_reason). One ``UPDATE`` of the
        columns that differ, with ``update_customer``'s version and tombstone checks and
        errors; tags, fields, contact keys and search terms are not touched, since a move
        does not change them. Leaves the store exactly as ``update_customer`` of the moved
        copy would, and returns the stored customer (the changes applied, the version
        bumped): built once, as the caller's result.
        """
        ...

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
        """Customers satisfying ``rule``, optionally leaving out those hidden from a flow.

        ``after_id`` keeps only ids above it: with ``order="id"`` and a limit, pages of a
        large export are read by key, not by ever longer offsets.
        """
        ...

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        """How many customers satisfy ``rule``."""
        ...

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        """How many customers satisfying ``rule`` are in each status (absent: none)."""
        ...

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        """Customers satisfying ``rule`` grouped by ``keys`` (raw stored values), in the database.

        Per group: how many, how many have a deal value, and the sum of those values
        (exact on memory and PostgreSQL, double precision on SQLite). A customer
        counts in each of its tags' groups when grouping by tag. No keys: one row
        (none if nobody matches).
        Groups are in no particular order; empty groups are absent.
        """
        ...

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        """The median stay per status of the customers satisfying ``rule``, from the event log.

        A stay begins at the ``created`` event (in its status) or a ``status_changed``
        event (in its ``to`` status) and ends at the customer's next such event,
        or at ``now`` if it is still going on. Statuses nobody stayed in are absent.
        """
        ...

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        """Every custom field key customers hold, with the stored kinds of its values.

        Kinds are those of ``serialization.typed_field_value``: text, int,
        float, decimal, bool, date, datetime, list. Rules type-check with it.
        """
        ...

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        """Append events to their customers' timelines; the stored events, in order.

        Each stored event carries the id the store gave it (the ids given are
        ignored): distinct, positive, increasing in the order given, and the ids
        ``events(customer_id)`` reads back. ``NotFound`` if an event names a
        customer that does not exist. Bulk imports append thousands at once, so
        a backend hands out the ids in one step, not one round trip per event.
        """
        ...

    def events(self, customer_id: int) -> list[Event]:
        """A customer's timeline, oldest first."""
        ...

    def latest_events(self, customer_id: int, limit: int) -> tuple[list[Event], int]:
        """The last ``limit`` events of a customer's timeline, oldest first, and how many
        it holds in all (a profile shows the latest without reading the whole timeline)."""
        ...

    def get_status_machine(self, name: str = "default") -> StatusMachine | None:
        """The stored status machine called ``name``, if any."""
        ...

    def put_status_machine(self, machine: StatusMachine) -> None:
        """Store a status machine under its name, replacing any with that name."""
        ...

    def get_flow(self, name: str) -> FlowDefinition:
        """The flow called ``name``; ``NotFound`` if there is none."""
        ...

    def list_flows(self) -> list[FlowDefinition]:
        """Every flow, by name."""
        ...

    def put_flow(self, flow: FlowDefinition) -> None:
        """Create or replace a flow."""
        ...

    def delete_flow(self, name: str) -> None:
        """Remove a flow and its hidden-customer list; ``NotFound`` if there is none."""
        ...

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        """Hide a customer from (or show it again on) a flow's board; whether anything changed."""
        ...

    def hidden_customers(self, flow: str) -> list[int]:
        """Ids of the customers hidden from a flow's board."""
        ...

    # the board: editable flows, recorded hides, a flow's history ---------------------

    def rename_flow(self, name: str, flow: FlowDefinition) -> None:
        """Store ``flow`` in place of the flow called ``name`` (its hides and history follow).

        ``NotFound`` if there is no such flow, ``InvalidValue`` if another flow has the new name.
        """
        ...

    def hide_from_flow(self, flow: str, customer_id: int, by: str, at: datetime) -> bool:
        """Hide a customer from a flow's board, recording who and when; whether it was shown."""
        ...

    def flow_hides(self, flow: str) -> list[FlowHide]:
        """The customers hidden from a flow's board, with who hid them and when, by id."""
        ...

    def append_flow_event(self, event: FlowEvent) -> FlowEvent:
        """Append an entry to the history of the flow ``event.flow`` names; it as stored."""
        ...

    def flow_events(self, flow: str) -> list[FlowEvent]:
        """A flow's history, oldest first."""
        ...

    def get_setting(self, key: str) -> JSONValue | None:
        """The workspace setting stored under ``key``, or None if there is none."""
        ...

    def put_setting(self, key: str, value: JSONValue) -> None:
        """Store a workspace setting under ``key``, replacing any previous value."""
        ...

    # the customer's life --------------------------------------------------------

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The customers whose parent is ``parent_id``, oldest first."""
        ...

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The customers ``worker`` is assigned to, oldest first."""
        ...

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """The customers holding a value for custom field ``key``, oldest first."""
        ...

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        """Customers whose ``next_follow_up`` is on or before ``last_day``, by date then id."""
        ...

    def insert_task(self, task: Task) -> Task:
        """Store a new task (its id is ignored); ``NotFound`` if its customer does not exist."""
        ...

    def get_task(self, task_id: int) -> Task:
        """The task with that id; ``NotFound`` if there is none."""
        ...

    def update_task(self, task: Task) -> Task:
        """Replace a stored task; ``NotFound`` if it does not exist."""
        ...

    def find_tasks(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
        scope: Rule = MATCH_ALL,
    ) -> list[Task]:
        """Tasks of one customer and/or one worker (both None: all), by due date then id.

        Only tasks of customers satisfying ``scope``.

        Tasks without a due date come after those with one.
        """
        ...

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        """Store a new time entry; ``NotFound`` if its customer does not exist."""
        ...

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        """Time entries of one customer and/or one worker (of customers in ``scope``), by time."""
        ...

    # access and search ------------------------------------------------------------

    def get_user(self, name: str) -> User:
        """The user called ``name`` with their teams; ``NotFound`` if there is none."""
        ...

    def list_users(self) -> list[User]:
        """Every user, by name."""
        ...

    def put_user(self, user: User) -> None:
        """Create or replace a user and their team memberships (the teams must exist)."""
        ...

    def list_teams(self) -> list[str]:
        """Every team's name, sorted."""
        ...

    def add_team(self, name: str) -> bool:
        """Create a team; whether it was new."""
        ...

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        """Customers satisfying ``rule`` whose search terms match ``query``, best first.

        Ranked by ``search.score`` (ties: oldest first), at most ``limit``.
        """
        ...

    # contact keys and merges (duplicates) -----------------------------------------

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        """``(key, customer id)`` for every live customer holding one of ``keys``; an index look-up.

        Customers' valid contact keys are indexed by ``insert_customer`` and
        ``update_customer`` (see ``pipeline_core.domain.normalize.index_keys``), with the
        normalization options of the stored duplicate settings.
        """
        ...

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        """The indexed keys of one customer (none for a tombstone)."""
        ...

    def rebuild_contact_keys(self) -> None:
        """Recompute every live customer's keys (after a setting that changes them changed)."""
        ...

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        """Every key held by two or more live customers in ``scope``, ids ascending; in key order.

        Backends find the shared keys with a GROUP BY over the key index, never by
        comparing customers pairwise.
        """
        ...

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        """The customers with these ids, in id order; unknown ids and those outside ``scope``
        are left out."""
        ...

    def move_attachments(self, from_id: int, to_id: int) -> dict[str, list[int]]:
        """Move the events, tasks and time entries of ``from_id`` to ``to_id``.

        Returns the moved ids by kind (``events``, ``tasks``, ``time_entries``).
        A moved task reads back with ``customer_id == to_id`` wherever its body
        is stored.
        """
        ...

    def hidden_flows(self, customer_id: int) -> list[str]:
        """Names of the flows a customer is hidden from, by name."""
        ...

    def mark_merged(self, customer_id: int, into: int) -> None:
        """Turn a customer into a tombstone pointing at ``into``.

        It drops its contact keys and leaves finds, counts, children, worker and
        follow-up lists and duplicate groups; tombstones that pointed at it now
        point at ``into``. A customer is merged once: ``MergedMeanwhile`` if it
        already is a tombstone (checked in the ``UPDATE`` itself, so of two
        concurrent merges of one customer only one can commit), ``InvalidValue``
        if ``into`` is one or is the customer itself.
        """
        ...

    def merged_into(self, customer_id: int) -> int | None:
        """The customer a tombstone was merged into; None for a live customer."""
        ...

    # the outbox: fired reminders, deliveries, notifications ---------------------------

    def mark_fired(self, keys: Sequence[str], at: datetime) -> list[str]:
        """Record that the reminders called ``keys`` fired; the keys that were new, in order.

        A key already recorded (by this transaction, or by one that committed) is
        left out. When another transaction recorded it and has not yet ended, the
        call waits for it: of two overlapping runners exactly one gets each key.
        """
        ...

    def insert_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Store new deliveries (their ids are ignored); the stored ones with their ids, in order."""
        ...

    def claim_deliveries(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` pending deliveries due at ``now`` (and not leased past it).

        Oldest due first; each comes back with ``lease_until`` set. Concurrent
        claims never get the same delivery (PostgreSQL: ``FOR UPDATE SKIP LOCKED``).
        """
        ...

    def get_delivery(self, delivery_id: int) -> Delivery:
        """The delivery with that id; ``NotFound`` if there is none."""
        ...

    def finish_delivery(self, delivery: Delivery, *, claimed: datetime | None) -> bool:
        """Store a delivery's state, attempts, next attempt, last error, delivered moment
        and lease, if its stored lease is still ``claimed``; whether it was.

        A runner whose lease ran out (and whose delivery another runner claimed)
        thus cannot overwrite the newer outcome.
        """
        ...

    def list_deliveries(
        self, *, state: DeliveryState | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Deliveries (of one state, or all), newest first."""
        ...

    def insert_notifications(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Store new notifications; the stored ones with their ids, in order."""
        ...

    def list_notifications(
        self, recipients: Sequence[str] | None, *, unread_only: bool = False
    ) -> list[Notification]:
        """Notifications for any of ``recipients`` (None: everyone's), newest first."""
        ...

    def mark_read(
        self, ids: Sequence[int], recipients: Sequence[str] | None, at: datetime
    ) -> list[int]:
        """Mark unread notifications read at ``at``; the ids changed, ascending.

        Only those for one of ``recipients`` (None: anyone's).
        """
        ...

    # linked records and new activity -------------------------------------------------

    def insert_records(self, records: Sequence[LinkedRecord]) -> list[LinkedRecord]:
        """Store new linked records (their ids are ignored); the stored ones, in order.

        ``NotFound`` if a record names a customer that does not exist;
        ``InvalidValue`` if its customer already holds a record of that kind and reference.
        """
        ...

    def update_record(self, record: LinkedRecord) -> LinkedRecord:
        """Replace a stored record (found by id; its customer, kind and ref may not change)."""
        ...

    def get_record(self, record_id: int, *, scope: Rule = MATCH_ALL) -> LinkedRecord:
        """The record with that id, if its customer is in ``scope``; ``NotFound`` otherwise."""
        ...

    def records_by_ref(self, kind: str, refs: Sequence[str]) -> list[LinkedRecord]:
        """Every record of ``kind`` whose reference is one of ``refs`` (any customer), by id."""
        ...

    def find_records(
        self,
        *,
        customer_id: int | None = None,
        kinds: Sequence[str] = (),
        states: Sequence[str] = (),
        scope: Rule = MATCH_ALL,
    ) -> list[LinkedRecord]:
        """Records of one customer (None: all) of some kinds and states (empty: any), of
        customers in ``scope``; by moment (``at``, else ``start``, else creation), then id."""
        ...

    def record_profile(self, customer_id: int) -> ProfileParts:
        """What a customer's profile shows of its records, read without loading them all:
        the records the profile lists, the latest conversation per channel, the profile's
        sums per kind, state and currency, and the count of records per kind."""
        ...

    def move_records(self, from_id: int, to_id: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Move ``from_id``'s records to ``to_id`` (merging), except those whose kind and
        reference ``to_id`` holds already: they stay where they are.

        Returns the moved ids and, per record left behind, ``(kept id, left id)``.
        """
        ...

    def mark_seen(self, user: str, customer_id: int, event_id: int) -> None:
        """Remember that ``user`` has seen the customer's events up to ``event_id``."""
        ...

    def new_activity(self, user: str, customer_ids: Sequence[int]) -> dict[int, int]:
        """Per customer, how many of its events came after the last one ``user`` saw and
        were made by someone else (never seen: all of them); customers without any absent."""
        ...


class Store(Protocol):
    """A place customers live. Opened from a URL by ``pipeline_core.storage.open_store``."""

    url: str

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Begin a unit of work; it commits when the block ends and rolls back on an exception."""
        ...

    def close(self) -> None:
        """Release the store's resources; the store is unusable afterwards."""
        ...


@runtime_checkable
class Watchable(Protocol):
    """A store that can say when it changed (all three built-in backends can)."""

    def changes(self, *, poll: float = 0.25) -> Generator[int, None, None]:
        """Yield 0 at once, then 1, 2... after each commit to the store, by any process.

        Blocks between changes (checking every ``poll`` seconds where the engine has
        no push); a board on a wall screen redraws on each. Stop by closing the generator.
        """
        ...
