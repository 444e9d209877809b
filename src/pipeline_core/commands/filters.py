"""``pipeline filters``: saved filters, for ``--filter NAME`` wherever ``--where`` goes."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.setup import filter_output, filters_output


@click.group()
def filters() -> None:
    """Saved filters: rules under a name, for --filter NAME wherever --where goes."""


@filters.command("save")
@click.argument("name")
@click.argument("rule")
@click.option("--shared", is_flag=True, help="Everyone may use it (default: only you).")
@pass_app
def filters_save(app: AppContext, name: str, rule: str, shared: bool) -> None:
    """Save RULE under NAME."""
    saved = app.workspace.filters.save(name, rule, shared=shared)
    click.echo(f"Saved {'shared' if saved.shared else 'private'} filter {saved.name}")


@filters.command("list")
@format_option()
@pass_app
def filters_list(app: AppContext, fmt: Format) -> None:
    """List the filters you may use: yours and the shared ones."""
    echo(filters_output(app.workspace.filters.list(), fmt))


@filters.command("show")
@click.argument("name")
@format_option("table", "json")
@pass_app
def filters_show(app: AppContext, name: str, fmt: Format) -> None:
    """Show the saved filter NAME."""
    echo(filter_output(app.workspace.filters.get(name), fmt))


@filters.command("delete")
@click.argument("name")
@pass_app
def filters_delete(app: AppContext, name: str) -> None:
    """Delete the saved filter NAME (yours; admins also shared ones)."""
    app.workspace.filters.delete(name)
    click.echo(f"Deleted filter {name}")
