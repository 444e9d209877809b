"""What an import's rows say without being refused, counted over a run for its summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pipeline_core.importing.checks import ForeignStatus
from pipeline_core.importing.mapping import LeanDraft


@attrs.define
class ImportNotes:
    """Unknown status values, unmatched owners and unreadable phones, with their counts."""

    statuses: Counter[str] = attrs.Factory(Counter)
    owners: Counter[str] = attrs.Factory(Counter)
    phones: int = 0

    def add(self, drafted: Iterable[object]) -> None:
        """Count what one batch's drafts and refusals tell."""
        for result in drafted:
            if isinstance(result, ForeignStatus):
                self.statuses[result.value] += 1
            notes = result.notes if isinstance(result, LeanDraft | ForeignStatus) else ()
            if not notes:  # most rows: nothing to count
                continue
            self.owners.update(text for kind, text in notes if kind == "owner")
            self.phones += any(kind == "phone" for kind, _ in notes)

    def summary(self, kept: Mapping[str, str], parents_created: int) -> dict[str, Any]:
        """The ``ImportSummary`` fields these notes fill."""
        return {
            "kept_columns": tuple(kept.items()),
            "unknown_statuses": tuple(self.statuses.most_common()),
            "unknown_owners": tuple(self.owners.most_common()),
            "unreadable_phones": self.phones,
            "parents_created": parents_created,
        }
