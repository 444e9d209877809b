"""``pipeline access``: workspace-wide access settings."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, pass_app
from pipeline_core.render.common import key_value_table


@click.group("access")
def access_group() -> None:
    """Workspace-wide access settings."""


@access_group.command("show")
@pass_app
def access_show(app: AppContext) -> None:
    """Show the access settings."""
    settings = app.workspace.access.show()
    echo(key_value_table({"hide contacts from agents": settings.hide_contacts_from_agents}))


@access_group.command("set")
@click.option(
    "--hide-contacts/--show-contacts",
    "hide",
    default=None,
    help="Mask emails, phones and WhatsApp for agents in show, list, search and export.",
)
@pass_app
def access_set(app: AppContext, hide: bool | None) -> None:
    """Change access settings."""
    settings = app.workspace.access.set(hide_contacts_from_agents=hide)
    echo(key_value_table({"hide contacts from agents": settings.hide_contacts_from_agents}))
