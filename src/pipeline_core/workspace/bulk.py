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
from pipeline_core.importing.mapping import parse_map, parse_status_map
from pipeline_core.importing.options import (
    Companies,
    ImportOptions,
    ImportProgress,
    ImportSummary,
)
from pipeline_core.importing.template import Template, TemplateFormat, build_template
from pipeline_core.importing.template import write_template as write_sheet
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.workspace.definitions import field_definitions, machine
from pipeline_core.workspace.import_engine import PROFILES_KEY, profiles, run_import
from pipeline_core.workspace.paging import EXPORT_PAGE, pages
from pipeline_core.workspace.rules import RuleLike, bound
from pipeline_core.workspace.session import Session, SessionOpener


def import_file(
    opener: SessionOpener,
    source: str | Path | IO[bytes],
    options: ImportOptions | None = None,
    *,
    profile: str | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    name: str | None = None,
) -> ImportSummary:
    """Import customers from a file (a path, or a binary stream such as stdin).

    Each batch of rows is one session that also records, in the run ledger keyed
    by the file's SHA-256, the last line it committed: an interrupted import run
    again resumes after it. ``profile`` applies a saved mapping (``options``
    mapping entries win). ``progress`` is called with an ``ImportProgress`` when
    the rows start and after each batch. Ctrl-C raises ``ImportInterrupted`` (a
    ``KeyboardInterrupt``) naming the last committed line.
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
    map_status: Mapping[str, str] | None = None,
    companies: Companies = "field",
) -> dict[str, JSONValue]:
    """Save a named mapping (``Header=field`` pairs) to reuse with ``profile=``.

    ``map_status`` (file value -> status) and ``companies`` are saved with it.
    """
    if not name.strip():
        raise InvalidValue("a mapping profile needs a name")
    checked = parse_map(mapping if isinstance(mapping, Mapping) else list(mapping))
    entry: dict[str, JSONValue] = {
        "map": dict[str, JSONValue](checked),
        "keep_unknown": keep_unknown,
        "region": region,
    }
    if map_status:
        entry["map_status"] = dict[str, JSONValue](parse_status_map(map_status))
    if companies != "field":
        entry["companies"] = companies
    stored = dict(profiles(s))
    stored[name.strip()] = entry
    s.put_setting(PROFILES_KEY, dict(sorted(stored.items())))
    return entry


def template(s: Session) -> Template:
    """The import template of this workspace: its columns, statuses and custom fields."""
    return build_template(machine(s), field_definitions(s), s.now().date())


def write_template(out: str | Path | IO[Any], format: TemplateFormat, sheet: Template) -> Template:
    """Write ``sheet`` to ``out``: a path (written whole or not at all) or an open stream."""
    if isinstance(out, str | Path):
        with atomic_output(Path(out), binary=format == "xlsx") as handle:
            write_sheet(handle, format, sheet)
    else:
        write_sheet(out, format, sheet)
    return sheet


def export(
    opener: SessionOpener,
    out: str | Path | IO[Any],
    format: ExportFormat = "csv",
    *,
    where: RuleLike = MATCH_ALL,
    columns: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    raw: bool = False,
) -> int:
    """Write customers satisfying ``where`` to ``out``, oldest first; returns how many.

    ``out`` is a path or an open stream (text for text formats, binary for xlsx). A
    path is written whole or not at all: to ``.NAME.partial-PID`` beside it, renamed
    over it once complete, so a failed or killed export leaves the previous file
    (see ``pipeline_core.importing.atomic``). ``columns`` default to the usual
    attributes plus every custom field (``fields.KEY``). Read a page at a time by
    id, a session each, so memory stays flat; ``progress`` is called with the
    number of customers of each page once it is written. Cells a spreadsheet would run
    as a formula are neutralized in CSV, TSV and xlsx unless ``raw``.
    """
    with opener.session() as s:
        rule: Rule = bound(s, where)
        if columns is None:
            keys = set(s.custom_field_kinds()) | set(field_definitions(s))
            columns = [*DEFAULT_COLUMNS, *(f"fields.{key}" for key in sorted(keys))]
    checked = check_columns(columns)
    if isinstance(out, str | Path):
        with atomic_output(Path(out), binary=format == "xlsx") as handle:
            return _export_pages(
                opener, rule, ExportWriter(handle, format, checked, raw=raw), progress
            )
    return _export_pages(opener, rule, ExportWriter(out, format, checked, raw=raw), progress)


def _export_pages(
    opener: SessionOpener,
    rule: Rule,
    writer: ExportWriter,
    progress: Callable[[int], None] | None,
) -> int:
    for page in pages(opener, rule, EXPORT_PAGE):
        writer.write(page)
        if progress is not None:
            progress(len(page))
    writer.close()
    return writer.count
