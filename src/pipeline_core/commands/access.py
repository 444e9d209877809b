"""``pipeline`` commands for access: users, teams, search, saved filters, access settings.

Registered on the main group by ``pipeline_core.cli`` when it is imported.
"""

from __future__ import annotations

import click

from pipeline_core.cli import (
    AppContext,
    cli,
    customers,
    echo,
    format_option,
    pass_app,
    where_option,
)
from pipeline_core.commands.life import folders
from pipeline_core.domain.access import ROLES, FolderAccess, Principal, User
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.domain.search import DEFAULT_LIMIT
from pipeline_core.render.common import (
    Format,
    customers_output,
    json_text,
    key_value_table,
    records_csv,
    records_table,
)
from pipeline_core.rules.ast import MATCH_ALL

ROLE = click.Choice(ROLES)


def _records_output(records: list[dict[str, object]], columns: list[str], fmt: Format) -> str:
    if fmt == "json":
        return json_text(records)
    if fmt == "csv":
        return records_csv(records, columns)
    return records_table(records, columns) if records else "(none)\n"


def _user_record(user: User) -> dict[str, object]:
    return {"name": user.name, "role": user.role, "teams": ", ".join(user.teams)}


# users and teams ------------------------------------------------------------------------


@cli.group()
def users() -> None:
    """The people who use the workspace, with their roles (admins only change them)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="admin, manager or agent.")
@click.option("--team", "teams", multiple=True, help="A team the user belongs to (repeatable).")
@pass_app
def users_add(app: AppContext, name: str, role: str, teams: tuple[str, ...]) -> None:
    """Add a user called NAME."""
    user = app.workspace.add_user(name, role, teams)
    click.echo(
        f"Added {user.role} {user.name}" + (f" in {', '.join(user.teams)}" if user.teams else "")
    )


@users.command("list")
@format_option()
@pass_app
def users_list(app: AppContext, fmt: Format) -> None:
    """List users with their roles and teams."""
    records = [_user_record(user) for user in app.workspace.users()]
    echo(_records_output(records, ["name", "role", "teams"], fmt))


@users.command("role")
@click.argument("name")
@click.argument("role", type=ROLE)
@pass_app
def users_role(app: AppContext, name: str, role: str) -> None:
    """Give user NAME the role ROLE."""
    user = app.workspace.set_role(name, role)
    click.echo(f"{user.name} is now {user.role}")


@cli.command()
@pass_app
def whoami(app: AppContext) -> None:
    """Show who the commands act as, with their role and teams."""
    principal: Principal = app.workspace.whoami()
    teams = principal.user.teams if principal.user else ()
    click.echo(f"{principal.name} ({principal.role})" + (f": {', '.join(teams)}" if teams else ""))


@cli.group()
def teams() -> None:
    """Teams: customers belong to one, users to several."""


@teams.command("add")
@click.argument("name")
@pass_app
def teams_add(app: AppContext, name: str) -> None:
    """Add a team called NAME."""
    click.echo(f"Added team {app.workspace.add_team(name)}")


@teams.command("list")
@format_option()
@pass_app
def teams_list(app: AppContext, fmt: Format) -> None:
    """List teams with their members."""
    workspace = app.workspace
    people = workspace.users()
    records: list[dict[str, object]] = [
        {"team": team, "members": ", ".join(u.name for u in people if team in u.teams)}
        for team in workspace.teams()
    ]
    echo(_records_output(records, ["team", "members"], fmt))


@teams.command("join")
@click.argument("team")
@click.argument("user")
@pass_app
def teams_join(app: AppContext, team: str, user: str) -> None:
    """Make USER a member of TEAM."""
    member = app.workspace.join_team(user, team)
    click.echo(f"{member.name} is in {', '.join(member.teams)}")


@teams.command("leave")
@click.argument("team")
@click.argument("user")
@pass_app
def teams_leave(app: AppContext, team: str, user: str) -> None:
    """Take USER out of TEAM (they lose sight of its customers at once)."""
    member = app.workspace.leave_team(user, team)
    click.echo(f"{member.name} is in {', '.join(member.teams) or 'no team'}")


# access settings and folder permissions ---------------------------------------------


@cli.group("access")
def access_group() -> None:
    """Workspace-wide access settings."""


@access_group.command("show")
@pass_app
def access_show(app: AppContext) -> None:
    """Show the access settings."""
    settings = app.workspace.access_settings()
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
    settings = app.workspace.set_access(hide_contacts_from_agents=hide)
    echo(key_value_table({"hide contacts from agents": settings.hide_contacts_from_agents}))


@folders.command("access")
@click.argument("folder")
@click.option("--enter", "enter", multiple=True, type=ROLE, help="A role that may move in.")
@click.option("--leave", "leave", multiple=True, type=ROLE, help="A role that may move out.")
@click.option("--anyone", is_flag=True, help="Every role may move in and out again.")
@pass_app
def folders_access(
    app: AppContext, folder: str, enter: tuple[str, ...], leave: tuple[str, ...], anyone: bool
) -> None:
    """Say which roles may move customers into and out of FOLDER."""
    if anyone and (enter or leave):
        raise click.UsageError("--anyone goes alone")
    access: FolderAccess = app.workspace.set_folder_access(
        folder,
        enter=() if anyone else (enter or None),
        leave=() if anyone else (leave or None),
    )
    click.echo(
        f"{folder}: in {', '.join(access.enter) or 'anyone'}; out {', '.join(access.leave) or 'anyone'}"
    )


# search -----------------------------------------------------------------------------


@customers.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True)
@where_option()
@format_option()
@pass_app
def customers_search(
    app: AppContext, text: str, limit: int, where: str | None, fmt: Format
) -> None:
    """Find customers by name, email, phone (or its last digits) or tag, best first."""
    found = app.workspace.search(text, where=MATCH_ALL if where is None else where, limit=limit)
    echo(customers_output(found, fmt))


# saved filters ----------------------------------------------------------------------


def _filter_record(saved: SavedFilter) -> dict[str, object]:
    return {"name": saved.name, "rule": saved.rule, "owner": saved.owner, "shared": saved.shared}


@cli.group()
def filters() -> None:
    """Saved filters: rules under a name, for --filter NAME wherever --where goes."""


@filters.command("save")
@click.argument("name")
@click.argument("rule")
@click.option("--shared", is_flag=True, help="Everyone may use it (default: only you).")
@pass_app
def filters_save(app: AppContext, name: str, rule: str, shared: bool) -> None:
    """Save RULE under NAME."""
    saved = app.workspace.save_filter(name, rule, shared=shared)
    click.echo(f"Saved {'shared' if saved.shared else 'private'} filter {saved.name}")


@filters.command("list")
@format_option()
@pass_app
def filters_list(app: AppContext, fmt: Format) -> None:
    """List the filters you may use: yours and the shared ones."""
    records = [_filter_record(saved) for saved in app.workspace.saved_filters()]
    echo(_records_output(records, ["name", "rule", "owner", "shared"], fmt))


@filters.command("show")
@click.argument("name")
@format_option("table", "json")
@pass_app
def filters_show(app: AppContext, name: str, fmt: Format) -> None:
    """Show the saved filter NAME."""
    record = _filter_record(app.workspace.saved_filter(name))
    echo(json_text(record) if fmt == "json" else key_value_table(record))


@filters.command("delete")
@click.argument("name")
@pass_app
def filters_delete(app: AppContext, name: str) -> None:
    """Delete the saved filter NAME (yours; admins also shared ones)."""
    app.workspace.delete_filter(name)
    click.echo(f"Deleted filter {name}")
