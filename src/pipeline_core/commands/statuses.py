"""``pipeline statuses``: the status machine, shown or loaded from a file."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import json_text, records_table
from pipeline_core.render.setup import unstructured
from pipeline_core.render.statuses import mermaid


@click.group()
def statuses() -> None:
    """The status machine: statuses and the moves allowed between them."""


@statuses.command("show")
@format_option("table", "mermaid", "json")
@pass_app
def statuses_show(app: AppContext, fmt: str) -> None:
    """Show the status machine as a table, a Mermaid diagram or JSON."""
    machine = app.workspace.statuses.show()
    if fmt == "mermaid":
        echo(mermaid(machine))
    elif fmt == "json":
        echo(json_text(unstructured(machine)))
    else:
        rows = [
            {
                "status": status.name,
                "outcome": status.outcome,
                "on entry": [action.value for action in status.actions],
                "may move to": machine.allowed_from(status.name),
            }
            for status in machine.statuses
        ]
        echo(records_table(rows, ["status", "outcome", "on entry", "may move to"]))


@statuses.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_app
def statuses_load(app: AppContext, path: str) -> None:
    """Replace the status machine with the one in a .json or .toml file."""
    machine = app.workspace.statuses.load(path)
    click.echo(f"Loaded status machine with {len(machine.statuses)} statuses from {path}")
