"""``customers import``, ``customers export`` and ``customers import-profiles``.

``COMMANDS`` are attached to ``pipeline customers`` by ``pipeline_core.commands.customers``;
see docs/import-export.md.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from pipeline_core.commands._common import AppContext, echo, pass_app, where_option
from pipeline_core.errors import ImportInterrupted
from pipeline_core.importing.export import EXPORT_FORMATS, ExportFormat
from pipeline_core.importing.options import (
    COMPANIES,
    DEFAULT_BATCH_SIZE,
    IMPORT_POLICIES,
    ON_ERROR,
    ImportOptions,
    ImportProgress,
    ImportSummary,
)
from pipeline_core.importing.readers import INPUT_FORMATS
from pipeline_core.importing.template import TEMPLATE_FORMATS, TemplateFormat
from pipeline_core.render.common import json_text, key_value_table
from pipeline_core.render.shapes import ImportSummaryRecord
from pipeline_core.rules.ast import MATCH_ALL

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

INTERRUPTED = 130
"""Exit status of an import stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


def _on_terminal(stream: IO[Any]) -> bool:
    """Whether ``stream`` is a terminal: progress is drawn there and nowhere else."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


class _ImportBar:
    """click's progress bar on stderr: the file's lines done, percent and ETA, rows beside.

    The library calls it with an ``ImportProgress`` when the rows start and after
    each batch. The bar is over the lines still to do (after the line a resumed run
    starts from), so its ETA is this run's. Without a line count (a workbook, a JSON
    array on one line) it counts rows, with their rate, and no percent.
    """

    def __init__(self, file: str, enabled: bool) -> None:
        self.file = file
        self.enabled = enabled
        self.bar: ProgressBar[Any] | None = None
        self.started = time.perf_counter()
        self.done = 0  # lines (or rows) the bar has been moved by

    def __call__(self, progress: ImportProgress) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = self._start(progress)
        if progress.total_lines is None:
            reached = progress.rows
        else:
            reached = min(progress.line, progress.total_lines) - progress.resumed_after_line
        if reached > self.done:
            self.bar.update(reached - self.done, progress)
            self.done = reached

    def _start(self, progress: ImportProgress) -> ProgressBar[Any]:
        label = f"Importing {self.file}"
        if progress.resumed_after_line:
            label += f" after line {progress.resumed_after_line:,}"
        known = progress.total_lines is not None
        length = None
        if progress.total_lines is not None:
            length = max(progress.total_lines - progress.resumed_after_line, 1)
        bar: ProgressBar[Any] = click.progressbar(
            itertools.count(),  # never iterated: update() moves it
            length=length,
            label=label,
            file=sys.stderr,
            show_percent=known,
            show_eta=known,
            item_show_func=self._rows if known else self._rate,
        )
        bar.__enter__()
        return bar

    def _rows(self, progress: ImportProgress | None) -> str | None:
        return None if progress is None else f"{progress.rows:,} rows"

    def _rate(self, progress: ImportProgress | None) -> str | None:
        if progress is None:
            return None
        rate = progress.rows / max(time.perf_counter() - self.started, 1e-9)
        return f"{progress.rows:,} rows  {rate:,.0f} rows/s"

    def finish(self, *, complete: bool) -> None:
        """Fill the bar when the file is done, and end its line; nothing if none was drawn."""
        if self.bar is None:
            return
        if complete and self.bar.length is not None and self.bar.pos < self.bar.length:
            self.bar.update(self.bar.length - self.bar.pos)
        self.bar.render_finish()


def summary_data(summary: ImportSummary) -> ImportSummaryRecord:
    """The summary as its JSON object (``--format json``)."""
    return {
        "file": summary.file,
        "run_id": summary.run_id,
        "dry_run": summary.dry_run,
        "already_done": summary.already_done,
        "resumed_after_line": summary.resumed_after_line,
        "rows": summary.rows,
        "created": summary.created,
        "updated": summary.updated,
        "merged": summary.merged,
        "skipped": summary.skipped,
        "rejected": summary.rejected,
        "rejected_total": summary.rejected_total,
        "unknown_columns": list(summary.unknown_columns),
        "kept_columns": [{"column": c, "field": f} for c, f in summary.kept_columns],
        "unknown_statuses": [{"value": v, "rows": n} for v, n in summary.unknown_statuses],
        "unknown_owners": [{"owner": o, "rows": n} for o, n in summary.unknown_owners],
        "unreadable_phones": summary.unreadable_phones,
        "parents_created": summary.parents_created,
        "unresolved_parents": list(summary.unresolved_parents),
        "errors": [
            {"line": e.line, "column": e.column, "reason": e.reason} for e in summary.errors
        ],
        "seconds": round(summary.seconds, 3),
        "rows_per_second": round(summary.rows_per_second),
    }


def summary_text(summary: ImportSummary) -> str:
    """The summary as a table, then the first row errors and any unknown columns."""
    if summary.already_done:
        return (
            f"{summary.file} was already imported completely (run {summary.run_id});"
            " nothing to do. Use --restart to import it again.\n"
        )
    data = summary_data(summary)
    shown = {
        k: data[k]
        for k in ("rows", "created", "updated", "merged", "skipped", "rejected", "rows_per_second")
    }
    heading = "Dry run: nothing was written.\n" if summary.dry_run else ""
    if summary.resumed_after_line:
        heading += f"Resumed run {summary.run_id} after line {summary.resumed_after_line}.\n"
    text = heading + key_value_table(shown)
    if summary.unknown_columns:
        names = ", ".join(repr(c) for c in summary.unknown_columns)
        text += (
            f"Unknown columns (not imported; --keep-unknown keeps them as custom fields): {names}\n"
        )
    text += _notes_text(summary)
    for error in summary.errors:
        text += f"  {error}\n"
    if summary.rejected > len(summary.errors):
        text += f"  ... and {summary.rejected - len(summary.errors)} more rejected rows\n"
    return text


@click.command("import")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    help="The file's format (default: from its name; CSV for stdin).",
)
@click.option("--nl", is_flag=True, help="JSON Lines: one JSON object per line.")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of the file.")
@click.option("--delimiter", help="CSV delimiter (default: sniffed from the file).")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="HEADER=FIELD",
    help="Map a column to a field, to fields.KEY (a custom field) or to - (ignore). Repeatable.",
)
@click.option(
    "--map-status",
    "map_status",
    multiple=True,
    metavar="VALUE=STATUS",
    help="Import the file's status VALUE as STATUS (any case). Repeatable.",
)
@click.option(
    "--companies",
    type=click.Choice(COMPANIES),
    default="field",
    show_default=True,
    help="A person's company: the company field, or also a parent customer (found or made).",
)
@click.option("--keep-unknown", is_flag=True, help="Keep unknown columns as custom fields.")
@click.option("--profile", help="Use a saved mapping profile.")
@click.option("--save-profile", metavar="NAME", help="Save this command's --map as a profile.")
@click.option("--region", help="Region for national phone numbers of rows without a country.")
@click.option(
    "--on-duplicate",
    type=click.Choice(IMPORT_POLICIES),
    default="skip",
    show_default=True,
    help="A row matching a customer (or an earlier row) on a phone, email or WhatsApp.",
)
@click.option(
    "--on-error",
    type=click.Choice(ON_ERROR),
    default="reject",
    show_default=True,
    help="reject: bad rows go to --rejects, good ones import; abort: stop, write nothing.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected rows here, with an error column.",
)
@click.option("--dry-run", is_flag=True, help="Do everything but write; report what would happen.")
@click.option("--restart", is_flag=True, help="Ignore an earlier run of the same file; start over.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per transaction.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes that check rows beside the writer (0: none). Default: one per core"
    " but the writer's, at most 2, for files over 2 MB.",
)
@click.option(
    "--fail-on-reject",
    is_flag=True,
    help="Exit with status 1 if any row was rejected (the good rows are still imported).",
)
@click.option("--silent", is_flag=True, help="No progress bar.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="Summary format.",
)  # fmt: skip
@pass_app
def customers_import(
    app: AppContext,
    file: str,
    input_format: str | None,
    nl: bool,
    encoding: str,
    delimiter: str | None,
    mapping: tuple[str, ...],
    map_status: tuple[str, ...],
    companies: str,
    keep_unknown: bool,
    profile: str | None,
    save_profile: str | None,
    region: str | None,
    on_duplicate: str,
    on_error: str,
    rejects: Path | None,
    dry_run: bool,
    restart: bool,
    batch_size: int,
    workers: int | None,
    fail_on_reject: bool,
    silent: bool,
    fmt: str,
) -> None:
    """Import customers from FILE (CSV, TSV, JSON, JSON Lines, .xlsx) or - for stdin.

    Each batch commits whole; run the same command again after an interruption
    and it carries on where it stopped. Exit status: 0 when the file is imported
    (rejected rows included, unless --fail-on-reject), 1 on an error, 130 when
    interrupted (Ctrl-C). See docs/import-export.md.
    """
    workspace = app.workspace
    pairs = dict(_pair(text) for text in mapping)
    statuses = dict(_pair(text, "--map-status") for text in map_status)
    if save_profile:
        workspace.customers.save_import_profile(
            save_profile,
            pairs,
            keep_unknown=keep_unknown,
            region=region,
            map_status=statuses,
            companies=companies,  # type: ignore[arg-type]
        )
    options = ImportOptions(
        input_format="jsonl" if nl else input_format,  # type: ignore[arg-type]
        encoding=encoding,
        delimiter=delimiter,
        mapping=pairs,
        status_map=statuses,
        companies=companies,  # type: ignore[arg-type]
        keep_unknown=keep_unknown,
        region=region,
        on_duplicate=on_duplicate,  # type: ignore[arg-type]
        on_error=on_error,  # type: ignore[arg-type]
        dry_run=dry_run,
        rejects=rejects,
        batch_size=batch_size,
        restart=restart,
        workers=workers,
    )
    shown = "<stdin>" if file == "-" else file
    bar = _ImportBar(shown, enabled=not silent and _on_terminal(sys.stderr))
    source: Any = sys.stdin.buffer if file == "-" else file
    try:
        summary = workspace.customers.import_file(source, options, profile=profile, progress=bar)
    except KeyboardInterrupt as stop:
        bar.finish(complete=False)
        click.echo(interrupted_text(stop), err=True)
        raise click.exceptions.Exit(INTERRUPTED) from None
    except BaseException:
        bar.finish(complete=False)
        raise
    bar.finish(complete=True)
    echo(json_text(summary_data(summary)) if fmt == "json" else summary_text(summary))
    if fail_on_reject and summary.rejected_total:
        raise click.ClickException(rejected_text(summary))


def _notes_text(summary: ImportSummary) -> str:
    """What the rows said without being refused: columns kept, foreign statuses, owners, phones."""
    text = ""
    for column, field in summary.kept_columns:
        text += f"Column {column!r} kept in {field}: a more specific column feeds its field.\n"
    if summary.unknown_statuses:
        values = ", ".join(f"{v!r} ({n})" for v, n in summary.unknown_statuses)
        text += (
            f"Statuses the workspace does not know (rows rejected; map them with"
            f' --map-status "VALUE=STATUS"): {values}\n'
        )
    if summary.unknown_owners:
        owners = ", ".join(f"{o!r} ({n})" for o, n in summary.unknown_owners)
        text += f"Owners matching no user (kept as typed in workers): {owners}\n"
    if summary.unreadable_phones:
        text += (
            f"{summary.unreadable_phones} rows have a phone that cannot be read (no country or"
            " default region, or not a number): it takes no part in duplicate checks;"
            " see pipeline init --region\n"
        )
    if summary.unresolved_parents:
        missing = ", ".join(repr(p) for p in summary.unresolved_parents)
        text += f"parent_id values no row's id has (imported without a parent): {missing}\n"
    if summary.parents_created:
        text += f"{summary.parents_created} company customers made as parents.\n"
    return text


def interrupted_text(stop: KeyboardInterrupt) -> str:
    """The one line an import stopped by Ctrl-C prints: what is committed, how to go on."""
    if not isinstance(stop, ImportInterrupted) or stop.line is None:
        return "Interrupted before any row was imported; run the same command again to import."
    if stop.dry_run:
        return "Interrupted: a dry run writes nothing."
    if stop.line == 0:
        return (
            "Interrupted before the first batch was committed; nothing was written."
            " Run the same command again to import."
        )
    return (
        f"Interrupted after line {stop.line:,} ({stop.rows:,} rows committed);"
        " run the same command again to resume."
    )


def rejected_text(summary: ImportSummary) -> str:
    """Why ``--fail-on-reject`` ends the command with status 1."""
    count = summary.rejected_total
    rows = "1 row" if count == 1 else f"{count:,} rows"
    if summary.dry_run:
        return f"{rows} of {summary.file} would be rejected (--fail-on-reject)"
    if summary.already_done:
        return f"{rows} of {summary.file} were rejected when it was imported (--fail-on-reject)"
    verb = "was" if count == 1 else "were"
    return f"{rows} of {summary.file} {verb} rejected (--fail-on-reject); the others were imported"


def _pair(text: str, option: str = "--map") -> tuple[str, str]:
    header, sep, target = text.rpartition("=")
    if not sep or not header.strip():
        shape = "HEADER=FIELD" if option == "--map" else "VALUE=STATUS"
        raise click.BadParameter(f"{text!r} is not {shape}", param_hint=option)
    return header, target


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True,
    help="Output format (xlsx needs the xlsx extra and -o).",
)  # fmt: skip
@where_option()
@click.option(
    "--columns",
    help="Comma-separated columns (attributes and fields.KEY); default: all, custom fields last.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File, replaced only when the export is complete (default: stdout).",
)
@click.option(
    "--raw",
    is_flag=True,
    help="Write cells exactly, even ones a spreadsheet would run as a formula (for programs).",
)
@click.option("--silent", is_flag=True, help="No progress bar.")
@pass_app
def customers_export(
    app: AppContext,
    fmt: ExportFormat,
    where: str | None,
    columns: str | None,
    output: Path | None,
    raw: bool,
    silent: bool,
) -> None:
    """Export customers, oldest first, streaming.

    CSV, TSV and xlsx cells starting with = + - @ TAB or CR get an apostrophe in
    front, so that a spreadsheet shows them instead of running them (--raw: no).
    """
    chosen = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    rule = MATCH_ALL if where is None else where
    if fmt == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs -o FILE")
    # A path is written whole or not at all (see docs/import-export.md); stdout as it goes.
    target: Any = sys.stdout if output is None else output
    # Rows on the terminal and a bar on the same screen would garble each other.
    shown = not silent and _on_terminal(sys.stderr)
    shown = shown and (output is not None or not _on_terminal(sys.stdout))
    workspace = app.workspace
    with _export_bar(shown, workspace.customers.count(rule) if shown else 0, output) as step:
        count = workspace.customers.export(
            target, fmt, where=rule, columns=chosen, progress=step, raw=raw
        )
    if output is not None:
        click.echo(f"Exported {count} customers to {output}", err=True)


@contextmanager
def _export_bar(
    shown: bool, total: int, output: Path | None
) -> Iterator[Callable[[int], None] | None]:
    """click's progress bar over ``total`` customers (counted first), or nothing."""
    if not shown:
        yield None
        return
    with click.progressbar(
        length=max(total, 1),
        label=f"Exporting to {output or 'stdout'}",
        file=sys.stderr,
        show_pos=True,
        show_percent=True,
        show_eta=True,
    ) as bar:
        yield bar.update


@click.command("import-profiles")
@pass_app
def customers_import_profiles(app: AppContext) -> None:
    """List the saved import mapping profiles."""
    echo(json_text(app.workspace.customers.import_profiles()))


@click.command("template")
@click.option(
    "--format", "fmt", type=click.Choice(TEMPLATE_FORMATS), default="csv", show_default=True,
    help="csv, or xlsx (with a guide sheet; needs the xlsx extra and -o).",
)  # fmt: skip
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout).",
)
@pass_app
def customers_template(app: AppContext, fmt: TemplateFormat, output: Path | None) -> None:
    """Write the import template: the columns, one example row; the guide goes to stderr.

    Fill it in and import it with `pipeline customers import FILE`: no --map needed.
    """
    if fmt == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs -o FILE")
    sheet = app.workspace.customers.template(sys.stdout if output is None else output, fmt)
    width = max(len(column) for column, _ in sheet.guide)
    guide = "".join(f"  {column:<{width}}  {text}\n" for column, text in sheet.guide)
    click.echo(f"Columns of the template:\n{guide}", err=True, nl=False)


COMMANDS = (customers_import, customers_export, customers_import_profiles, customers_template)
