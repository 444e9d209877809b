"""``pipeline settings``: time zone, reminder hour, lost reasons, and the duplicate settings."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.setup import settings_output


@click.group()
def settings() -> None:
    """Workspace settings: time zone, reminder hour, lost reasons."""


@settings.command("show")
@format_option("table", "json")
@pass_app
def settings_show(app: AppContext, fmt: Format) -> None:
    """Show the settings."""
    echo(settings_output(app.workspace.settings.show(), fmt))


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
    fmt: Format,
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
    echo(settings_output(current, fmt))
