"""The Store protocol: what every backend (memory, SQLite, PostgreSQL, third-party) implements."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from pipeline_core.customer import Customer
from pipeline_core.events import Event
from pipeline_core.flows import FlowDefinition
from pipeline_core.rules.ast import Rule
from pipeline_core.statuses import StatusMachine

Order = Literal["id", "activity"]
"""``id``: oldest first. ``activity``: most recently updated first (board cards)."""

SCHEMA_VERSION = 1
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

    def custom_field_kinds(self) -> dict[str, frozenset[str]]:
        """Every custom field key customers hold, with the stored kinds of its values.

        Kinds are those of ``serialization.typed_field_value``: text, int,
        float, decimal, bool, date, datetime, list. Rules type-check with it.
        """
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


class Store(Protocol):
    """A place customers live. Opened from a URL by ``pipeline_core.storage.open_store``."""

    url: str

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Begin a unit of work; it commits when the block ends and rolls back on an exception."""
        ...

    def close(self) -> None:
        """Release the store's resources; the store is unusable afterwards."""
        ...
