"""``pipeline folders``: folders, their status machines and custom fields, and who may move."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app, role_choice
from pipeline_core.domain.access import FolderAccess
from pipeline_core.importing.machines import read_status_machine
from pipeline_core.render.common import Format
from pipeline_core.render.life import folders_output

ROLE = role_choice()


@click.group()
def folders() -> None:
    """Folders, each with its own status machine and custom fields."""


@folders.command("add")
@click.argument("name")
@click.option("--machine", type=click.Path(dir_okay=False), help="Status machine .json/.toml.")
@click.option("--field", "fields", multiple=True, help="A custom field that applies (repeatable).")
@pass_app
def folders_add(app: AppContext, name: str, machine: str | None, fields: tuple[str, ...]) -> None:
    """Define folder NAME."""
    loaded = None if machine is None else read_status_machine(machine)
    folder = app.workspace.folders.add(name, loaded, fields)
    click.echo(f"Added folder {folder.name!r}")


@folders.command("list")
@format_option()
@pass_app
def folders_list(app: AppContext, fmt: Format) -> None:
    """List the folders."""
    echo(folders_output(app.workspace.folders.list(), fmt))


@folders.command("remove")
@click.argument("name")
@pass_app
def folders_remove(app: AppContext, name: str) -> None:
    """Delete folder NAME (refused while customers are in it)."""
    app.workspace.folders.remove(name)
    click.echo(f"Removed folder {name!r}")


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
    access: FolderAccess = app.workspace.folders.access(
        folder,
        enter=() if anyone else (enter or None),
        leave=() if anyone else (leave or None),
    )
    click.echo(
        f"{folder}: in {', '.join(access.enter) or 'anyone'}; out {', '.join(access.leave) or 'anyone'}"
    )
