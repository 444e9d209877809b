"""Use cases of bulk work: import customers from a file, export them, saved mapping profiles.

Imports and exports span several sessions by design (a batch or a page each),
so they take the facade that opens them. File formats are in ``pipeline_core.importing``;
see docs/import-export.md.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pipeline_core.domain.events import JSONValue
from pipeline_core.errors import InvalidValue
from pipeline_core.importing.atomic import atomic_output
from pipeline_core.importing.export import (
    DEFAULT_COLUMNS,
    ExportFormat,
    ExportWriter,
    check_columns,
)
from pipeline_core.importing.mapping import parse_map
from pipeline_core.importing.options import ImportOptions, ImportSummary
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.workspace.definitions import field_definitions
from pipeline_core.workspace.import_engine import PROFILES_KEY, profiles, run_import
from pipeline_core.workspace.permissions import shown_all
from pipeline_core.workspace.rules import RuleLike, bound
from pipeline_core.workspace.session import Session, SessionOpener

EXPORT_PAGE = 1000


def import_file(
    opener: SessionOpener,
    source: str | Path | IO[bytes],
    options: ImportOptions | None = None,
    *,
    profile: str | None = None,
    progress: Callable[[int], None] | None = None,
    name: str | None = None,
) -> ImportSummary:
    """Import customers from a file (a path, or a binary stream such as stdin).

    Each batch of rows is one session that also records, in the run ledger keyed
    by the file's SHA-256, the last line it committed: an interrupted import run
    again resumes after it. ``profile`` applies a saved mapping (``options``
    mapping entries win). ``progress`` is called with the rows of each batch.
    """
    options = options or ImportOptions()
    if isinstance(source, str | Path):
        return run_import(opener, Path(source), name or str(source), options, profile, progress)
    # A stream is spooled to a file first: it is hashed (so it resumes like a file)
    # and read twice (the checks, then the rows), in flat memory.
    with tempfile.TemporaryDirectory(prefix="pipeline-import-") as folder:
        spooled = Path(folder) / "stdin"
        with spooled.open("wb") as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
        return run_import(opener, spooled, name or "<stdin>", options, profile, progress)


def save_profile(
    s: Session,
    name: str,
    mapping: Mapping[str, str] | Sequence[str],
    *,
    keep_unknown: bool = False,
    region: str | None = None,
) -> dict[str, JSONValue]:
    """Save a named mapping (``Header=field`` pairs) to reuse with ``profile=``."""
    if not name.strip():
        raise InvalidValue("a mapping profile needs a name")
    checked = parse_map(mapping if isinstance(mapping, Mapping) else list(mapping))
    entry: dict[str, JSONValue] = {
        "map": dict[str, JSONValue](checked),
        "keep_unknown": keep_unknown,
        "region": region,
    }
    stored = dict(profiles(s))
    stored[name.strip()] = entry
    s.put_setting(PROFILES_KEY, dict(sorted(stored.items())))
    return entry


def export(
    opener: SessionOpener,
    out: str | Path | IO[Any],
    format: ExportFormat = "csv",
    *,
    where: RuleLike = MATCH_ALL,
    columns: Sequence[str] | None = None,
) -> int:
    """Write customers satisfying ``where`` to ``out``, oldest first; returns how many.

    ``out`` is a path or an open stream (text for text formats, binary for xlsx). A
    path is written whole or not at all: to ``.NAME.partial-PID`` beside it, renamed
    over it once complete, so a failed or killed export leaves the previous file
    (see ``pipeline_core.importing.atomic``). ``columns`` default to the usual
    attributes plus every custom field (``fields.KEY``). Read a page at a time by
    id, a session each, so memory stays flat.
    """
    with opener.session() as s:
        rule: Rule = bound(s, where)
        if columns is None:
            keys = set(s.custom_field_kinds()) | set(field_definitions(s))
            columns = [*DEFAULT_COLUMNS, *(f"fields.{key}" for key in sorted(keys))]
    checked = check_columns(columns)
    if isinstance(out, str | Path):
        with atomic_output(Path(out), binary=format == "xlsx") as handle:
            return _export_pages(opener, rule, ExportWriter(handle, format, checked))
    return _export_pages(opener, rule, ExportWriter(out, format, checked))


def _export_pages(opener: SessionOpener, rule: Rule, writer: ExportWriter) -> int:
    after = 0
    while True:
        with opener.session() as s:
            page = s.find_customers(rule, limit=EXPORT_PAGE, after_id=after)
            shown = shown_all(s, page)  # contact data masked for agents
        if not page:
            break
        writer.write(shown)
        after = page[-1].id
    writer.close()
    return writer.count
