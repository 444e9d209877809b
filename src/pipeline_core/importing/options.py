"""What an import is asked to do, and what it did."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import attrs

from pipeline_core.errors import ImportRowError, InvalidValue
from pipeline_core.importing.readers import InputFormat

ImportPolicy = Literal["skip", "merge", "update", "allow", "error"]
"""What a row matching an existing customer (or an earlier row) does."""
IMPORT_POLICIES: tuple[ImportPolicy, ...] = ("skip", "merge", "update", "allow", "error")

Companies = Literal["field", "parent"]
"""Where a person's company goes: the ``company`` custom field, or also a parent customer."""
COMPANIES: tuple[Companies, ...] = ("field", "parent")

OnError = Literal["reject", "abort"]
ON_ERROR: tuple[OnError, ...] = ("reject", "abort")


DEFAULT_BATCH_SIZE = 5_000
"""Rows per transaction unless told otherwise: large enough that commits, index flushes
and the per-batch duplicate look-up are a small part of an import, small enough that a
crash repeats little and other writers wait about a second at most."""


@attrs.frozen(kw_only=True)
class ImportOptions:
    """How to read, map, check and write an import. See docs/import-export.md."""

    input_format: InputFormat | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    mapping: Mapping[str, str] = attrs.field(factory=dict)
    keep_unknown: bool = False
    region: str | None = None
    on_duplicate: ImportPolicy = attrs.field(default="skip")
    on_error: OnError = attrs.field(default="reject")
    dry_run: bool = False
    rejects: Path | None = None
    batch_size: int = attrs.field(default=DEFAULT_BATCH_SIZE)
    restart: bool = False
    workers: int | None = attrs.field(default=None)
    status_map: Mapping[str, str] = attrs.field(factory=dict)
    """Status values of the file -> statuses of the workspace (``--map-status``), any case."""
    companies: Companies = attrs.field(default="field")

    @companies.validator
    def _companies(self, _: object, value: str) -> None:
        if value not in COMPANIES:
            raise InvalidValue(f"companies must be field or parent, not {value!r}")

    @workers.validator
    def _workers(self, _: object, value: int | None) -> None:
        if value is not None and value < 0:
            raise InvalidValue(f"workers must be 0 or more, not {value}")

    @batch_size.validator
    def _positive(self, _: object, value: int) -> None:
        if value < 1:
            raise InvalidValue(f"batch size must be at least 1, not {value}")

    @on_duplicate.validator
    def _policy(self, _: object, value: str) -> None:
        if value not in IMPORT_POLICIES:
            raise InvalidValue(
                f"on_duplicate must be one of {', '.join(IMPORT_POLICIES)}, not {value!r}"
            )

    @on_error.validator
    def _on_error(self, _: object, value: str) -> None:
        if value not in ON_ERROR:
            raise InvalidValue(f"on_error must be reject or abort, not {value!r}")


@attrs.frozen(kw_only=True)
class ImportSummary:
    """What an import did (with ``dry_run``: would do)."""

    file: str
    run_id: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    rejected: int = 0
    dry_run: bool = False
    resumed_after_line: int = 0
    already_done: bool = False
    unknown_columns: tuple[str, ...] = ()
    kept_columns: tuple[tuple[str, str], ...] = ()
    """Columns that lost their field to a more specific column: (header, the custom field kept)."""
    unknown_statuses: tuple[tuple[str, int], ...] = ()
    """Status values the workspace's machine does not know, with how many rows hold each."""
    unknown_owners: tuple[tuple[str, int], ...] = ()
    """Owners no user matches (kept as typed in ``workers``), with how many rows name each."""
    unreadable_phones: int = 0
    """Rows with a phone that cannot be read (no region, not a number): no duplicate checks."""
    parents_created: int = 0
    unresolved_parents: tuple[str, ...] = ()
    """``parent_id`` values that no row's ``id`` had: those rows were imported without a parent."""
    """Company customers made as parents (``companies="parent"``)."""
    errors: tuple[ImportRowError, ...] = ()
    seconds: float = 0.0
    rejected_total: int = 0
    """Rows the whole run rejected: this one's and those of the interrupted runs it resumed.

    An import run again after an interruption carries on the same run; a script that
    must know whether any row of the file was refused reads this, not ``rejected``
    (``--fail-on-reject`` does). For a file already imported, the finished run's count.
    """

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of the run."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@attrs.frozen(kw_only=True)
class ImportProgress:
    """How far an import has come: given to its ``progress`` callback.

    The callback is called once when the rows start (``rows`` 0, ``line`` the line a
    resumed run carries on after) and after each batch: once the batch has committed,
    or, in a dry run or with ``on_error="abort"`` (one transaction for the whole
    file), once it is written in that transaction. ``line`` over ``total_lines`` is
    how much of the file is done.
    """

    rows: int
    """Rows this run has read so far (imported, skipped or rejected)."""
    line: int
    """The line the last row done starts on (the sheet's row number in a workbook)."""
    total_lines: int | None
    """The file's lines, when lines measure progress: None for a workbook, whose rows are not
    lines of the file, and for a JSON array written on a few long lines."""
    resumed_after_line: int = 0
