"""``pipeline settings``: time zone, reminder hour, lost reasons, and the duplicate settings."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.domain.serialization import converter
from pipeline_core.render.common import json_text


@click.group()
def settings() -> None:
    """Workspace settings: time zone, reminder hour, lost reasons."""


@settings.command("show")
@format_option("table", "json")
@pass_app
def settings_show(app: AppContext, fmt: str) -> None:
    """Show the settings."""
    record = converter.unstructure(app.workspace.settings.show())
    if fmt == "json":
        echo(json_text(record))
    else:
        for key, value in record.items():
            click.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@settings.command("set")
@click.option("--time-zone", help="IANA zone name, e.g. Europe/Lisbon.")
@click.option("--reminder-hour", type=int, help="Local hour (0-23) reminders fall due.")
@click.option("--lost-reason", "lost_reasons", multiple=True, help="Replace the lost reasons.")
@pass_app
def settings_set(
    app: AppContext,
    time_zone: str | None,
    reminder_hour: int | None,
    lost_reasons: tuple[str, ...],
) -> None:
    """Change some settings; the others stay."""
    updated = app.workspace.settings.set(
        time_zone=time_zone, reminder_hour=reminder_hour, lost_reasons=lost_reasons or None
    )
    click.echo(
        f"time zone {updated.time_zone}, reminders at {updated.reminder_hour:02d}:00, "
        f"lost reasons: {', '.join(updated.lost_reasons)}"
    )


@settings.command("duplicates")
@click.option(
    "--default-region",
    metavar="CC",
    help="Region for phone numbers without a country code, e.g. GB ('' clears).",
)
@click.option(
    "--allow-duplicates/--block-duplicates",
    default=None,
    help="Whether adding a customer that matches another is allowed without asking.",
)
@click.option(
    "--fold-gmail/--no-fold-gmail",
    default=None,
    help="Whether gmail addresses match ignoring dots and +tags.",
)
@format_option("table", "json")
@pass_app
def settings_duplicates(
    app: AppContext,
    default_region: str | None,
    allow_duplicates: bool | None,
    fold_gmail: bool | None,
    fmt: str,
) -> None:
    """Show the duplicate settings, or change the ones given (the others stay)."""
    workspace = app.workspace
    if default_region is None and allow_duplicates is None and fold_gmail is None:
        current = workspace.settings.duplicates()
    else:
        current = workspace.settings.duplicates(
            default_region=default_region,
            allow_duplicates=allow_duplicates,
            fold_gmail=fold_gmail,
        )
    record = converter.unstructure(current)
    if fmt == "json":
        echo(json_text(record))
    else:
        for key, value in record.items():
            shown = {None: "", True: "true", False: "false"}.get(value, value)
            click.echo(f"{key}: {shown}")
