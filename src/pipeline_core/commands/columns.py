"""``pipeline columns``: the columns (stages) of a flow's board."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.setup import columns_output


@click.group()
def columns() -> None:
    """The columns (stages) of a flow's board."""


@columns.command("add")
@click.argument("flow")
@click.argument("name")
@click.option("--status", help="Status a card gets when dropped here (default: NAME).")
@click.option("--colour", "--color", "colour", help="Colour as #rrggbb.")
@click.option("--position", type=click.IntRange(min=0), help="0-based position (default: last).")
@pass_app
def columns_add(
    app: AppContext,
    flow: str,
    name: str,
    status: str | None,
    colour: str | None,
    position: int | None,
) -> None:
    """Add column NAME to FLOW."""
    updated = app.workspace.columns.add(
        flow, name, status or name, colour=colour, position=position
    )
    click.echo(f"Flow {updated.name!r} columns: {', '.join(c.name for c in updated.columns)}")


@columns.command("list")
@click.argument("flow")
@format_option()
@pass_app
def columns_list(app: AppContext, flow: str, fmt: Format) -> None:
    """List FLOW's columns in position order."""
    echo(columns_output(app.workspace.flows.get(flow), fmt))


@columns.command("remove")
@click.argument("flow")
@click.argument("name")
@pass_app
def columns_remove(app: AppContext, flow: str, name: str) -> None:
    """Remove column NAME from FLOW; its cards show as unmapped."""
    updated = app.workspace.columns.remove(flow, name)
    click.echo(f"Flow {updated.name!r} columns: {', '.join(c.name for c in updated.columns)}")
