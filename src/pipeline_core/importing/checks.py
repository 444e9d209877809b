"""The checks ``add_customer`` makes of a new customer, as plain data an import carries along.

An import reads the workspace's status machines, folders, custom field
definitions and lost reasons once, when it starts, and checks every row
against that snapshot: in the importing process or in a worker process alike
(the snapshot pickles), and without a read per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from pipeline_core.customer import EPOCH, Customer, trusted_replace
from pipeline_core.domain.custom_fields import FieldDefinition, validate_fields
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.outcomes import status_changes
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import ImportRowError, InvalidValue, PipelineError


@attrs.frozen
class RowChecks:
    """A workspace's rules for new customers: machines by folder, custom fields, lost reasons."""

    machine: StatusMachine
    folders: Mapping[str, Folder] = attrs.field(factory=dict)
    definitions: Mapping[str, FieldDefinition] = attrs.field(factory=dict)
    lifecycle: LifecycleSettings = attrs.field(factory=LifecycleSettings)

    def check_status_map(self, status_map: Mapping[str, str]) -> None:
        """Refuse a ``--map-status`` target that no status machine of the workspace has."""
        known = {name.casefold() for name in self.machine.names}
        for folder in self.folders.values():
            known |= {name.casefold() for name in folder.machine_or(self.machine).names}
        for value, status in status_map.items():
            if status.casefold() not in known:
                raise InvalidValue(
                    f"--map-status {value}={status}: the workspace has no status {status!r};"
                    f" known statuses: {', '.join(self.machine.names)}"
                )

    def machine_for(self, folder: str | None) -> StatusMachine:
        """The status machine of ``folder`` (the workspace's when it has none of its own)."""
        found = None if folder is None else self.folders.get(folder)
        return self.machine if found is None else found.machine_or(self.machine)

    def prepare(self, customer: Customer, now: datetime) -> Customer:
        """``customer`` as a new stored one: a known status entered at ``now``, typed fields.

        Raises ``RowCheckError`` naming the attribute at fault and the problem.
        """
        machine = self.machine_for(customer.folder)
        try:
            status = machine.status(_known(machine, customer.status) or machine.initial)
        except PipelineError as error:
            raise RowCheckError("status", str(error)) from None
        if customer.created_at > now:
            raise RowCheckError(
                "created_at", f"creation date {customer.created_at.isoformat()} is in the future"
            )
        if self.definitions:
            found = self.folders.get(customer.folder) if customer.folder is not None else None
            applicable = None if found is None else found.applicable
            try:
                fields = validate_fields(self.definitions, customer.fields, applicable)
                customer = attrs.evolve(customer, fields=fields)  # typed: the converter checks
            except InvalidValue as error:
                key = self._faulty_field(customer.fields, applicable)
                raise RowCheckError(f"fields.{key}" if key else "fields", str(error)) from None
        reason = None
        if status.outcome == "lost":
            try:
                reason = self.lifecycle.given_reason(customer.lost_reason)
            except InvalidValue as error:
                raise RowCheckError("lost_reason", str(error)) from None
        # The row was validated when its Customer was built, the status just now:
        # no need to run every converter again for each of a million rows.
        changes = status_changes(customer, status, now, reason)
        # History the file gives (an export's, another CRM's) wins over what entering the
        # status now would stamp: the customer was created, converted and closed back then.
        for name in ("converted_at", "closed_at", "outcome"):
            if getattr(customer, name) is not None:
                changes[name] = getattr(customer, name)
        if status.outcome is None and customer.lost_reason is not None:
            changes["lost_reason"] = customer.lost_reason  # a past loss, re-opened since
        changes["created_at"] = now if customer.created_at == EPOCH else customer.created_at
        changes["version"] = 0
        return trusted_replace(customer, **changes)

    def _faulty_field(
        self, values: Mapping[str, Any], applicable: tuple[str, ...] | None
    ) -> str | None:
        """The first custom field refused on its own (None: the problem is a missing one)."""
        for key, value in values.items():
            try:
                validate_fields(self.definitions, {key: value}, applicable)
            except InvalidValue as error:
                if not str(error).startswith("required"):
                    return key
        return None


def _known(machine: StatusMachine, name: str) -> str:
    """``name`` as the machine spells it when it differs only in case (``lead`` is ``Lead``)."""
    if not name or name in machine:
        return name
    folded = name.casefold()
    return next((known for known in machine.names if known.casefold() == folded), name)


class ForeignStatus(ImportRowError):
    """A row refused for a status the workspace's machine does not know; ``value`` is it.

    The import summary counts these by value, so that one dry run lists what to
    ``--map-status``.
    """

    def __init__(
        self,
        file: str,
        line: int,
        column: str | None,
        reason: str,
        value: str,
        notes: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(file, line, column, reason)
        self.value = value
        self.notes = notes  # the draft's (owners...), so that a dry run reports them too

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.file, self.line, self.column, self.reason, self.value, self.notes)
        return (ForeignStatus, args)


class RowCheckError(InvalidValue):
    """A row fails a workspace check; ``target`` is the attribute at fault (``status``,
    ``lost_reason``, ``fields.KEY``), so that the import names the column."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target
