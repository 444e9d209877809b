"""pipeline_core: customers through sales and service pipelines.

Open a workspace on a store URL and drive everything through it::

    from pipeline_core import Customer, Workspace

    with Workspace.open("sqlite:///crm.db") as ws:
        ada = ws.customers.add(Customer(name="Ada Lovelace", emails=["ada@example.com"]))
        ws.customers.move(ada.id, "Prospect")
"""

from importlib.metadata import PackageNotFoundError, version

from pipeline_core.customer import Customer
from pipeline_core.domain.access import AccessSettings, FolderAccess, Principal, User
from pipeline_core.domain.activity import Step, Task, TimeEntry
from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.board import Board, BoardColumn
from pipeline_core.domain.clock import Clock, FixedClock, SystemClock
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.duplicate_settings import DuplicateSettings
from pipeline_core.domain.duplicates import DuplicateCluster
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.domain.flows import Column, FlowDefinition
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.normalize import ContactKey, normalize_email, normalize_phone
from pipeline_core.domain.reminders import Reminder
from pipeline_core.domain.reports import GroupedReport, PipelineReport, ReportConfig
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import EntryAction, Status, StatusMachine, default_status_machine
from pipeline_core.domain.view import CustomerTree, CustomerView, TimeSummary
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
from pipeline_core.workspace.dedupe import DuplicatePolicy, MergeResult
from pipeline_core.workspace.facade import HandlerFailure, Workspace
from pipeline_core.workspace.session import Session

try:
    __version__ = version("pipeline_core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AccessSettings",
    "Action",
    "AlreadyConverted",
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
    "MergeResult",
    "NotFound",
    "NotOnBoard",
    "PermissionDenied",
    "PipelineError",
    "PipelineReport",
    "Principal",
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
