"""The Workspace facade: every use case is one method and one storage transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Self, TypeVar, cast

import attrs

from pipeline_core.customer import EDITABLE_FIELDS, Customer
from pipeline_core.domain.access import (
    SYSTEM,
    SYSTEM_PRINCIPAL,
    Principal,
    checked_name,
    scope_rule,
)
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.automation import SETTINGS_KEY as AUTOMATIONS_KEY
from pipeline_core.domain.automation import Hooks
from pipeline_core.domain.board import Board, BoardColumn
from pipeline_core.domain.clock import Clock, SystemClock
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.flows import PALETTE, Column, FlowDefinition, FlowExplanation
from pipeline_core.domain.normalize import ContactKey
from pipeline_core.domain.outcomes import enter_status
from pipeline_core.domain.report_keys import AggregateRow, GroupKey, StageTime
from pipeline_core.domain.search import SearchQuery, TermRow
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.statuses import StatusMachine, default_status_machine
from pipeline_core.errors import ConcurrencyError, InvalidValue, NotFound, PermissionDenied
from pipeline_core.rules.ast import MATCH_ALL, InSet, Not, Rule, all_of, fields_of, is_custom
from pipeline_core.rules.catalog import DEFAULT_CATALOG, Catalog
from pipeline_core.rules.dates import bind_dates, utc_today
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.rules.explain import explain
from pipeline_core.rules.parser import parse
from pipeline_core.rules.printer import to_text
from pipeline_core.rules.sql import POSTGRES, SQLITE, Compiled, Dialect, compile_sql
from pipeline_core.storage import Order, Store, Transaction, open_store
from pipeline_core.storage.copying import CopyReport, copy_store
from pipeline_core.workspace.access import AccessMixin
from pipeline_core.workspace.base import ScopedTransaction
from pipeline_core.workspace.bulk import ImportMixin
from pipeline_core.workspace.dedupe import DuplicatePolicy, resolve
from pipeline_core.workspace.life import LifeMixin
from pipeline_core.workspace.reports import ReportsMixin
from pipeline_core.workspace.setup import SetupMixin

DEFAULT_STORE_URL = "sqlite:///pipeline.db"
DEFAULT_BOARD_LIMIT = 20
WRITE_ATTEMPTS = 5
"""How often a write without ``expected_version`` is tried when another writer races it."""

T = TypeVar("T")

RuleLike = Rule | str
"""A rule as an AST or as rule text (see docs/rules.md)."""


class _Scoped:
    """A transaction seen by one actor: every customer read is limited to their scope.

    The scope rule is composed with each read's own rule and handed to the store,
    which filters inside the database. It also keeps the events appended to it,
    to publish after commit.
    """

    def __init__(
        self, tx: Transaction, outbox: list[Event], principal: Principal, scope: Rule
    ) -> None:
        self._tx = tx
        self._outbox = outbox
        self.principal = principal
        self.scope = scope
        self.unscoped = tx
        self._live: dict[int, int] = {}

    def _resolved(self, customer_id: int) -> int:
        # A merged customer's old id leads to its primary, for reads and for anything
        # attached to it; remembered, so that a use case pays the look-up once per id.
        if customer_id not in self._live:
            self._live[customer_id] = resolve(self._tx, customer_id)
        return self._live[customer_id]

    def lock_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        resolved = self._resolved(customer_id)
        return self._tx.lock_customer(resolved, scope=all_of(self.scope, scope))

    def append_events(self, events: Sequence[Event]) -> None:
        events = [
            e
            if self._resolved(e.customer_id) == e.customer_id
            else attrs.evolve(e, customer_id=self._resolved(e.customer_id))
            for e in events
        ]
        self._tx.append_events(events)
        self._outbox.extend(events)

    def get_customer(self, customer_id: int, *, scope: Rule = MATCH_ALL) -> Customer:
        resolved = self._resolved(customer_id)
        return self._tx.get_customer(resolved, scope=all_of(self.scope, scope))

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
        return self._tx.find_customers(
            all_of(self.scope, rule),
            hidden_from=hidden_from,
            order=order,
            limit=limit,
            offset=offset,
            after_id=after_id,
        )

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        return self._tx.count_customers(all_of(self.scope, rule), hidden_from=hidden_from)

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        return self._tx.count_by_status(all_of(self.scope, rule), hidden_from=hidden_from)

    def search_customers(self, query: SearchQuery, rule: Rule, *, limit: int) -> list[Customer]:
        return self._tx.search_customers(query, all_of(self.scope, rule), limit=limit)

    def aggregate(
        self, rule: Rule, keys: Sequence[GroupKey], *, hidden_from: str | None = None
    ) -> list[AggregateRow]:
        return self._tx.aggregate(all_of(self.scope, rule), keys, hidden_from=hidden_from)

    def stage_times(
        self, rule: Rule, now: datetime, *, hidden_from: str | None = None
    ) -> dict[str, StageTime]:
        return self._tx.stage_times(all_of(self.scope, rule), now, hidden_from=hidden_from)

    def children(self, parent_id: int, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._tx.children(parent_id, scope=all_of(self.scope, scope))

    def customers_of_worker(self, worker: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._tx.customers_of_worker(worker, scope=all_of(self.scope, scope))

    def customers_with_field(self, key: str, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._tx.customers_with_field(key, scope=all_of(self.scope, scope))

    def follow_ups_until(self, last_day: date, *, scope: Rule = MATCH_ALL) -> list[Customer]:
        return self._tx.follow_ups_until(last_day, scope=all_of(self.scope, scope))

    def events(self, customer_id: int) -> list[Event]:
        return self._tx.events(self.get_customer(customer_id).id)

    def set_hidden(self, flow: str, customer_id: int, hidden: bool) -> bool:
        self._tx.get_flow(flow)  # an unknown flow is named before an unknown customer
        self.get_customer(customer_id)
        return self._tx.set_hidden(flow, customer_id, hidden)

    def get_task(self, task_id: int) -> Task:
        task = self._tx.get_task(task_id)
        try:
            self.get_customer(task.customer_id)
        except NotFound:
            raise NotFound(f"no task with id {task_id}") from None
        return task

    def update_task(self, task: Task) -> Task:
        self.get_task(task.id)
        return self._tx.update_task(task)

    def insert_task(self, task: Task) -> Task:
        owner = self.get_customer(task.customer_id)
        return self._tx.insert_task(attrs.evolve(task, customer_id=owner.id))

    def find_tasks(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        open_only: bool = False,
        scope: Rule = MATCH_ALL,
    ) -> list[Task]:
        return self._tx.find_tasks(
            customer_id=customer_id,
            worker=worker,
            open_only=open_only,
            scope=all_of(self.scope, scope),
        )

    def insert_time_entry(self, entry: TimeEntry) -> TimeEntry:
        owner = self.get_customer(entry.customer_id)
        return self._tx.insert_time_entry(attrs.evolve(entry, customer_id=owner.id))

    def time_entries(
        self,
        *,
        customer_id: int | None = None,
        worker: str | None = None,
        scope: Rule = MATCH_ALL,
    ) -> list[TimeEntry]:
        return self._tx.time_entries(
            customer_id=customer_id, worker=worker, scope=all_of(self.scope, scope)
        )

    def insert_customers(
        self,
        customers: Sequence[Customer],
        keys: Sequence[Sequence[ContactKey]] | None = None,
        terms: Sequence[Sequence[TermRow]] | None = None,
    ) -> list[int]:
        ids = self._tx.insert_customers(customers, keys, terms)
        # New ids are live by construction: their events need no tombstone look-up.
        self._live.update((customer_id, customer_id) for customer_id in ids)
        return ids

    def mark_merged(self, customer_id: int, into: int) -> None:
        self._tx.mark_merged(customer_id, into)
        self._live.clear()

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        return self._tx.duplicate_groups(scope=all_of(self.scope, scope))

    def get_customers(
        self, customer_ids: Sequence[int], *, scope: Rule = MATCH_ALL
    ) -> list[Customer]:
        return self._tx.get_customers(customer_ids, scope=all_of(self.scope, scope))

    def __getattr__(self, name: str) -> Any:
        # Everything else reads no customer (settings, flows, users) or writes.
        return getattr(self._tx, name)


@attrs.frozen
class _RelativeEdit:
    """Tag and custom-field changes stated relative to the stored customer."""

    add_tags: tuple[str, ...]
    remove_tags: tuple[str, ...]
    set_fields: dict[str, Any]
    remove_fields: tuple[str, ...]

    def applied(self, current: Customer, changes: Mapping[str, Any]) -> Mapping[str, Any]:
        """``changes`` plus these, worked out against ``current``."""
        result = dict(changes)
        if self.add_tags or self.remove_tags:
            base = result.get("tags", current.tags)
            kept = [tag for tag in base if tag not in self.remove_tags]
            result["tags"] = [*kept, *self.add_tags]
        if self.set_fields or self.remove_fields:
            base_fields = result.get("fields", current.fields)
            fields = {k: v for k, v in base_fields.items() if k not in self.remove_fields}
            fields.update(self.set_fields)
            result["fields"] = fields
        return result


class Workspace(AccessMixin, LifeMixin, SetupMixin, ReportsMixin, ImportMixin):
    """An open pipeline_core workspace: a store, the actor using it, and a clock.

    Open one with ``Workspace.open(url, actor=USER)``; the actor is a user of the
    workspace (see docs/access.md) or ``"system"`` (scripts: sees everything).
    Use it as a context manager to close it. Subscribe to committed events with
    ``on(kind, handler)``.
    """

    def __init__(self, store: Store, *, actor: str = SYSTEM, clock: Clock | None = None) -> None:
        self.store = store
        name = checked_name(actor)
        self.actor = name
        self._acting_user: str | None = None if name == SYSTEM else name
        self.clock: Clock = clock or SystemClock()
        self.hooks = Hooks()
        if self._acting_user is not None:
            with self._tx():
                pass  # an unknown user is refused now, not at the first use

    @classmethod
    def open(
        cls, url: str = DEFAULT_STORE_URL, *, actor: str = SYSTEM, clock: Clock | None = None
    ) -> Self:
        """Open the workspace in the store ``url`` names, creating its schema if needed.

        ``actor``: the user acting (``NotFound`` if there is no such user), or
        ``"system"``.
        """
        store = open_store(url)
        try:
            return cls(store, actor=actor, clock=clock)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Close the underlying store."""
        self.store.close()

    def copy_to(self, url: str) -> CopyReport:
        """Copy this whole workspace into the new, empty store at ``url`` and verify the counts.

        Customers (merged ones too), history, flows, settings, tasks, everything:
        table by table, in one transaction on the target. Both stores must be SQL
        stores (SQLite or PostgreSQL); the target must be empty. Admins only: a
        copy holds every customer, whoever may see them.
        """
        with self._tx() as tx:
            self._require_admin(tx, "copy the workspace")
        target = open_store(url)
        try:
            return copy_store(self.store, target)
        finally:
            target.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[ScopedTransaction]:
        outbox: list[Event] = []
        automations: JSONValue = None
        with self.store.transaction() as tx:
            # The user is read in every transaction: a changed role or membership
            # takes effect at once.
            principal = self._principal(tx)
            yield cast(ScopedTransaction, _Scoped(tx, outbox, principal, scope_rule(principal)))
            if outbox:
                # Read inside the transaction: one cheap look-up, and what commits is what runs.
                automations = tx.get_setting(AUTOMATIONS_KEY)
        if outbox:
            self._publish(outbox, automations)

    def _principal(self, tx: Transaction) -> Principal:
        if self._acting_user is None:
            return SYSTEM_PRINCIPAL
        try:
            return Principal(tx.get_user(self._acting_user))
        except NotFound:
            raise NotFound(
                f"unknown user {self._acting_user!r}: add them with 'pipeline users add' "
                "or act as 'system'"
            ) from None

    def _event(self, customer_id: int, kind: EventKind, **data: JSONValue) -> Event:
        return Event(
            customer_id=customer_id, kind=kind, at=self.clock.now(), actor=self.actor, data=data
        )

    # status machine ----------------------------------------------------------------

    def initialize(self) -> StatusMachine:
        """Make sure the workspace has a status machine (the default lead pipeline if none)."""
        with self._tx() as tx:
            return self._machine(tx)

    def _machine(self, tx: Transaction) -> StatusMachine:
        machine = tx.get_status_machine()
        if machine is None:
            machine = default_status_machine()
            tx.put_status_machine(machine)
        return machine

    def status_machine(self) -> StatusMachine:
        """The workspace's status machine."""
        return self.initialize()

    def set_status_machine(self, machine: StatusMachine) -> StatusMachine:
        """Replace the status machine; refused if a customer or a column uses a status it lacks."""
        machine = attrs.evolve(machine, name="default")
        with self._tx() as tx:
            self._require_admin(tx, "change the status machine")
            for status in tx.count_by_status(MATCH_ALL):
                if status not in machine:
                    raise InvalidValue(
                        f"customers are in status {status!r}, which the new machine lacks"
                    )
            for flow in tx.list_flows():
                for column in flow.columns:
                    if column.status not in machine:
                        raise InvalidValue(
                            f"column {column.name!r} of flow {flow.name!r} maps to status "
                            f"{column.status!r}, which the new machine lacks"
                        )
            tx.put_status_machine(machine)
        return machine

    # customers ---------------------------------------------------------------------

    def add_customer(
        self, customer: Customer, *, on_duplicate: DuplicatePolicy | None = None
    ) -> Customer:
        """Store a new customer; an empty status means the machine's initial status.

        If its phones, emails or WhatsApp match live customers, ``on_duplicate``
        decides (default: the ``allow_duplicates`` setting, else ``block``):
        ``block`` raises ``DuplicateCustomer`` naming them, ``allow`` adds it
        anyway, ``merge`` folds it into the oldest match (that customer wins,
        blanks are filled, contacts and tags are added) and ``update`` writes the
        new values over the oldest match; both return the existing customer.
        See docs/duplicates.md.
        """
        # Retried like an unpinned write: on PostgreSQL two writers adding the same
        # new phone or email at once collide on a unique index, and the one that
        # lost re-runs and finds the other's customer (see docs/storage.md).
        return self._write(None, lambda tx: self._add_in(tx, customer, on_duplicate))

    def _add_in(
        self, tx: ScopedTransaction, customer: Customer, on_duplicate: DuplicatePolicy | None
    ) -> Customer:
        now = self.clock.now()
        self._check_within_scope(tx, customer, "create")
        self._check_folder_change(tx, None, customer.folder)
        machine = self._machine_for(tx, customer.folder)
        status = machine.status(customer.status or machine.initial)
        if customer.parent_id is not None:
            tx.get_customer(customer.parent_id)
        fields = self._checked_fields(tx, customer.folder, customer.fields)
        draft = attrs.evolve(
            customer,
            status=status.name,
            fields=fields,
            created_at=now,
            updated_at=now,
            version=0,
        )
        reason = None
        if status.outcome == "lost":
            reason = self._lifecycle(tx).given_reason(customer.lost_reason)
        draft = enter_status(draft, status, now, reason)
        existing = self._on_duplicate(tx, draft, on_duplicate)
        if existing is not None:
            return self._shown(tx, existing)
        stored = tx.insert_customer(draft)
        tx.append_events([self._event(stored.id, EventKind.CREATED, status=stored.status)])
        return self._shown(tx, stored)

    def get_customer(self, customer_id: int) -> Customer:
        """The customer with that id (a merged one's id leads to its primary).

        ``NotFound`` if there is none or the actor may not see it.
        """
        with self._tx() as tx:
            return self._shown(tx, tx.get_customer(customer_id))

    def list_customers(
        self, where: RuleLike = MATCH_ALL, *, limit: int | None = None, offset: int = 0
    ) -> list[Customer]:
        """Customers satisfying ``where`` (a rule, rule text or saved filter name), oldest first."""
        with self._tx() as tx:
            found = tx.find_customers(self._bound(tx, where), limit=limit, offset=offset)
            return self._shown_all(tx, found)

    def count_customers(self, where: RuleLike = MATCH_ALL) -> int:
        """How many customers satisfy ``where`` (a rule or rule text)."""
        with self._tx() as tx:
            return tx.count_customers(self._bound(tx, where))

    # rules -------------------------------------------------------------------------

    def rule_catalog(self) -> Catalog:
        """The fields rules may name here: the built-ins, the defined custom fields and the
        custom fields customers hold, each with the kinds of value it may hold."""
        with self._tx() as tx:
            return self._catalog(tx)

    def _catalog(self, tx: Transaction) -> Catalog:
        kinds = {key: set(found) for key, found in tx.custom_field_kinds().items()}
        for key, definition in self._field_definitions(tx).items():
            kinds.setdefault(key, set()).add(definition.type)
        return Catalog(custom=kinds)

    def check_rule(self, rule: RuleLike) -> Rule:
        """Parse and type-check a rule against this workspace's fields; the checked rule.

        ``RuleSyntaxError`` names the position, what was expected and a near miss.
        """
        with self._tx() as tx:
            return self._checked(tx, rule)

    def rule_sql(self, rule: RuleLike, dialect: Dialect | None = None) -> Compiled:
        """The SQL condition and parameters a SQL store filters ``rule`` with, as of today.

        The dialect defaults to the store's: PostgreSQL for ``postgresql:`` URLs, else SQLite.
        """
        if dialect is None:
            dialect = POSTGRES if self.store.url.startswith("postgres") else SQLITE
        with self._tx() as tx:
            return compile_sql(self._checked(tx, rule), dialect, today=self._rules_today())

    def _rules_today(self) -> date:
        # Rules compare UTC days (docs/rules.md), whatever the workspace time zone.
        return utc_today(self.clock.now())

    def _checked(self, tx: Transaction, rule: RuleLike) -> Rule:
        if isinstance(rule, str):
            rule = self._saved_rule_text(cast(ScopedTransaction, tx), rule)
        text = rule if isinstance(rule, str) else to_text(rule)
        parsed = parse(text, DEFAULT_CATALOG)
        if any(is_custom(field) for field in fields_of(parsed)):
            # Only rules naming custom fields need the store's knowledge of them.
            parsed = parse(text, self._catalog(tx))
        return parsed

    def _bound(self, tx: Transaction, rule: RuleLike) -> Rule:
        return bind_dates(self._checked(tx, rule), self._rules_today())

    def edit_customer(
        self,
        customer_id: int,
        *,
        expected_version: int | None = None,
        on_duplicate: DuplicatePolicy | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: Iterable[str] = (),
        **changes: Any,
    ) -> Customer:
        """Change fields of a customer; one event per changed field.

        Only fields in ``EDITABLE_FIELDS`` may change here: status moves go
        through ``move``. ``expected_version`` guards against lost updates.
        ``add_tags``/``remove_tags`` and ``set_fields``/``remove_fields`` change
        the customer's tags and custom fields relative to what is stored, inside
        the same transaction (``tags=``/``fields=`` replace them whole).
        A phone, email or WhatsApp that the edit adds and another live customer
        holds raises ``DuplicateCustomer`` unless ``on_duplicate`` is ``allow``
        (default: the ``allow_duplicates`` setting); use ``merge`` to combine.
        """
        unknown = sorted(set(changes) - EDITABLE_FIELDS)
        if unknown:
            raise InvalidValue(
                f"cannot edit {', '.join(unknown)}; editable fields: {', '.join(sorted(EDITABLE_FIELDS))}"
            )
        relative = _RelativeEdit(
            tuple(add_tags), tuple(remove_tags), dict(set_fields or {}), tuple(remove_fields)
        )

        def edit(tx: ScopedTransaction) -> Customer:
            current = self._current(tx, customer_id, expected_version)
            return self._edit_in(tx, current, relative.applied(current, changes), on_duplicate)

        return self._write(expected_version, edit)

    def _edit_in(
        self,
        tx: ScopedTransaction,
        current: Customer,
        changes: Mapping[str, Any],
        on_duplicate: DuplicatePolicy | None,
    ) -> Customer:
        self._check_contact_edit(tx, dict(changes))
        edited = attrs.evolve(current, **changes)
        self._check_within_scope(tx, edited, "edit")
        if edited.parent_id != current.parent_id and edited.parent_id is not None:
            parent_id = resolve(tx, edited.parent_id)
            edited = attrs.evolve(edited, parent_id=parent_id)
            self._check_parent(tx, current.id, parent_id)
        if edited.folder != current.folder:
            self._check_folder_change(tx, current.folder, edited.folder)
            self._check_folder_status(tx, edited)
        if "fields" in changes:
            edited = attrs.evolve(
                edited, fields=self._checked_fields(tx, edited.folder, edited.fields)
            )
        self._check_edit_duplicates(tx, current, edited, on_duplicate)
        return self._shown(tx, self._save_changes(tx, current, edited))

    def _current(self, tx: Transaction, customer_id: int, expected: int | None) -> Customer:
        current = tx.lock_customer(customer_id)
        # Checked here, before anything else: a change that turns out to be a no-op
        # must still be refused when it was based on a stale copy.
        if expected is not None and current.version != expected:
            raise ConcurrencyError(customer_id, expected, current.version)
        return current

    def _check_parent(self, tx: ScopedTransaction, customer_id: int, parent_id: int) -> None:
        tx.get_customer(parent_id)  # the new parent must be one the actor can see
        ancestor: int | None = parent_id
        while ancestor is not None:
            if ancestor == customer_id:
                raise InvalidValue(
                    f"customer {parent_id} cannot be the parent of {customer_id}: that makes a cycle"
                )
            # Ancestors further up may be outside the actor's scope; a cycle is still a cycle.
            ancestor = tx.unscoped.get_customer(ancestor).parent_id

    def _check_within_scope(self, tx: ScopedTransaction, customer: Customer, verb: str) -> None:
        """Refuse a write that would leave the customer outside the actor's own scope."""
        if tx.principal.sees_all or compile_predicate(tx.scope)(customer):
            return
        teams = ", ".join(tx.principal.user.teams) if tx.principal.user else ""
        raise PermissionDenied(
            f"{tx.principal.name!r} may not {verb} a customer of team {customer.team!r}"
            f" that they could not see (their teams: {teams or 'none'})"
        )

    def _edit_events(self, before: Customer, after: Customer) -> list[Event]:
        events = []
        for name in sorted(EDITABLE_FIELDS):
            old, new = getattr(before, name), getattr(after, name)
            if old == new:
                continue
            if name == "folder":
                events.append(
                    self._event(before.id, EventKind.FOLDER_CHANGED, **{"from": old, "to": new})
                )
            elif name == "tags":
                events.append(
                    self._event(
                        before.id,
                        EventKind.TAGS_CHANGED,
                        added=[tag for tag in new if tag not in old],
                        removed=[tag for tag in old if tag not in new],
                    )
                )
            else:
                events.append(
                    self._event(
                        before.id,
                        EventKind.EDITED,
                        field=name,
                        before=_json(before, name),
                        after=_json(after, name),
                    )
                )
        return events

    def move(
        self,
        customer_id: int,
        status: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Move a customer to ``status`` through its folder's status machine.

        Refused with ``TransitionNotAllowed`` if the machine does not allow it;
        moving to the current status changes nothing and records nothing. A move
        into a lost status needs ``reason`` (from the lost reasons, or ``other``
        with ``reason_text``). Won and lost statuses set the outcome and close date.
        """
        return self._write(
            expected_version,
            lambda tx: self._shown(
                tx,
                self._move_in(
                    tx,
                    self._current(tx, customer_id, expected_version),
                    status,
                    reason=reason,
                    reason_text=reason_text,
                ),
            ),
        )

    def _write(self, expected_version: int | None, body: Callable[[ScopedTransaction], T]) -> T:
        """Run ``body`` in one transaction; retry it on a write race the caller did not pin.

        With ``expected_version`` the caller said which version it saw, so a
        ConcurrencyError is theirs to handle. Without it the use case is re-run on
        fresh data (PostgreSQL's READ COMMITTED can interleave two writers; SQLite
        never does), up to ``WRITE_ATTEMPTS`` times.
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._tx() as tx:
                    return body(tx)
            except ConcurrencyError:
                if expected_version is not None or attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _move_in(
        self,
        tx: Transaction,
        current: Customer,
        status: str,
        *,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        machine = self._machine_for(tx, current.folder)
        target = machine.check(current.status, status)
        if current.status == status:
            return current
        lost_reason = self._lost_reason(tx, current, target, reason, reason_text)
        now = self.clock.now()
        moved = enter_status(current, target, now, lost_reason)
        stored = tx.update_customer(moved)
        data: dict[str, JSONValue] = {"from": current.status, "to": status}
        if lost_reason is not None:
            data["reason"] = lost_reason
        tx.append_events([self._event(current.id, EventKind.STATUS_CHANGED, **data)])
        return stored

    def move_to_column(
        self,
        customer_id: int,
        flow: str,
        column: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Drop a customer's card on a column: a move to the status the column maps to."""
        target = self.flow(flow).column(column)
        return self.move(
            customer_id,
            target.status,
            expected_version=expected_version,
            reason=reason,
            reason_text=reason_text,
        )

    def timeline(
        self, customer_id: int, kinds: Iterable[EventKind | str] | None = None
    ) -> list[Event]:
        """Every event of a customer, oldest first; only those of ``kinds`` if given."""
        wanted = None if kinds is None else {EventKind(kind) for kind in kinds}
        with self._tx() as tx:
            events = self._shown_events(tx, tx.events(customer_id))
        return [event for event in events if wanted is None or event.kind in wanted]

    # flows and boards --------------------------------------------------------------

    def add_flow(
        self, name: str, rule: RuleLike = MATCH_ALL, columns: Sequence[Column] = ()
    ) -> FlowDefinition:
        """Create a flow; its name must be new, its rule must check and its columns map to statuses."""
        with self._tx() as tx:
            self._require_admin(tx, "define flows")
            flow = FlowDefinition(name, self._checked(tx, rule), columns)
            if any(existing.name == flow.name for existing in tx.list_flows()):
                raise InvalidValue(f"a flow called {flow.name!r} already exists")
            self._check_columns(self._machine(tx), flow)
            tx.put_flow(flow)
        return flow

    def _check_columns(self, machine: StatusMachine, flow: FlowDefinition) -> None:
        for column in flow.columns:
            machine.status(column.status)

    def flows(self) -> list[FlowDefinition]:
        """Every flow, by name."""
        with self._tx() as tx:
            return tx.list_flows()

    def flow(self, name: str) -> FlowDefinition:
        """The flow called ``name``."""
        with self._tx() as tx:
            return tx.get_flow(name)

    def remove_flow(self, name: str) -> None:
        """Delete a flow (customers are untouched)."""
        with self._tx() as tx:
            self._require_admin(tx, "remove flows")
            tx.delete_flow(name)

    def add_column(
        self,
        flow: str,
        name: str,
        status: str,
        *,
        colour: str | None = None,
        position: int | None = None,
    ) -> FlowDefinition:
        """Add a column to a flow, at ``position`` (default: last)."""
        with self._tx() as tx:
            self._require_admin(tx, "change flows")
            current = tx.get_flow(flow)
            at = len(current.columns) if position is None else position
            column = Column(name, status, colour or PALETTE[at % len(PALETTE)], at)
            updated = current.with_column(column)
            self._check_columns(self._machine(tx), updated)
            tx.put_flow(updated)
            return updated

    def remove_column(self, flow: str, name: str) -> FlowDefinition:
        """Remove a column; its customers show in the unmapped bucket until a column takes them."""
        with self._tx() as tx:
            self._require_admin(tx, "change flows")
            updated = tx.get_flow(flow).without_column(name)
            tx.put_flow(updated)
            return updated

    def hide(self, flow: str, customer_id: int) -> bool:
        """Hide a customer from one flow's board without changing it; whether it was shown."""
        return self._set_hidden(flow, customer_id, hidden=True)

    def unhide(self, flow: str, customer_id: int) -> bool:
        """Show a hidden customer on the flow's board again; whether it was hidden."""
        return self._set_hidden(flow, customer_id, hidden=False)

    def _set_hidden(self, flow: str, customer_id: int, *, hidden: bool) -> bool:
        kind = EventKind.HIDDEN_FROM_FLOW if hidden else EventKind.SHOWN_IN_FLOW
        with self._tx() as tx:
            tx.get_flow(flow)  # an unknown flow is named before an unknown customer
            customer_id = tx.get_customer(customer_id).id
            changed = tx.set_hidden(flow, customer_id, hidden)
            if changed:
                tx.append_events([self._event(customer_id, kind, flow=flow)])
            return changed

    def board(
        self, flow: str, *, limit: int = DEFAULT_BOARD_LIMIT, where: RuleLike = MATCH_ALL
    ) -> Board:
        """A flow's board: each column's count and first ``limit`` cards, newest activity first.

        Members whose status no column maps are never dropped: they are in ``unmapped``.
        """
        if limit < 0:
            raise InvalidValue(f"board limit must be zero or more, not {limit}")
        with self._tx() as tx:
            definition = tx.get_flow(flow)
            members = all_of(
                bind_dates(definition.rule, self._rules_today()), self._bound(tx, where)
            )
            counts = tx.count_by_status(members, hidden_from=flow)

            def cards(rule: Rule) -> tuple[Customer, ...]:
                if limit == 0:
                    return ()
                found = tx.find_customers(rule, hidden_from=flow, order="activity", limit=limit)
                return tuple(self._shown_all(tx, found))

            columns = tuple(
                BoardColumn(
                    name=column.name,
                    status=column.status,
                    colour=column.colour,
                    count=counts.get(column.status, 0),
                    cards=cards(all_of(members, InSet("status", (column.status,))))
                    if counts.get(column.status)
                    else (),
                )
                for column in definition.columns
            )
            mapped = tuple(column.status for column in definition.columns)
            unmapped_rule = all_of(members, Not(InSet("status", mapped))) if mapped else members
            unmapped_count = sum(n for status, n in counts.items() if status not in mapped)
            unmapped = BoardColumn(
                name="Unmapped",
                status=None,
                colour=None,
                count=unmapped_count,
                cards=cards(unmapped_rule) if unmapped_count else (),
            )
            return Board(flow=definition.name, columns=columns, unmapped=unmapped)

    def explain(self, flow: str, customer_id: int) -> FlowExplanation:
        """Why a customer is (or is not) on a flow's board: each clause of the rule, and hiding."""
        with self._tx() as tx:
            definition = tx.get_flow(flow)
            customer = tx.get_customer(customer_id)
            hidden = customer.id in tx.hidden_customers(flow)
        tree = explain(definition.rule, customer, today=self._rules_today())
        on_board = tree.holds and not hidden
        column = next((c.name for c in definition.columns if c.status == customer.status), None)
        return FlowExplanation(
            flow=definition.name,
            customer_id=customer.id,
            customer_name=customer.name,
            status=customer.status,
            on_board=on_board,
            hidden=hidden,
            column=column if on_board else None,
            rule=tree,
        )


def _json(customer: Customer, name: str) -> JSONValue:
    value: JSONValue = converter.unstructure(customer)[name]
    return value


def customers_from(records: Iterable[Mapping[str, Any]]) -> list[Customer]:
    """Build customers from JSON-shaped mappings (the shape ``--format json`` prints)."""
    return [converter.structure(dict(record), Customer) for record in records]
