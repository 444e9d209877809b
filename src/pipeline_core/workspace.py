"""The Workspace facade: every use case is one method and one storage transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self

import attrs

from pipeline_core.board import Board, BoardColumn
from pipeline_core.clock import Clock, SystemClock
from pipeline_core.customer import EDITABLE_FIELDS, Customer
from pipeline_core.dedupe import (
    DuplicatePolicy,
    MergeResult,
    absorb,
    check_policy,
    duplicate_error,
    matches,
    merge_records,
    resolve,
    updated_with,
)
from pipeline_core.duplicates import DuplicateCluster, clusters, collector_paused
from pipeline_core.errors import InvalidValue
from pipeline_core.events import Event, EventKind, JSONValue
from pipeline_core.flows import PALETTE, Column, FlowDefinition
from pipeline_core.normalize import customer_keys
from pipeline_core.rules.ast import MATCH_ALL, InSet, Not, Rule, all_of
from pipeline_core.serialization import converter
from pipeline_core.settings import (
    KEY_SETTINGS,
    Settings,
    parse_setting,
    setting_name,
    setting_text,
    settings_from,
)
from pipeline_core.statuses import EntryAction, StatusMachine, default_status_machine
from pipeline_core.storage import Store, Transaction, open_store

DEFAULT_STORE_URL = "sqlite:///pipeline.db"
DEFAULT_BOARD_LIMIT = 20


class Workspace:
    """An open pipeline_core workspace: a store, the actor using it, and a clock.

    Open one with ``Workspace.open(url)``; use it as a context manager to close it.
    """

    def __init__(self, store: Store, *, actor: str = "system", clock: Clock | None = None) -> None:
        self.store = store
        self.actor = actor
        self.clock: Clock = clock or SystemClock()

    @classmethod
    def open(
        cls, url: str = DEFAULT_STORE_URL, *, actor: str = "system", clock: Clock | None = None
    ) -> Self:
        """Open the workspace in the store ``url`` names, creating its schema if needed."""
        return cls(open_store(url), actor=actor, clock=clock)

    def close(self) -> None:
        """Close the underlying store."""
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Transaction]:
        with self.store.transaction() as tx:
            yield tx

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
        """
        now = self.clock.now()
        with self._tx() as tx:
            machine = self._machine(tx)
            status = machine.status(customer.status or machine.initial)
            if customer.parent_id is not None:
                customer = attrs.evolve(customer, parent_id=resolve(tx, customer.parent_id))
            draft = attrs.evolve(
                customer, status=status.name, created_at=now, updated_at=now, version=0
            )
            draft = self._enter(draft, machine, status.name)
            settings = settings_from(tx.get_setting)
            options = settings.normalize_options
            keys = customer_keys(draft, options, strict=True)
            policy = check_policy(
                on_duplicate or ("allow" if settings.allow_duplicates else "block")
            )
            found = [] if policy == "allow" else matches(tx, keys)
            if found:
                existing_id = min(customer_id for _, customer_id in found)
                if policy == "merge":
                    return absorb(
                        tx, existing_id, draft, found, options=options, now=now, event=self._event
                    )
                if policy == "update":
                    before, after = updated_with(tx, existing_id, draft, options)
                    return self._save_edit(tx, before, after)
                raise duplicate_error(tx, draft, found, options)
            stored = tx.insert_customer(draft)
            tx.append_events([self._event(stored.id, EventKind.CREATED, status=stored.status)])
            return stored

    def get_customer(self, customer_id: int) -> Customer:
        """The customer with that id (a merged one's id leads to its primary); else ``NotFound``."""
        with self._tx() as tx:
            return tx.get_customer(resolve(tx, customer_id))

    def list_customers(
        self, where: Rule = MATCH_ALL, *, limit: int | None = None, offset: int = 0
    ) -> list[Customer]:
        """Customers satisfying ``where``, oldest first."""
        with self._tx() as tx:
            return tx.find_customers(where, limit=limit, offset=offset)

    def count_customers(self, where: Rule = MATCH_ALL) -> int:
        """How many customers satisfy ``where``."""
        with self._tx() as tx:
            return tx.count_customers(where)

    def edit_customer(
        self,
        customer_id: int,
        *,
        expected_version: int | None = None,
        on_duplicate: DuplicatePolicy | None = None,
        **changes: Any,
    ) -> Customer:
        """Change fields of a customer; one event per changed field.

        Only fields in ``EDITABLE_FIELDS`` may change here: status moves go
        through ``move``. ``expected_version`` guards against lost updates.
        A phone, email or WhatsApp that the edit adds and another live customer
        holds raises ``DuplicateCustomer`` unless ``on_duplicate`` is ``allow``
        (default: the ``allow_duplicates`` setting); use ``merge`` to combine.
        """
        unknown = sorted(set(changes) - EDITABLE_FIELDS)
        if unknown:
            raise InvalidValue(
                f"cannot edit {', '.join(unknown)}; editable fields: {', '.join(sorted(EDITABLE_FIELDS))}"
            )
        with self._tx() as tx:
            current = self._current(tx, customer_id, expected_version)
            edited = attrs.evolve(current, **changes)
            if edited.parent_id != current.parent_id and edited.parent_id is not None:
                parent_id = resolve(tx, edited.parent_id)
                edited = attrs.evolve(edited, parent_id=parent_id)
                self._check_parent(tx, current.id, parent_id)
            self._check_edit_duplicates(tx, current, edited, on_duplicate)
            return self._save_edit(tx, current, edited)

    def _save_edit(self, tx: Transaction, current: Customer, edited: Customer) -> Customer:
        events = self._edit_events(current, edited)
        if not events:
            return current
        stored = tx.update_customer(attrs.evolve(edited, updated_at=self.clock.now()))
        tx.append_events(events)
        return stored

    def _check_edit_duplicates(
        self, tx: Transaction, current: Customer, edited: Customer, policy: str | None
    ) -> None:
        contacts = ("emails", "phones", "whatsapp", "country")
        if all(getattr(current, name) == getattr(edited, name) for name in contacts):
            return
        settings = settings_from(tx.get_setting)
        options = settings.normalize_options
        keys = customer_keys(edited, options, strict=True)
        chosen = check_policy(policy or ("allow" if settings.allow_duplicates else "block"))
        if chosen in ("merge", "update"):
            raise InvalidValue(
                f"an edit can only block or allow duplicates, not {chosen!r}; use merge to combine"
            )
        if chosen == "allow":
            return
        held = set(tx.contact_keys(current.id))
        found = matches(tx, [key for key in keys if key not in held], exclude=current.id)
        if found:
            raise duplicate_error(tx, edited, found, options)

    def _current(self, tx: Transaction, customer_id: int, expected: int | None) -> Customer:
        current = tx.get_customer(resolve(tx, customer_id))
        if expected is not None:
            current = attrs.evolve(current, version=expected)
        return current

    def _check_parent(self, tx: Transaction, customer_id: int, parent_id: int) -> None:
        ancestor: int | None = parent_id
        while ancestor is not None:
            if ancestor == customer_id:
                raise InvalidValue(
                    f"customer {parent_id} cannot be the parent of {customer_id}: that makes a cycle"
                )
            ancestor = tx.get_customer(ancestor).parent_id

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
        self, customer_id: int, status: str, *, expected_version: int | None = None
    ) -> Customer:
        """Move a customer to ``status`` through the status machine.

        Refused with ``TransitionNotAllowed`` if the machine does not allow it;
        moving to the current status changes nothing and records nothing.
        """
        with self._tx() as tx:
            current = self._current(tx, customer_id, expected_version)
            machine = self._machine(tx)
            machine.check(current.status, status)
            if current.status == status:
                return current
            moved = self._enter(
                attrs.evolve(current, status=status, updated_at=self.clock.now()), machine, status
            )
            stored = tx.update_customer(moved)
            tx.append_events(
                [
                    self._event(
                        customer_id,
                        EventKind.STATUS_CHANGED,
                        **{"from": current.status, "to": status},
                    )
                ]
            )
            return stored

    def _enter(self, customer: Customer, machine: StatusMachine, status: str) -> Customer:
        entered = machine.status(status)
        if EntryAction.STAMP_CONVERTED_AT in entered.actions and customer.converted_at is None:
            # The moment of entry is the use case's one "now", already in updated_at.
            customer = attrs.evolve(customer, converted_at=customer.updated_at)
        if entered.outcome is not None:
            customer = attrs.evolve(customer, outcome=entered.outcome)
        return customer

    def move_to_column(
        self, customer_id: int, flow: str, column: str, *, expected_version: int | None = None
    ) -> Customer:
        """Drop a customer's card on a column: a move to the status the column maps to."""
        target = self.flow(flow).column(column)
        return self.move(customer_id, target.status, expected_version=expected_version)

    def timeline(self, customer_id: int) -> list[Event]:
        """Every event of a customer, oldest first."""
        with self._tx() as tx:
            return tx.events(resolve(tx, customer_id))

    # settings, duplicates and merges --------------------------------------------------

    def settings(self) -> Settings:
        """The workspace settings (default region, allow duplicates, gmail folding)."""
        with self._tx() as tx:
            return settings_from(tx.get_setting)

    def get_setting(self, name: str) -> str:
        """One setting's value as text (``true``/``false``, a region, or empty)."""
        return setting_text(self.settings(), name)

    def set_setting(self, name: str, value: str) -> Settings:
        """Change a setting; one that changes contact keys re-indexes every customer."""
        name = setting_name(name)
        text = parse_setting(name, value)
        with self._tx() as tx:
            before = tx.get_setting(name)
            tx.put_setting(name, text)
            if name in KEY_SETTINGS and (before or "") != text:
                tx.rebuild_contact_keys()
            return settings_from(tx.get_setting)

    def find_duplicates(self, *, with_customers: bool = False) -> list[DuplicateCluster]:
        """Clusters of live customers sharing a phone, email or WhatsApp key, transitively.

        Grouped in the store by key (an index scan), joined with union-find:
        never a pairwise comparison. ``with_customers`` loads the records too.
        """
        with self._tx() as tx, collector_paused():
            found = clusters(tx.duplicate_groups())
            if not with_customers:
                return found
            wanted = [customer_id for cluster in found for customer_id in cluster.customer_ids]
            records = {c.id: c for c in tx.get_customers(wanted)}
            return [
                attrs.evolve(cluster, customers=tuple(records[i] for i in cluster.customer_ids))
                for cluster in found
            ]

    def merge(self, primary: int, others: Sequence[int], *, dry_run: bool = False) -> MergeResult:
        """Merge ``others`` into ``primary`` in one transaction; ``dry_run`` changes nothing.

        The primary's values win and its blanks are filled from the others in
        order; contacts, tags and workers are unions de-duplicated by normalized
        key; custom fields merge like scalars; the primary keeps its status.
        Events, sub-customers and flow hides move to the primary; the others
        become tombstones whose ids lead to it. One ``merged`` event records what
        came from which record.
        """
        return self.merge_many([(primary, others)], dry_run=dry_run)[0]

    def merge_many(
        self, merges: Sequence[tuple[int, Sequence[int]]], *, dry_run: bool = False
    ) -> list[MergeResult]:
        """Several merges in one transaction, in order; a record one consumed cannot be used again."""
        now = self.clock.now()
        try:
            with self._tx() as tx:
                options = settings_from(tx.get_setting).normalize_options
                consumed: dict[int, int] = {}
                results = [
                    merge_records(
                        tx,
                        primary,
                        list(others),
                        options=options,
                        now=now,
                        event=self._event,
                        consumed=consumed,
                    )
                    for primary, others in merges
                ]
                if dry_run:
                    raise _DryRun([attrs.evolve(r, dry_run=True) for r in results])
                return results
        except _DryRun as rolled_back:
            return rolled_back.results

    # flows and boards --------------------------------------------------------------

    def add_flow(
        self, name: str, rule: Rule = MATCH_ALL, columns: Sequence[Column] = ()
    ) -> FlowDefinition:
        """Create a flow; its name must be new and its columns must map to known statuses."""
        flow = FlowDefinition(name, rule, columns)
        with self._tx() as tx:
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
            customer_id = resolve(tx, customer_id)
            changed = tx.set_hidden(flow, customer_id, hidden)
            if changed:
                tx.append_events([self._event(customer_id, kind, flow=flow)])
            return changed

    def board(
        self, flow: str, *, limit: int = DEFAULT_BOARD_LIMIT, where: Rule = MATCH_ALL
    ) -> Board:
        """A flow's board: each column's count and first ``limit`` cards, newest activity first.

        Members whose status no column maps are never dropped: they are in ``unmapped``.
        """
        if limit < 0:
            raise InvalidValue(f"board limit must be zero or more, not {limit}")
        with self._tx() as tx:
            definition = tx.get_flow(flow)
            members = all_of(definition.rule, where)
            counts = tx.count_by_status(members, hidden_from=flow)

            def cards(rule: Rule) -> tuple[Customer, ...]:
                if limit == 0:
                    return ()
                found = tx.find_customers(rule, hidden_from=flow, order="activity", limit=limit)
                return tuple(found)

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


class _DryRun(Exception):
    """Carries dry-run results out of a transaction so that it rolls back."""

    def __init__(self, results: list[MergeResult]) -> None:
        super().__init__("dry run")
        self.results = results


def _json(customer: Customer, name: str) -> JSONValue:
    value: JSONValue = converter.unstructure(customer)[name]
    return value


def customers_from(records: Iterable[Mapping[str, Any]]) -> list[Customer]:
    """Build customers from JSON-shaped mappings (the shape ``--format json`` prints)."""
    return [converter.structure(dict(record), Customer) for record in records]
