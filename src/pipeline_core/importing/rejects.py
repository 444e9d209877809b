"""The rejects file: each rejected row as it was read, plus the reason, to fix and re-import.

CSV-like sources (CSV, TSV, xlsx) give a CSV with the original headers and an
``error`` column; JSON sources give JSON Lines with an ``_error`` key. Rows are
written after their batch commits, and a resumed import appends.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from pipeline_core.errors import ImportRowError

ERROR_COLUMN = "error"


class RejectsWriter:
    """Appends rejected rows to a file in the shape of the source."""

    def __init__(self, path: Path, headers: list[str], *, as_json: bool, append: bool) -> None:
        self.path = path
        self.as_json = as_json
        self.headers = headers
        fresh = not append or not path.exists() or path.stat().st_size == 0
        self._handle: TextIO = path.open("w" if fresh else "a", encoding="utf-8", newline="")
        self._csv = None if as_json else csv.writer(self._handle)
        if self._csv is not None and fresh:
            self._csv.writerow([*headers, ERROR_COLUMN])
        self.written = 0

    def write(self, error: ImportRowError, raw: Any) -> None:
        """One rejected row with its reason."""
        reason = str(error)
        if self._csv is not None:
            cells = list(raw) if isinstance(raw, list) else [""] * len(self.headers)
            cells = (cells + [""] * len(self.headers))[: len(self.headers)]
            self._csv.writerow([*cells, reason])
        else:
            record = dict(raw) if isinstance(raw, dict) else {}
            record["_error"] = reason
            self._handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.written += 1

    def flush(self) -> None:
        """Make what was written so far durable."""
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
