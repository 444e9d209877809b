"""``pipeline notifications``: what automations told the acting user and their teams."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.outbox import notifications_output


@click.group()
def notifications() -> None:
    """Notifications for the acting user (--as / PIPELINE_USER) and their teams."""


@notifications.command("list")
@click.option("--unread", is_flag=True, help="Only those not marked read.")
@format_option()
@pass_app
def notifications_list(app: AppContext, unread: bool, fmt: Format) -> None:
    """List notifications, newest first (the system actor sees everyone's)."""
    workspace = app.workspace
    found = workspace.notifications.list(unread=unread)
    echo(notifications_output(found, fmt, workspace.settings.show().zone))


@notifications.command("read")
@click.argument("ids", nargs=-1, type=int, required=True, metavar="ID...")
@pass_app
def notifications_read(app: AppContext, ids: tuple[int, ...]) -> None:
    """Mark notifications read."""
    changed = app.workspace.notifications.read(ids)
    click.echo(f"Marked {len(changed)} notification(s) read")
