"""What the Workspace's use-case mixins need from the facade: transactions, events, machines."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from pipeline_core.customer import Customer
from pipeline_core.domain.access import SETTINGS_KEY as ACCESS_KEY
from pipeline_core.domain.access import AccessSettings, Principal, masked, masked_event
from pipeline_core.domain.automation import Hooks
from pipeline_core.domain.clock import Clock
from pipeline_core.domain.custom_fields import SETTINGS_KEY as FIELDS_KEY
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.folders import SETTINGS_KEY as FOLDERS_KEY
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.settings import SETTINGS_KEY as LIFECYCLE_KEY
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import Status, StatusMachine
from pipeline_core.errors import PermissionDenied
from pipeline_core.rules.ast import Rule
from pipeline_core.storage import Transaction


class ScopedTransaction(Transaction, Protocol):
    """A transaction whose customer reads are limited to what ``principal`` may see.

    ``scope`` is the visibility rule composed into every customer read;
    ``unscoped`` is the raw transaction, for checks that must see everything.
    """

    principal: Principal
    scope: Rule
    unscoped: Transaction


class WorkspaceBase(abc.ABC):
    """The facade's plumbing, shared by the mixins that add the customer's-life use cases."""

    clock: Clock
    actor: str
    hooks: Hooks
    _acting_user: str | None

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[ScopedTransaction]:
        """One storage transaction whose events are published after it commits."""

    @abc.abstractmethod
    def _event(self, customer_id: int, kind: EventKind, **data: JSONValue) -> Event:
        """An event of the customer, now, by the current actor."""

    @abc.abstractmethod
    def _machine(self, tx: Transaction) -> StatusMachine:
        """The workspace's status machine (created if missing)."""

    @abc.abstractmethod
    def get_customer(self, customer_id: int) -> Customer:
        """The customer with that id."""

    @abc.abstractmethod
    def edit_customer(
        self, customer_id: int, *, expected_version: int | None = None, **changes: Any
    ) -> Customer:
        """Change editable fields of a customer."""

    @abc.abstractmethod
    def _move_in(
        self,
        tx: Transaction,
        current: Customer,
        status: str,
        *,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Move ``current`` to ``status`` through its folder's machine, inside ``tx``."""

    # settings-backed definitions --------------------------------------------------

    def _lifecycle(self, tx: Transaction) -> LifecycleSettings:
        data = tx.get_setting(LIFECYCLE_KEY)
        if data is None:
            return LifecycleSettings()
        return converter.structure(data, LifecycleSettings)

    def _folders(self, tx: Transaction) -> dict[str, Folder]:
        data: Any = tx.get_setting(FOLDERS_KEY) or {}
        return {name: converter.structure(value, Folder) for name, value in data.items()}

    def _put_folders(self, tx: Transaction, folders: dict[str, Folder]) -> None:
        tx.put_setting(
            FOLDERS_KEY, {name: converter.unstructure(folders[name]) for name in sorted(folders)}
        )

    def _field_definitions(self, tx: Transaction) -> dict[str, FieldDefinition]:
        data: Any = tx.get_setting(FIELDS_KEY) or {}
        return {key: converter.structure(value, FieldDefinition) for key, value in data.items()}

    def _put_field_definitions(self, tx: Transaction, fields: dict[str, FieldDefinition]) -> None:
        tx.put_setting(
            FIELDS_KEY, {key: converter.unstructure(fields[key]) for key in sorted(fields)}
        )

    def _machine_for(self, tx: Transaction, folder: str | None) -> StatusMachine:
        """The status machine of ``folder`` (the workspace's when it has none of its own)."""
        default = self._machine(tx)
        if folder is None:
            return default
        found = self._folders(tx).get(folder)
        return default if found is None else found.machine_or(default)

    def _applicable_fields(self, tx: Transaction, folder: str | None) -> tuple[str, ...] | None:
        found = None if folder is None else self._folders(tx).get(folder)
        return None if found is None else found.applicable

    def _lost_reason(
        self,
        tx: Transaction,
        current: Customer,
        target: Status,
        reason: str | None,
        reason_text: str | None,
    ) -> str | None:
        """The lost reason to record on entering ``target``; None unless it is a lost status.

        Moving between two lost statuses keeps the reason already recorded unless a new one is given.
        """
        if target.outcome != "lost":
            return None
        if reason is None and current.outcome == "lost" and current.lost_reason:
            return current.lost_reason
        return self._lifecycle(tx).lost_reason(reason, reason_text)

    @contextmanager
    def _acting_as(self, actor: str) -> Iterator[None]:
        """Record events made inside the block under another actor (an automation).

        Automations are configured by admins and run with the system's rights.
        """
        before, self.actor = self.actor, actor
        user, self._acting_user = self._acting_user, None
        try:
            yield
        finally:
            self.actor = before
            self._acting_user = user

    # permissions ------------------------------------------------------------------

    def _access(self, tx: Transaction) -> AccessSettings:
        data = tx.get_setting(ACCESS_KEY)
        return AccessSettings() if data is None else converter.structure(data, AccessSettings)

    def _hides_contacts(self, tx: ScopedTransaction) -> bool:
        """Whether contact data is masked for the actor (an agent, when the setting says so)."""
        return tx.principal.role == "agent" and self._access(tx).hide_contacts_from_agents

    def _shown(self, tx: ScopedTransaction, customer: Customer) -> Customer:
        """The customer as the actor may see it (contact data masked if hidden from them)."""
        return masked(customer) if self._hides_contacts(tx) else customer

    def _shown_events(self, tx: ScopedTransaction, events: list[Event]) -> list[Event]:
        """Events as the actor may see them: edits of hidden contact data masked."""
        if not self._hides_contacts(tx):
            return events
        return [masked_event(event) for event in events]

    def _shown_all(self, tx: ScopedTransaction, customers: list[Customer]) -> list[Customer]:
        """``_shown`` for many customers, reading the setting once."""
        if not self._hides_contacts(tx):
            return customers
        return [masked(customer) for customer in customers]

    def _require_admin(self, tx: ScopedTransaction, what: str) -> None:
        """Refuse ``what`` unless the actor is an admin or the system."""
        if tx.principal.role != "admin":
            raise PermissionDenied(
                f"{tx.principal.name!r} ({tx.principal.role}) may not {what}; admins only"
            )

    def _check_folder_change(
        self, tx: ScopedTransaction, before: str | None, after: str | None
    ) -> None:
        """Refuse moving a customer out of ``before`` or into ``after`` if the role may not."""
        if before == after:
            return
        role = tx.principal.role
        folders = self._folders(tx)
        leaving = None if before is None else folders.get(before)
        if leaving is not None and not leaving.access.may_leave(role):
            raise PermissionDenied(
                f"{role}s may not move customers out of folder {before!r}"
                f" (allowed: {', '.join(leaving.access.leave)})"
            )
        entering = None if after is None else folders.get(after)
        if entering is not None and not entering.access.may_enter(role):
            raise PermissionDenied(
                f"{role}s may not move customers into folder {after!r}"
                f" (allowed: {', '.join(entering.access.enter)})"
            )
