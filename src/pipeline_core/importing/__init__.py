"""Bulk import and export of customers: readers, column mapping, batches, rejects, writers.

See docs/import-export.md. The Workspace's use cases are in ``workspace_import``.
"""

from pipeline_core.importing.export import DEFAULT_COLUMNS, EXPORT_FORMATS
from pipeline_core.importing.readers import INPUT_FORMATS
from pipeline_core.workspace.import_engine import ImportOptions, ImportPolicy, ImportSummary

__all__ = [
    "DEFAULT_COLUMNS",
    "EXPORT_FORMATS",
    "INPUT_FORMATS",
    "ImportOptions",
    "ImportPolicy",
    "ImportSummary",
]
