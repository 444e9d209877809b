"""The Store protocol: what every backend (memory, SQLite, PostgreSQL, third-party) implements."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from pipeline_core.customer import Customer
from pipeline_core.events import Event
from pipeline_core.flows import FlowDefinition
from pipeline_core.normalize import ContactKey
from pipeline_core.rules.ast import Rule
from pipeline_core.statuses import StatusMachine

Order = Literal["id", "activity"]
"""``id``: oldest first. ``activity``: most recently updated first (board cards)."""

SCHEMA_VERSION = 2
"""The schema version this release writes; stores at a higher version are refused."""


class Transaction(Protocol):
    """One unit of work against a store: everything in it commits together or not at all."""

    def get_customer(self, customer_id: int) -> Customer:
        """The customer with that id; ``NotFound`` if there is none."""
        ...

    def insert_customer(self, customer: Customer) -> Customer:
        """Store a new customer (its id is ignored) and return it with its id and version 1."""
        ...

    def update_customer(self, customer: Customer) -> Customer:
        """Replace a stored customer whose version equals ``customer.version``.

        Returns it with the version incremented. ``ConcurrencyError`` if the
        stored version differs, ``NotFound`` if it does not exist.
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
    ) -> list[Customer]:
        """Customers satisfying ``rule``, optionally leaving out those hidden from a flow."""
        ...

    def count_customers(self, rule: Rule, *, hidden_from: str | None = None) -> int:
        """How many customers satisfy ``rule``."""
        ...

    def count_by_status(self, rule: Rule, *, hidden_from: str | None = None) -> dict[str, int]:
        """How many customers satisfying ``rule`` are in each status (absent: none)."""
        ...

    def append_events(self, events: Sequence[Event]) -> None:
        """Append events to their customers' timelines."""
        ...

    def events(self, customer_id: int) -> list[Event]:
        """A customer's timeline, oldest first."""
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

    # settings, contact keys and merges (duplicates) -------------------------------

    def get_setting(self, name: str) -> str | None:
        """The stored text of a workspace setting, None if it was never set."""
        ...

    def put_setting(self, name: str, value: str) -> None:
        """Store a workspace setting's text, replacing any earlier value."""
        ...

    def find_by_keys(self, keys: Sequence[ContactKey]) -> list[tuple[ContactKey, int]]:
        """``(key, customer id)`` for every live customer holding one of ``keys``; an index look-up.

        Customers' valid contact keys are indexed by ``insert_customer`` and
        ``update_customer`` (see ``pipeline_core.normalize.index_keys``), with the
        normalization options the stored settings give.
        """
        ...

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        """The indexed keys of one customer (none for a tombstone)."""
        ...

    def rebuild_contact_keys(self) -> None:
        """Recompute every live customer's keys (after a setting that changes them changed)."""
        ...

    def duplicate_groups(self) -> list[tuple[ContactKey, tuple[int, ...]]]:
        """Every key held by two or more live customers, with their ids ascending; in key order.

        Backends find the shared keys with a GROUP BY over the key index, never by
        comparing customers pairwise.
        """
        ...

    def get_customers(self, customer_ids: Sequence[int]) -> list[Customer]:
        """The customers with these ids, in id order; unknown ids are left out."""
        ...

    def children(self, customer_id: int) -> list[int]:
        """Ids of the customers whose parent is ``customer_id``, ascending; an index look-up."""
        ...

    def move_events(self, from_id: int, to_id: int) -> list[int]:
        """Move every event of ``from_id`` to ``to_id``'s timeline; the moved event ids."""
        ...

    def hidden_flows(self, customer_id: int) -> list[str]:
        """Names of the flows a customer is hidden from, by name."""
        ...

    def mark_merged(self, customer_id: int, into: int) -> None:
        """Turn a customer into a tombstone pointing at ``into``.

        It drops its contact keys and leaves finds, counts and duplicate groups;
        tombstones that pointed at it now point at ``into``.
        """
        ...

    def merged_into(self, customer_id: int) -> int | None:
        """The customer a tombstone was merged into; None for a live customer."""
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
