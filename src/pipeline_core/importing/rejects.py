"""The rejects file: each rejected row as it was read, plus the reason, to fix and re-import.

CSV-like sources (CSV, TSV, xlsx) give a CSV with the original headers and an
``error`` column; JSON sources give JSON Lines with an ``_error`` key. A batch's
rows are written and made durable before the batch commits, and the batch
records the file's size in the run ledger; a resumed import cuts the file back
to that size (dropping the rows of a batch that never committed) and appends.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
from pathlib import Path
from typing import Any, TextIO

from pipeline_core.errors import ImportRowError

ERROR_COLUMN = "error"

_SURROGATES = re.compile("[\ud800-\udfff]")


class RejectsWriter:
    """Appends rejected rows to a file in the shape of the source.

    ``keep`` is how much of an existing file to keep, in bytes: 0 starts afresh, a
    size cuts the file back to it (what the committed batches of an interrupted run
    wrote), None keeps it all. A file shorter than ``keep`` is not ours as we left
    it, so it is kept whole.
    """

    def __init__(self, path: Path, headers: list[str], *, as_json: bool, keep: int | None) -> None:
        self.path = path
        self.as_json = as_json
        self.headers = headers
        size = path.stat().st_size if path.exists() else 0
        fresh = keep == 0 or size == 0
        self._handle: TextIO = path.open("w" if fresh else "a", encoding="utf-8", newline="")
        if not fresh and keep is not None and keep < size:
            self._handle.truncate(keep)
        self._csv = None if as_json else csv.writer(self._handle)
        if self._csv is not None and fresh:
            self._csv.writerow([*headers, ERROR_COLUMN])
        self.written = 0
        self.size = self.sync()

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
            line = json.dumps(record, ensure_ascii=False, default=str)
            if _SURROGATES.search(line):
                # A lone surrogate cannot be written as UTF-8: keep it as its JSON escape.
                line = json.dumps(record, default=str)
            self._handle.write(line + "\n")
        self.written += 1

    def sync(self) -> int:
        """Make what was written so far durable; returns the file's size in bytes."""
        self._handle.flush()
        try:
            os.fsync(self._handle.fileno())
        except OSError as error:
            if error.errno not in (errno.EINVAL, errno.ENOTSUP):
                raise  # a pipe or a terminal (--rejects /dev/stderr) has nothing to sync
        self.size = os.fstat(self._handle.fileno()).st_size
        return self.size

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
