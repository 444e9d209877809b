"""What the Workspace's use-case mixins need from the facade: transactions, events, machines."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from pipeline_core.automation import Hooks
from pipeline_core.clock import Clock
from pipeline_core.custom_fields import SETTINGS_KEY as FIELDS_KEY
from pipeline_core.custom_fields import FieldDefinition
from pipeline_core.customer import Customer
from pipeline_core.events import Event, EventKind, JSONValue
from pipeline_core.folders import SETTINGS_KEY as FOLDERS_KEY
from pipeline_core.folders import Folder
from pipeline_core.serialization import converter
from pipeline_core.settings import SETTINGS_KEY as LIFECYCLE_KEY
from pipeline_core.settings import LifecycleSettings
from pipeline_core.statuses import Status, StatusMachine
from pipeline_core.storage import Transaction


class WorkspaceBase(abc.ABC):
    """The facade's plumbing, shared by the mixins that add the customer's-life use cases."""

    clock: Clock
    actor: str
    hooks: Hooks

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Transaction]:
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
        """Record events made inside the block under another actor (an automation)."""
        before, self.actor = self.actor, actor
        try:
            yield
        finally:
            self.actor = before
