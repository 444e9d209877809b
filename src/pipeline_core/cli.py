"""The ``pipeline`` command: the root group, its options, and where each command lives.

Each command group is a module of ``pipeline_core.commands``, imported only when one
of its commands runs (or its own help is asked); ``pipeline --help`` lists them all from
the table below without importing any.
"""

from __future__ import annotations

import os

import click
from click.core import ParameterSource

from pipeline_core.commands._common import (
    DEFAULT_STORE_URL,
    SYSTEM,
    AppContext,
    LazyCommand,
    LazyGroup,
)


def _command(module: str, attribute: str, short_help: str) -> LazyCommand:
    return LazyCommand(f"pipeline_core.commands.{module}", attribute, short_help)


COMMANDS: dict[str, LazyCommand] = {
    "access": _command("access", "access_group", "Workspace-wide access settings."),
    "automations": _command(
        "automations",
        "automations",
        "Declarative automations: when an event happens to a matching customer, act.",
    ),
    "board": _command(
        "toplevel",
        "board",
        "Show the board of FLOW: each column's count, values and cards, newest activity first.",
    ),
    "columns": _command("columns", "columns", "The columns (stages) of a flow's board."),
    "customers": _command(
        "customers", "customers", "Add, show, list, edit, import and export customers."
    ),
    "deliveries": _command(
        "deliveries",
        "deliveries",
        "The outbox: webhooks and emails written with their cause, sent by a runner.",
    ),
    "demo": _command(
        "toplevel",
        "demo",
        "Fill an empty workspace with a Sales flow and sample customers, then show its board.",
    ),
    "fields": _command("fields", "fields", "Typed custom field definitions."),
    "filters": _command(
        "filters",
        "filters",
        "Saved filters: rules under a name, for --filter NAME wherever --where goes.",
    ),
    "flows": _command("flows", "flows", "Pipelines: who belongs to each, and its board's columns."),
    "folders": _command(
        "folders", "folders", "Folders, each with its own status machine and custom fields."
    ),
    "init": _command(
        "toplevel",
        "init",
        "Create the workspace (schema and default status machine) if it does not exist.",
    ),
    "migrate": _command(
        "toplevel",
        "migrate",
        "Copy the whole workspace into another store (e.g. SQLite to PostgreSQL) and verify it.",
    ),
    "move": _command(
        "toplevel", "move", "Move CUSTOMER to STATUS, or drop its card on --flow's --column."
    ),
    "notes": _command("notes", "notes", "Notes on a customer's timeline."),
    "notifications": _command(
        "notifications",
        "notifications",
        "Notifications for the acting user (--as / PIPELINE_USER) and their teams.",
    ),
    "records": _command(
        "records",
        "records",
        "Linked records other modules attach to customers, keyed by external reference.",
    ),
    "reminders": _command("reminders", "reminders", "Follow-up reminders."),
    "reports": _command(
        "reports", "reports", "Pipeline funnel and grouped reports, computed in the store."
    ),
    "rules": _command(
        "rules",
        "rules",
        "The rule language: check a rule, see the SQL it filters with (docs/rules.md).",
    ),
    "settings": _command(
        "settings", "settings", "Workspace settings: time zone, reminder hour, lost reasons."
    ),
    "statuses": _command(
        "statuses", "statuses", "The status machine: statuses and the moves allowed between them."
    ),
    "tasks": _command("tasks", "tasks", "Tasks on customers, with checklists."),
    "teams": _command("teams", "teams", "Teams: customers belong to one, users to several."),
    "time": _command("time", "time_group", "Working time spent on customers."),
    "users": _command(
        "users",
        "users",
        "The people who use the workspace, with their roles (admins only change them).",
    ),
    "whoami": _command(
        "toplevel", "whoami", "Show who the commands act as, with their role and teams."
    ),
    "workers": _command("workers", "workers", "Team members assigned to customers."),
}
"""Every command of the root group: name, module and attribute, and its short help."""


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # click.version_option, with the version read only when it is asked for.
    if not value or ctx.resilient_parsing:
        return
    from pipeline_core import __version__

    click.echo(f"pipeline, version {__version__}", color=ctx.color)
    ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--store",
    envvar="PIPELINE_STORE",
    default=DEFAULT_STORE_URL,
    show_default=True,
    metavar="URL",
    help="Where the workspace lives: sqlite:///path.db, memory:, or a registered scheme. "
    "Env: PIPELINE_STORE.",
)
@click.option(
    "--as",
    "actor",
    envvar="PIPELINE_USER",
    default=SYSTEM,
    show_default=True,
    metavar="USER",
    help="Act as this user: they see and change only what their role and teams allow. "
    "Env: PIPELINE_USER.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, store: str, actor: str) -> None:
    """Run customers through sales and service pipelines."""
    if (
        ctx.get_parameter_source("actor") is ParameterSource.DEFAULT
        and "PIPELINE_USER" in os.environ
    ):
        # click takes an empty variable for an unset one, which would act as the system:
        # set but empty names nobody, and is refused when the workspace opens, as --as "" is.
        actor = os.environ["PIPELINE_USER"]
    ctx.obj = AppContext(store, actor)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pipeline")
