"""``pipeline users``: the people who use the workspace, with their roles."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    nl_option,
    pass_app,
    role_choice,
)
from pipeline_core.render.common import Format
from pipeline_core.render.setup import user_output, user_record, users_output

ROLE = role_choice()


@click.group()
def users() -> None:
    """The people who use the workspace, with their roles (admins only change them)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="admin, manager or agent.")
@click.option("--team", "teams", multiple=True, help="A team the user belongs to (repeatable).")
@format_option("table", "json")
@pass_app
def users_add(app: AppContext, name: str, role: str, teams: tuple[str, ...], fmt: Format) -> None:
    """Add a user called NAME."""
    user = app.workspace.users.add(name, role, teams)
    where = f" in {', '.join(user.teams)}" if user.teams else ""
    echo(user_output(user, fmt, f"Added {user.role} {user.name}{where}"))


@users.command("list")
@format_option()
@nl_option()
@pass_app
def users_list(app: AppContext, fmt: Format, nl: bool) -> None:
    """List users with their roles and teams."""
    found = app.workspace.users.list()
    echo_list(nl, fmt, found, user_record, lambda items: users_output(items, fmt))


@users.command("role")
@click.argument("name")
@click.argument("role", type=ROLE)
@format_option("table", "json")
@pass_app
def users_role(app: AppContext, name: str, role: str, fmt: Format) -> None:
    """Give user NAME the role ROLE."""
    user = app.workspace.users.role(name, role)
    echo(user_output(user, fmt, f"{user.name} is now {user.role}"))
