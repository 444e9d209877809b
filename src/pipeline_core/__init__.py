"""pipeline_core: customers through sales and service pipelines.

Open a workspace on a store URL and drive everything through it::

    from pipeline_core import Customer, Workspace

    with Workspace.open("sqlite:///crm.db") as ws:
        ada = ws.customers.add(Customer(name="Ada Lovelace", emails=["ada@example.com"]))
        ws.customers.move(ada.id, "Prospect")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pipeline_core.errors import (
    AlreadyConverted,
    ConcurrencyError,
    DuplicateCustomer,
    ImportRowError,
    InvalidStatusMachine,
    InvalidValue,
    NotFound,
    NotOnBoard,
    PermissionDenied,
    PipelineError,
    RuleSyntaxError,
    StaleDefinition,
    StoreError,
    TransitionNotAllowed,
)

if TYPE_CHECKING:
    from pipeline_core.customer import Customer
    from pipeline_core.domain.access import AccessSettings, FolderAccess, Principal, User
    from pipeline_core.domain.activity import Step, Task, TimeEntry
    from pipeline_core.domain.automation import Action, Automation
    from pipeline_core.domain.board import Board, BoardColumn
    from pipeline_core.domain.clock import Clock, FixedClock, SystemClock
    from pipeline_core.domain.custom_fields import FieldDefinition
    from pipeline_core.domain.duplicate_settings import DuplicateSettings
    from pipeline_core.domain.duplicates import DuplicateCluster, DuplicatePolicy, MergeResult
    from pipeline_core.domain.events import Event, EventKind
    from pipeline_core.domain.flows import Column, FlowDefinition
    from pipeline_core.domain.folders import Folder
    from pipeline_core.domain.normalize import ContactKey, normalize_email, normalize_phone
    from pipeline_core.domain.records import FileRef, LinkedRecord, RecordKind
    from pipeline_core.domain.reminders import Reminder
    from pipeline_core.domain.reports import GroupedReport, PipelineReport, ReportConfig
    from pipeline_core.domain.saved_filters import SavedFilter
    from pipeline_core.domain.settings import LifecycleSettings
    from pipeline_core.domain.statuses import (
        EntryAction,
        Status,
        StatusMachine,
        default_status_machine,
    )
    from pipeline_core.domain.view import CustomerTree, CustomerView, TimeSummary
    from pipeline_core.workspace.aio import AsyncWorkspace
    from pipeline_core.workspace.facade import HandlerFailure, Workspace
    from pipeline_core.workspace.session import Session

    __version__: str

_LAZY: dict[str, tuple[str, ...]] = {
    "pipeline_core.customer": ("Customer",),
    "pipeline_core.domain.access": ("AccessSettings", "FolderAccess", "Principal", "User"),
    "pipeline_core.domain.activity": ("Step", "Task", "TimeEntry"),
    "pipeline_core.domain.automation": ("Action", "Automation"),
    "pipeline_core.domain.board": ("Board", "BoardColumn"),
    "pipeline_core.domain.clock": ("Clock", "FixedClock", "SystemClock"),
    "pipeline_core.domain.custom_fields": ("FieldDefinition",),
    "pipeline_core.domain.duplicate_settings": ("DuplicateSettings",),
    "pipeline_core.domain.duplicates": ("DuplicateCluster", "DuplicatePolicy", "MergeResult"),
    "pipeline_core.domain.events": ("Event", "EventKind"),
    "pipeline_core.domain.flows": ("Column", "FlowDefinition"),
    "pipeline_core.domain.folders": ("Folder",),
    "pipeline_core.domain.normalize": ("ContactKey", "normalize_email", "normalize_phone"),
    "pipeline_core.domain.records": ("FileRef", "LinkedRecord", "RecordKind"),
    "pipeline_core.domain.reminders": ("Reminder",),
    "pipeline_core.domain.reports": ("GroupedReport", "PipelineReport", "ReportConfig"),
    "pipeline_core.domain.saved_filters": ("SavedFilter",),
    "pipeline_core.domain.settings": ("LifecycleSettings",),
    "pipeline_core.domain.statuses": (
        "EntryAction",
        "Status",
        "StatusMachine",
        "default_status_machine",
    ),
    "pipeline_core.domain.view": ("CustomerTree", "CustomerView", "TimeSummary"),
    "pipeline_core.workspace.aio": ("AsyncWorkspace",),
    "pipeline_core.workspace.facade": ("HandlerFailure", "Workspace"),
    "pipeline_core.workspace.session": ("Session",),
}
"""Where each public name lives; it is imported on first use (PEP 562), so that
``import pipeline_core`` (and ``pipeline --help``) does not import the world."""

_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> object:
    if name == "__version__":
        value: object = _version()
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pipeline-core-crm")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


__all__ = [
    "AccessSettings",
    "Action",
    "AlreadyConverted",
    "AsyncWorkspace",
    "Automation",
    "Board",
    "BoardColumn",
    "Clock",
    "Column",
    "ConcurrencyError",
    "ContactKey",
    "Customer",
    "CustomerTree",
    "CustomerView",
    "DuplicateCluster",
    "DuplicateCustomer",
    "DuplicatePolicy",
    "DuplicateSettings",
    "EntryAction",
    "Event",
    "EventKind",
    "FieldDefinition",
    "FileRef",
    "FixedClock",
    "FlowDefinition",
    "Folder",
    "FolderAccess",
    "GroupedReport",
    "HandlerFailure",
    "ImportRowError",
    "InvalidStatusMachine",
    "InvalidValue",
    "LifecycleSettings",
    "LinkedRecord",
    "MergeResult",
    "NotFound",
    "NotOnBoard",
    "PermissionDenied",
    "PipelineError",
    "PipelineReport",
    "Principal",
    "RecordKind",
    "Reminder",
    "ReportConfig",
    "RuleSyntaxError",
    "SavedFilter",
    "Session",
    "StaleDefinition",
    "Status",
    "StatusMachine",
    "Step",
    "StoreError",
    "SystemClock",
    "Task",
    "TimeEntry",
    "TimeSummary",
    "TransitionNotAllowed",
    "User",
    "Workspace",
    "__version__",
    "default_status_machine",
    "normalize_email",
    "normalize_phone",
]
