"""Bulk import and export of customers: readers, column mapping, batches, rejects, writers.

See docs/import-export.md. The use cases are in ``pipeline_core.workspace.bulk``.
"""

from pipeline_core.errors import ImportInterrupted
from pipeline_core.importing.export import DEFAULT_COLUMNS, EXPORT_FORMATS
from pipeline_core.importing.options import (
    ImportOptions,
    ImportPolicy,
    ImportProgress,
    ImportSummary,
)
from pipeline_core.importing.readers import INPUT_FORMATS

__all__ = [
    "DEFAULT_COLUMNS",
    "EXPORT_FORMATS",
    "INPUT_FORMATS",
    "ImportInterrupted",
    "ImportOptions",
    "ImportPolicy",
    "ImportProgress",
    "ImportSummary",
]
