"""``pipeline columns``: the columns (stages) of a flow's board."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.domain.flows import FlowDefinition
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


def _echo_columns(flow: FlowDefinition) -> None:
    click.echo(f"Flow {flow.name!r} columns: {', '.join(c.name for c in flow.columns)}")


@columns.command("move")
@click.argument("flow")
@click.argument("name")
@click.option("--to", type=click.IntRange(min=0), help="0-based position.")
@click.option("--before", metavar="COLUMN", help="Just before this column.")
@click.option("--after", metavar="COLUMN", help="Just after this column.")
@pass_app
def columns_move(
    app: AppContext,
    flow: str,
    name: str,
    to: int | None,
    before: str | None,
    after: str | None,
) -> None:
    """Move column NAME of FLOW: --to a position, or --before/--after another column."""
    if sum(x is not None for x in (to, before, after)) != 1:
        raise click.UsageError("give exactly one of --to, --before or --after")
    _echo_columns(app.workspace.columns.move(flow, name, to=to, before=before, after=after))


@columns.command("rename")
@click.argument("flow")
@click.argument("name")
@click.argument("new_name")
@pass_app
def columns_rename(app: AppContext, flow: str, name: str, new_name: str) -> None:
    """Rename column NAME of FLOW to NEW_NAME (its status and cards stay)."""
    _echo_columns(app.workspace.columns.rename(flow, name, new_name))


@columns.command("recolour")
@click.argument("flow")
@click.argument("name")
@click.argument("colour")
@pass_app
def columns_recolour(app: AppContext, flow: str, name: str, colour: str) -> None:
    """Give column NAME of FLOW the COLOUR #rrggbb."""
    updated = app.workspace.columns.recolour(flow, name, colour)
    column = updated.column(name)
    click.echo(f"Column {column.name!r} of flow {updated.name!r} is now {column.colour}")
