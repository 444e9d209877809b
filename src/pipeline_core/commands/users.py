"""``pipeline users``: the people who use the workspace, with their roles."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    format_option,
    pass_app,
    records_output,
    role_choice,
)
from pipeline_core.domain.access import User
from pipeline_core.render.common import Format

ROLE = role_choice()


def _user_record(user: User) -> dict[str, object]:
    return {"name": user.name, "role": user.role, "teams": ", ".join(user.teams)}


@click.group()
def users() -> None:
    """The people who use the workspace, with their roles (admins only change them)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="admin, manager or agent.")
@click.option("--team", "teams", multiple=True, help="A team the user belongs to (repeatable).")
@pass_app
def users_add(app: AppContext, name: str, role: str, teams: tuple[str, ...]) -> None:
    """Add a user called NAME."""
    user = app.workspace.users.add(name, role, teams)
    click.echo(
        f"Added {user.role} {user.name}" + (f" in {', '.join(user.teams)}" if user.teams else "")
    )


@users.command("list")
@format_option()
@pass_app
def users_list(app: AppContext, fmt: Format) -> None:
    """List users with their roles and teams."""
    records = [_user_record(user) for user in app.workspace.users.list()]
    echo(records_output(records, ["name", "role", "teams"], fmt))


@users.command("role")
@click.argument("name")
@click.argument("role", type=ROLE)
@pass_app
def users_role(app: AppContext, name: str, role: str) -> None:
    """Give user NAME the role ROLE."""
    user = app.workspace.users.role(name, role)
    click.echo(f"{user.name} is now {user.role}")
