"""``customers import``, ``customers export`` and ``customers import-profiles``.

``COMMANDS`` are attached to ``pipeline customers`` by ``pipeline_core.commands.customers``;
see docs/import-export.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from pipeline_core.commands._common import AppContext, echo, pass_app, where_option
from pipeline_core.importing.export import EXPORT_FORMATS, ExportFormat
from pipeline_core.importing.options import (
    IMPORT_POLICIES,
    ON_ERROR,
    ImportOptions,
    ImportSummary,
)
from pipeline_core.importing.readers import INPUT_FORMATS
from pipeline_core.render.common import json_text, key_value_table
from pipeline_core.render.shapes import ImportSummaryRecord
from pipeline_core.rules.ast import MATCH_ALL


class _Progress:
    """Rows and rows per second on stderr, redrawn in place (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.rows = 0
        self.started = time.perf_counter()

    def __call__(self, rows: int) -> None:
        self.rows += rows
        if self.enabled:
            rate = self.rows / max(time.perf_counter() - self.started, 1e-9)
            click.echo(f"\r{self.rows:,} rows  {rate:,.0f} rows/s", nl=False, err=True)

    def done(self) -> None:
        if self.enabled and self.rows:
            click.echo("", err=True)


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
        "unknown_columns": list(summary.unknown_columns),
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
    default=2000,
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
    silent: bool,
    fmt: str,
) -> None:
    """Import customers from FILE (CSV, TSV, JSON, JSON Lines, .xlsx) or - for stdin.

    Each batch commits whole; run the same command again after an interruption
    and it carries on where it stopped. See docs/import-export.md.
    """
    workspace = app.workspace
    pairs = dict(_pair(text) for text in mapping)
    if save_profile:
        workspace.customers.save_import_profile(
            save_profile, pairs, keep_unknown=keep_unknown, region=region
        )
    options = ImportOptions(
        input_format="jsonl" if nl else input_format,  # type: ignore[arg-type]
        encoding=encoding,
        delimiter=delimiter,
        mapping=pairs,
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
    progress = _Progress(enabled=not silent and sys.stderr.isatty())
    source: Any = sys.stdin.buffer if file == "-" else file
    try:
        summary = workspace.customers.import_file(
            source, options, profile=profile, progress=progress
        )
    finally:
        progress.done()
    echo(json_text(summary_data(summary)) if fmt == "json" else summary_text(summary))


def _pair(text: str) -> tuple[str, str]:
    header, sep, target = text.rpartition("=")
    if not sep or not header.strip():
        raise click.BadParameter(f"{text!r} is not HEADER=FIELD", param_hint="--map")
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
@pass_app
def customers_export(
    app: AppContext, fmt: ExportFormat, where: str | None, columns: str | None, output: Path | None
) -> None:
    """Export customers, oldest first, streaming."""
    chosen = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    rule = MATCH_ALL if where is None else where
    if fmt == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs -o FILE")
    # A path is written whole or not at all (see docs/import-export.md); stdout as it goes.
    target: Any = sys.stdout if output is None else output
    count = app.workspace.customers.export(target, fmt, where=rule, columns=chosen)
    if output is not None:
        click.echo(f"Exported {count} customers to {output}", err=True)


@click.command("import-profiles")
@pass_app
def customers_import_profiles(app: AppContext) -> None:
    """List the saved import mapping profiles."""
    echo(json_text(app.workspace.customers.import_profiles()))


COMMANDS = (customers_import, customers_export, customers_import_profiles)
