"""``pipeline reminders``: follow-up reminders."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, parse_moment, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.life import reminders_output


@click.group()
def reminders() -> None:
    """Follow-up reminders."""


@reminders.command("due")
@click.option("--at", help="The moment to ask about (ISO date-time with offset; default now).")
@format_option()
@pass_app
def reminders_due(app: AppContext, at: str | None, fmt: Format) -> None:
    """List the follow-ups due (and not done) at a moment."""
    echo(reminders_output(app.workspace.reminders.due(parse_moment(at)), fmt))
