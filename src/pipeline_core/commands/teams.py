"""``pipeline teams``: customers belong to one, users to several."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.setup import teams_output, user_output


@click.group()
def teams() -> None:
    """Teams: customers belong to one, users to several."""


@teams.command("add")
@click.argument("name")
@pass_app
def teams_add(app: AppContext, name: str) -> None:
    """Add a team called NAME."""
    click.echo(f"Added team {app.workspace.teams.add(name)}")


@teams.command("list")
@format_option()
@pass_app
def teams_list(app: AppContext, fmt: Format) -> None:
    """List teams with their members."""
    workspace = app.workspace
    echo(teams_output(workspace.teams.list(), workspace.users.list(), fmt))


@teams.command("join")
@click.argument("team")
@click.argument("user")
@format_option("table", "json")
@pass_app
def teams_join(app: AppContext, team: str, user: str, fmt: Format) -> None:
    """Make USER a member of TEAM."""
    member = app.workspace.teams.join(team, user)
    echo(user_output(member, fmt, f"{member.name} is in {', '.join(member.teams)}"))


@teams.command("leave")
@click.argument("team")
@click.argument("user")
@format_option("table", "json")
@pass_app
def teams_leave(app: AppContext, team: str, user: str, fmt: Format) -> None:
    """Take USER out of TEAM (they lose sight of its customers at once)."""
    member = app.workspace.teams.leave(team, user)
    echo(user_output(member, fmt, f"{member.name} is in {', '.join(member.teams) or 'no team'}"))
