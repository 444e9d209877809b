"""Every noun that ``--format json`` prints, and its JSON Schema (see ``render.shapes``).

Imported by tests/test_json_shapes.py and scripts/generate_json_schemas.py, not by the
commands: the registry imports the record types of every area.
"""

from __future__ import annotations

from pipeline_core.customer import Customer
from pipeline_core.domain.access import User
from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.automation import Automation
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.duplicate_settings import DuplicateSettings
from pipeline_core.domain.duplicates import MergeResult
from pipeline_core.domain.flows import Column, FlowDefinition, FlowExplanation, RuleChange
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.records import (
    LinkedRecord,
    ProfileRecords,
    RecordImportSummary,
    RecordKind,
)
from pipeline_core.domain.reminders import Reminder
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.domain.settings import LifecycleSettings
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.domain.view import CustomerTree
from pipeline_core.render.outbox import DeliveryRecord, NotificationRecord
from pipeline_core.render.reports import (
    AliasRecord,
    GroupedReportRecord,
    PipelineReportRecord,
    SavedReportRecord,
)
from pipeline_core.render.shapes import (
    BoardRecord,
    ClusterRecord,
    EventRecord,
    Extended,
    FlowEventRecord,
    FlowHideRecord,
    ImportSummaryRecord,
    MigrationRecord,
    RuleSqlRecord,
    Schema,
    TeamRecord,
    TimeSummaryRecord,
    ViewRecord,
    schemas_of,
)
from pipeline_core.rules.explain import Explanation

EXPORT_ROW = "export row"
"""A row of ``customers export --format json``: a customer's chosen columns (see docs)."""

NOUNS: dict[str, object] = {
    "customer": Customer,
    "customer view": ViewRecord,
    "customer tree": CustomerTree,
    EXPORT_ROW: Customer,  # the customer's attributes: see export_row_schema
    "event": EventRecord,
    "task": Extended(Task, {"done": bool, "overdue": bool}),
    "time entry": TimeEntry,
    "time summary": TimeSummaryRecord,
    "reminder": Reminder,
    "delivery": DeliveryRecord,
    "notification": NotificationRecord,
    "board": BoardRecord,
    "flow": FlowDefinition,
    "column": Column,
    "flow explanation": FlowExplanation,
    "flow hide": FlowHideRecord,
    "flow event": FlowEventRecord,
    "rule change": RuleChange,
    "rule explanation": Explanation,
    "rule sql": RuleSqlRecord,
    "status machine": StatusMachine,
    "folder": Folder,
    "field definition": FieldDefinition,
    "automation": Automation,
    "user": User,
    "team": TeamRecord,
    "saved filter": SavedFilter,
    "settings": LifecycleSettings,
    "duplicate settings": DuplicateSettings,
    "duplicate cluster": ClusterRecord,
    "merge result": MergeResult,
    "import summary": ImportSummaryRecord,
    "pipeline report": PipelineReportRecord,
    "grouped report": GroupedReportRecord,
    "saved report": SavedReportRecord,
    "alias": AliasRecord,
    "migration": MigrationRecord,
    "listed customer": Extended(Customer, {"new_activity": int}),
    "linked record": LinkedRecord,
    "profile records": ProfileRecords,
    "record kind": RecordKind,
    "records import summary": RecordImportSummary,
}
"""Every noun that ``--format json`` prints, and the type its JSON object is generated from."""


def json_schemas() -> dict[str, Schema]:
    """Each noun's JSON Schema; a noun inside another is a ``$ref`` to ``#/$defs/NOUN``."""
    schemas = schemas_of({name: source for name, source in NOUNS.items() if name != EXPORT_ROW})
    schemas[EXPORT_ROW] = export_row_schema(schemas["customer"])
    return schemas


def export_row_schema(customer: Schema) -> Schema:
    """A customer's attributes, each optional (``--columns`` chooses them).

    Custom fields are ``fields.KEY`` keys, null for a customer without a value.
    """
    properties = {k: v for k, v in customer["properties"].items() if k != "fields"}
    value = customer["properties"]["fields"]["additionalProperties"]
    return {
        "type": "object",
        "properties": properties,
        "patternProperties": {r"^fields\..+": {**value, "type": [*value["type"], "null"]}},
        "additionalProperties": False,
    }
