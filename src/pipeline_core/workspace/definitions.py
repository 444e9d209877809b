"""What a use case reads from the workspace's settings: lifecycle, folders, fields, machine.

Each is read inside the session, so what a use case checks against is what commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline_core.customer import Customer
from pipeline_core.domain.access import SETTINGS_KEY as ACCESS_KEY
from pipeline_core.domain.access import AccessSettings
from pipeline_core.domain.custom_fields import SETTINGS_KEY as FIELDS_KEY
from pipeline_core.domain.custom_fields import FieldDefinition, validate_fields
from pipeline_core.domain.folders import SETTINGS_KEY as FOLDERS_KEY
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.records import SETTINGS_KEY as RECORD_KINDS_KEY
from pipeline_core.domain.records import RecordKind
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.settings import SETTINGS_KEY as LIFECYCLE_KEY
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import Status, StatusMachine, default_status_machine
from pipeline_core.rules.dates import utc_today
from pipeline_core.workspace.session import Session


def lifecycle(s: Session) -> LifecycleSettings:
    """The time zone, reminder hour and lost reasons in force."""
    data = s.get_setting(LIFECYCLE_KEY)
    if data is None:
        return LifecycleSettings()
    return converter.structure(data, LifecycleSettings)


def today(s: Session) -> date:
    """Today in the workspace's time zone, by the session's clock."""
    return s.now().astimezone(lifecycle(s).zone).date()


def rules_today(s: Session) -> date:
    """Today as rules see it: rules compare UTC days (docs/rules.md), whatever the zone."""
    return utc_today(s.now())


def folders(s: Session) -> dict[str, Folder]:
    """Every defined folder by name."""
    data: Any = s.get_setting(FOLDERS_KEY) or {}
    return {name: converter.structure(value, Folder) for name, value in data.items()}


def folder_named(s: Session, name: str | None) -> Folder | None:
    """The folder called ``name`` (None: no such folder, or no name).

    Structures that one folder only: a move or an edit asks for the customer's own
    folder, and structuring every folder with its status machine cost about 20 us
    a folder on each of them.
    """
    if name is None:
        return None
    data: Any = s.get_setting(FOLDERS_KEY) or {}
    value = data.get(name)
    return None if value is None else converter.structure(value, Folder)


def put_folders(s: Session, updated: dict[str, Folder]) -> None:
    """Store the folder definitions."""
    s.put_setting(
        FOLDERS_KEY, {name: converter.unstructure(updated[name]) for name in sorted(updated)}
    )


def field_definitions(s: Session) -> dict[str, FieldDefinition]:
    """Every custom field definition by key."""
    data: Any = s.get_setting(FIELDS_KEY) or {}
    return {key: converter.structure(value, FieldDefinition) for key, value in data.items()}


def put_field_definitions(s: Session, fields: dict[str, FieldDefinition]) -> None:
    """Store the custom field definitions."""
    s.put_setting(FIELDS_KEY, {key: converter.unstructure(fields[key]) for key in sorted(fields)})


def machine(s: Session) -> StatusMachine:
    """The workspace's status machine (the default lead pipeline is stored if there is none)."""
    found = s.get_status_machine()
    if found is None:
        found = default_status_machine()
        s.put_status_machine(found)
    return found


def machine_for(s: Session, folder: str | None) -> StatusMachine:
    """The status machine of ``folder`` (the workspace's when it has none of its own)."""
    default = machine(s)
    found = folder_named(s, folder)
    return default if found is None else found.machine_or(default)


def applicable_fields(s: Session, folder: str | None) -> tuple[str, ...] | None:
    """The custom fields a folder allows (None: all)."""
    found = folder_named(s, folder)
    return None if found is None else found.applicable


def checked_fields(s: Session, folder: str | None, values: Any) -> dict[str, object]:
    """Custom field values validated and typed against the definitions and the folder."""
    return validate_fields(field_definitions(s), values, applicable_fields(s, folder))


def lost_reason(
    s: Session,
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
    return lifecycle(s).lost_reason(reason, reason_text)


def access_settings(s: Session) -> AccessSettings:
    """The workspace's access settings."""
    data = s.get_setting(ACCESS_KEY)
    return AccessSettings() if data is None else converter.structure(data, AccessSettings)


def defined_kinds(s: Session) -> dict[str, RecordKind]:
    """The kinds of linked records the workspace defined itself, by name."""
    data: Any = s.get_setting(RECORD_KINDS_KEY) or {}
    return {name: converter.structure(value, RecordKind) for name, value in data.items()}
