"""Workspace use cases that shape the workspace: folders, custom fields, automations, hooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import Task
from pipeline_core.domain.automation import SETTINGS_KEY as AUTOMATIONS_KEY
from pipeline_core.domain.automation import Action, Automation, Handler
from pipeline_core.domain.custom_fields import FieldDefinition, renamed_value, validate_fields
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.outcomes import enter_status
from pipeline_core.domain.serialization import converter, plain_field_value
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue, NotFound, StaleDefinition
from pipeline_core.rules.ast import InSet
from pipeline_core.rules.dates import utc_today
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import ScopedTransaction, WorkspaceBase

if TYPE_CHECKING:
    from pipeline_core.workspace.facade import Workspace


@attrs.frozen
class OptionRenamed:
    """The outcome of a select-option rename: the new definition and how many customers changed."""

    definition: FieldDefinition
    changed: int


class SetupMixin(WorkspaceBase):
    """Folders with their own status machines, typed custom fields, and automation."""

    # custom fields --------------------------------------------------------------------

    def define_field(self, definition: FieldDefinition) -> FieldDefinition:
        """Add a custom field definition; its key must be new.

        Once any field is defined, customers' fields are validated and typed against
        the definitions, and unknown keys are refused.
        """
        with self._tx() as tx:
            self._require_admin(tx, "define custom fields")
            fields = self._field_definitions(tx)
            if definition.key in fields:
                raise InvalidValue(f"a custom field {definition.key!r} is already defined")
            stored = attrs.evolve(definition, version=1)
            fields[stored.key] = stored
            self._put_field_definitions(tx, fields)
            return stored

    def field_definitions(self) -> list[FieldDefinition]:
        """Every custom field definition, by key."""
        with self._tx() as tx:
            return [d for _, d in sorted(self._field_definitions(tx).items())]

    def field_definition(self, key: str) -> FieldDefinition:
        """The definition of custom field ``key``."""
        with self._tx() as tx:
            return self._definition(tx, key)

    def _definition(self, tx: Transaction, key: str) -> FieldDefinition:
        fields = self._field_definitions(tx)
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise NotFound(f"no custom field {key!r}; defined fields: {known}")
        return fields[key]

    def remove_field(self, key: str) -> None:
        """Delete a custom field definition; refused while customers hold a value for it."""
        with self._tx() as tx:
            self._require_admin(tx, "remove custom fields")
            fields = self._field_definitions(tx)
            self._definition(tx, key)
            holders = tx.customers_with_field(key)
            if holders:
                raise InvalidValue(
                    f"{len(holders)} customer(s) hold a value for {key!r}; clear them first"
                )
            del fields[key]
            self._put_field_definitions(tx, fields)

    def add_options(
        self, key: str, options: Iterable[str], *, expected_version: int | None = None
    ) -> FieldDefinition:
        """Add options to a select field."""
        with self._tx() as tx:
            self._require_admin(tx, "change custom fields")
            current = self._fresh_definition(tx, key, expected_version)
            if current.type not in ("select", "multi_select"):
                raise InvalidValue(f"field {key!r} is {current.type}, not a select")
            updated = attrs.evolve(
                current, options=(*current.options, *options), version=current.version + 1
            )
            fields = self._field_definitions(tx)
            fields[key] = updated
            self._put_field_definitions(tx, fields)
            return updated

    def _fresh_definition(
        self, tx: Transaction, key: str, expected_version: int | None
    ) -> FieldDefinition:
        current = self._definition(tx, key)
        if expected_version is not None and expected_version != current.version:
            raise StaleDefinition(f"custom field {key!r}", expected_version, current.version)
        return current

    def rename_option(
        self, key: str, old: str, new: str, *, expected_version: int | None = None
    ) -> OptionRenamed:
        """Rename a select option and every customer's value with it, in one transaction.

        Refused if ``new`` is an option already, and with ``StaleDefinition`` (a
        ``ConcurrencyError``) if the definition is no longer at ``expected_version``.
        """
        with self._tx() as tx:
            self._require_admin(tx, "change custom fields")
            current = self._fresh_definition(tx, key, expected_version)
            updated = current.rename_option(old, new)
            fields = self._field_definitions(tx)
            fields[key] = updated
            self._put_field_definitions(tx, fields)
            changed = 0
            now = self.clock.now()
            for customer in tx.customers_with_field(key):
                value = renamed_value(
                    customer.fields[key], old, updated.options[current.options.index(old)]
                )
                if value is None:
                    continue
                before = plain_field_value(customer.fields[key])
                new_fields = {**customer.fields, key: value}
                tx.update_customer(attrs.evolve(customer, fields=new_fields, updated_at=now))
                tx.append_events(
                    [
                        self._event(
                            customer.id,
                            EventKind.EDITED,
                            field=f"fields.{key}",
                            before=before,
                            after=plain_field_value(value),
                        )
                    ]
                )
                changed += 1
            return OptionRenamed(updated, changed)

    def _checked_fields(
        self, tx: Transaction, folder: str | None, values: Mapping[str, object]
    ) -> dict[str, object]:
        return validate_fields(
            self._field_definitions(tx), values, self._applicable_fields(tx, folder)
        )

    # folders --------------------------------------------------------------------------

    def add_folder(
        self, name: str, machine: StatusMachine | None = None, fields: Iterable[str] = ()
    ) -> Folder:
        """Define a folder with its own status machine (None: the workspace's) and fields."""
        folder = Folder(name=name, machine=machine, fields=tuple(fields))
        with self._tx() as tx:
            self._require_admin(tx, "define folders")
            folders = self._folders(tx)
            if folder.name in folders:
                raise InvalidValue(f"a folder called {folder.name!r} already exists")
            defined = self._field_definitions(tx)
            unknown = [key for key in folder.fields if key not in defined]
            if unknown:
                raise InvalidValue(
                    f"folder {folder.name!r} names undefined custom field(s): {', '.join(unknown)}"
                )
            folders[folder.name] = folder
            self._put_folders(tx, folders)
            return folder

    def folders(self) -> list[Folder]:
        """Every defined folder, by name."""
        with self._tx() as tx:
            return [f for _, f in sorted(self._folders(tx).items())]

    def folder(self, name: str) -> Folder:
        """The folder called ``name``."""
        with self._tx() as tx:
            found = self._folders(tx).get(name)
            if found is None:
                raise NotFound(f"no folder called {name!r}")
            return found

    def remove_folder(self, name: str) -> None:
        """Delete a folder definition; refused while customers are in it."""
        with self._tx() as tx:
            self._require_admin(tx, "remove folders")
            folders = self._folders(tx)
            if name not in folders:
                raise NotFound(f"no folder called {name!r}")
            inside = tx.count_customers(InSet("folder", (name,)))
            if inside:
                raise InvalidValue(f"{inside} customer(s) are in folder {name!r}; move them first")
            del folders[name]
            self._put_folders(tx, folders)

    def set_folder(
        self,
        customer_id: int,
        folder: str | None,
        *,
        status: str | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Move a customer into ``folder`` (None: out of any), switching status machine.

        If the folder's machine lacks the customer's status, ``status`` must name
        the status to take there; otherwise it is a clear error.
        """
        with self._tx() as tx:
            current = tx.lock_customer(customer_id)
            moved = self._set_folder_in(tx, current, folder, status, reason, reason_text)
            return self._shown(tx, moved)

    def _set_folder_in(
        self,
        tx: Transaction,
        current: Customer,
        folder: str | None,
        status: str | None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        folder = folder.strip() or None if folder is not None else None
        self._check_folder_change(cast(ScopedTransaction, tx), current.folder, folder)
        machine = self._machine_for(tx, folder)
        target = status
        if target is None:
            if current.status not in machine:
                raise InvalidValue(
                    f"folder {folder!r} uses status machine {machine.name!r}, which has no "
                    f"status {current.status!r}; give the status to take there: "
                    f"{', '.join(machine.names)}"
                )
            target = current.status
        entered = machine.status(target)
        if folder == current.folder and target == current.status:
            return current
        if machine == self._machine_for(tx, current.folder):
            machine.check(current.status, target)
        now = self.clock.now()
        updated = attrs.evolve(current, folder=folder, updated_at=now)
        events = []
        if folder != current.folder:
            events.append(
                self._event(
                    current.id, EventKind.FOLDER_CHANGED, **{"from": current.folder, "to": folder}
                )
            )
        if target != current.status:
            lost_reason = self._lost_reason(tx, current, entered, reason, reason_text)
            updated = enter_status(updated, entered, now, lost_reason)
            data: dict[str, JSONValue] = {"from": current.status, "to": target}
            if lost_reason is not None:
                data["reason"] = lost_reason
            events.append(self._event(current.id, EventKind.STATUS_CHANGED, **data))
        stored = tx.update_customer(updated)
        tx.append_events(events)
        return stored

    def _check_folder_status(self, tx: Transaction, edited: Customer) -> None:
        machine = self._machine_for(tx, edited.folder)
        if edited.status not in machine:
            raise InvalidValue(
                f"folder {edited.folder!r} uses status machine {machine.name!r}, which has no "
                f"status {edited.status!r}; use set_folder with one of: {', '.join(machine.names)}"
            )

    # automation -----------------------------------------------------------------------

    def on(self, kind: EventKind | str, handler: Handler) -> None:
        """Call ``handler(event, workspace)`` for every committed event of ``kind``.

        Handlers run after the transaction commits; one that raises is recorded in
        ``hooks.failures`` (and logged) and neither undoes the change nor stops others.
        """
        self.hooks.on(EventKind(kind), handler)

    def add_automation(self, automation: Automation) -> Automation:
        """Store a declarative automation; its name must be new."""
        with self._tx() as tx:
            self._require_admin(tx, "define automations")
            stored = self._automations(tx)
            if automation.name in stored:
                raise InvalidValue(f"an automation called {automation.name!r} already exists")
            stored[automation.name] = automation
            self._put_automations(tx, stored)
            return automation

    def automations(self) -> list[Automation]:
        """Every stored automation, by name."""
        with self._tx() as tx:
            return [a for _, a in sorted(self._automations(tx).items())]

    def remove_automation(self, name: str) -> None:
        """Delete an automation."""
        with self._tx() as tx:
            self._require_admin(tx, "remove automations")
            stored = self._automations(tx)
            if name not in stored:
                raise NotFound(f"no automation called {name!r}")
            del stored[name]
            self._put_automations(tx, stored)

    def run_automation(self, name: str, customer_id: int) -> bool:
        """Run an automation by hand on one customer; False if the customer does not match."""
        with self._tx() as tx:
            automation = self._automations(tx).get(name)
            if automation is None:
                raise NotFound(f"no automation called {name!r}")
            tx.get_customer(customer_id)
        return self._apply_automation(automation, customer_id, None)

    def _automations(self, tx: Transaction) -> dict[str, Automation]:
        return _structure_automations(tx.get_setting(AUTOMATIONS_KEY))

    def _put_automations(self, tx: Transaction, automations: dict[str, Automation]) -> None:
        tx.put_setting(
            AUTOMATIONS_KEY,
            {name: converter.unstructure(automations[name]) for name in sorted(automations)},
        )

    def _publish(self, events: list[Event], automations_data: JSONValue) -> None:
        automations = list(_structure_automations(automations_data).values())

        def run(event: Event) -> None:
            for automation in automations:
                if automation.name in self.hooks.running or not automation.triggered_by(event):
                    continue
                try:
                    self._apply_automation(automation, event.customer_id, event)
                except Exception as error:
                    self.hooks.report(event, f"automation {automation.name!r}", error)

        self.hooks.publish(events, cast("Workspace", self), run)

    def _apply_automation(
        self, automation: Automation, customer_id: int, trigger: Event | None
    ) -> bool:
        name = automation.name
        with (
            self.hooks.running_automation(name),
            self._acting_as(f"automation:{name}"),
            self._tx() as tx,
        ):
            customer = tx.get_customer(customer_id)
            # Rules compare UTC days (docs/rules.md); actions use the workspace's zone.
            rule_day = utc_today(self.clock.now())
            if not compile_predicate(automation.rule, today=rule_day)(customer):
                return False
            today = self.clock.now().astimezone(self._lifecycle(tx).zone).date()
            for action in automation.actions:
                customer = self._apply_action(tx, customer, action, today)
            tx.append_events(
                [
                    self._event(
                        customer_id,
                        EventKind.AUTOMATION_RAN,
                        automation=name,
                        trigger="manual" if trigger is None else trigger.kind.value,
                    )
                ]
            )
        return True

    def _apply_action(
        self, tx: Transaction, customer: Customer, action: Action, today: date
    ) -> Customer:
        match action.kind:
            case "add_tag" | "remove_tag":
                return self._retag_in(tx, customer, action.value.strip(), action.kind == "add_tag")
            case "set_folder":
                return self._set_folder_in(tx, customer, action.value, action.status, action.reason)
            case "move_status":
                return self._move_in(tx, customer, action.value.strip(), reason=action.reason)
            case "create_task":
                task = Task(
                    customer_id=customer.id,
                    title=action.value,
                    due=today + timedelta(days=action.days),
                    worker=action.worker,
                    priority=action.priority,
                    created_at=self.clock.now(),
                )
                self._add_task_in(tx, task)
                return customer
            case "schedule_follow_up":
                return self._schedule_in(
                    tx, customer, today + timedelta(days=action.days), action.value or None
                )
        raise InvalidValue(f"unknown action {action.kind!r}")  # pragma: no cover

    def _retag_in(self, tx: Transaction, customer: Customer, tag: str, add: bool) -> Customer:
        if (tag in customer.tags) == add:
            return customer
        tags = (*customer.tags, tag) if add else tuple(t for t in customer.tags if t != tag)
        stored = tx.update_customer(attrs.evolve(customer, tags=tags, updated_at=self.clock.now()))
        tx.append_events(
            [
                self._event(
                    customer.id,
                    EventKind.TAGS_CHANGED,
                    added=[tag] if add else [],
                    removed=[] if add else [tag],
                )
            ]
        )
        return stored

    def _add_task_in(self, tx: Transaction, task: Task) -> Task:
        raise NotImplementedError  # provided by LifeMixin

    def _schedule_in(
        self, tx: Transaction, current: Customer, on: date, notes: str | None
    ) -> Customer:
        raise NotImplementedError  # provided by LifeMixin


def _structure_automations(data: Any) -> dict[str, Automation]:
    if not data:
        return {}
    return {name: converter.structure(value, Automation) for name, value in data.items()}
