"""``ws.fields``, ``ws.folders``, ``ws.automations``, ``ws.settings``: shaping the workspace."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Protocol

from pipeline_core.domain.access import FolderAccess, Role
from pipeline_core.domain.automation import Automation
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.duplicate_settings import DuplicateSettings
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.workspace import automations, duplicates, fields, folders, life
from pipeline_core.workspace.fields import OptionRenamed
from pipeline_core.workspace.session import SessionOpener


class Fields:
    """Typed custom fields."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(self, definition: FieldDefinition) -> FieldDefinition:
        """Add a custom field definition; its key must be new."""
        return self._opener.run(fields.add, definition)

    def list(self) -> builtins.list[FieldDefinition]:
        """Every custom field definition, by key."""
        return self._opener.run(fields.list_fields)

    def get(self, key: str) -> FieldDefinition:
        """The definition of custom field ``key``."""
        return self._opener.run(fields.get, key)

    def remove(self, key: str) -> None:
        """Delete a custom field definition; refused while customers hold a value for it."""
        self._opener.run(fields.remove, key)

    def add_options(
        self, key: str, options: Iterable[str], *, expected_version: int | None = None
    ) -> FieldDefinition:
        """Add options to a select field."""
        return self._opener.run(
            fields.add_options, key, tuple(options), expected_version=expected_version
        )

    def rename_option(
        self, key: str, old: str, new: str, *, expected_version: int | None = None
    ) -> OptionRenamed:
        """Rename a select option and every customer's value with it, in one transaction."""
        return self._opener.run(
            fields.rename_option, key, old, new, expected_version=expected_version
        )


class Folders:
    """Folders: groups of customers with their own status machine, fields and access."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(
        self, name: str, machine: StatusMachine | None = None, fields: Iterable[str] = ()
    ) -> Folder:
        """Define a folder with its own status machine (None: the workspace's) and fields."""
        return self._opener.run(folders.add, name, machine, tuple(fields))

    def list(self) -> builtins.list[Folder]:
        """Every defined folder, by name."""
        return self._opener.run(folders.list_folders)

    def get(self, name: str) -> Folder:
        """The folder called ``name``."""
        return self._opener.run(folders.get, name)

    def remove(self, name: str) -> None:
        """Delete a folder definition; refused while customers are in it."""
        self._opener.run(folders.remove, name)

    def access(
        self,
        folder: str,
        *,
        enter: Iterable[Role | str] | None = None,
        leave: Iterable[Role | str] | None = None,
    ) -> FolderAccess:
        """Say which roles may move customers into and out of a folder (empty: every role)."""
        return self._opener.run(folders.set_access, folder, enter=enter, leave=leave)


class AutomationRunner(SessionOpener, Protocol):
    """A session opener that can run a stored automation by hand."""

    def run_automation(self, name: str, customer_id: int) -> bool:
        """Run automation ``name`` on one customer; False if the customer does not match."""
        ...


class Automations:
    """Declarative automations: when an event happens to a matching customer, act."""

    def __init__(self, opener: AutomationRunner) -> None:
        self._opener = opener

    def add(self, automation: Automation) -> Automation:
        """Store a declarative automation; its name must be new."""
        return self._opener.run(automations.add, automation)

    def list(self) -> builtins.list[Automation]:
        """Every stored automation, by name."""
        return self._opener.run(automations.list_automations)

    def remove(self, name: str) -> None:
        """Delete an automation."""
        self._opener.run(automations.remove, name)

    def run(self, name: str, customer_id: int) -> bool:
        """Run an automation by hand on one customer; False if the customer does not match."""
        return self._opener.run_automation(name, customer_id)


class Settings:
    """Workspace settings: the lifecycle (zone, reminder hour, lost reasons) and duplicates."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def show(self) -> LifecycleSettings:
        """The time zone, reminder hour and lost reasons in force."""
        return self._opener.run(life.settings)

    def set(
        self,
        *,
        time_zone: str | None = None,
        reminder_hour: int | None = None,
        lost_reasons: Iterable[str] | None = None,
    ) -> LifecycleSettings:
        """Change some of the lifecycle settings; the others stay."""
        return self._opener.run(
            life.configure,
            time_zone=time_zone,
            reminder_hour=reminder_hour,
            lost_reasons=None if lost_reasons is None else tuple(lost_reasons),
        )

    def duplicates(
        self,
        *,
        default_region: str | None = None,
        allow_duplicates: bool | None = None,
        fold_gmail: bool | None = None,
    ) -> DuplicateSettings:
        """The duplicate settings, after changing those given ('' clears the region).

        Changing the region or gmail folding recomputes every customer's contact keys.
        """
        return self._opener.run(
            duplicates.configure,
            default_region=default_region,
            allow_duplicates=allow_duplicates,
            fold_gmail=fold_gmail,
        )
