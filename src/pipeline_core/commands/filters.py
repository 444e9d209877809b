"""``pipeline filters``: saved filters, for ``--filter NAME`` wherever ``--where`` goes."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app, records_output
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.render.common import Format, json_text, key_value_table


def _filter_record(saved: SavedFilter) -> dict[str, object]:
    return {"name": saved.name, "rule": saved.rule, "owner": saved.owner, "shared": saved.shared}


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
    records = [_filter_record(saved) for saved in app.workspace.filters.list()]
    echo(records_output(records, ["name", "rule", "owner", "shared"], fmt))


@filters.command("show")
@click.argument("name")
@format_option("table", "json")
@pass_app
def filters_show(app: AppContext, name: str, fmt: Format) -> None:
    """Show the saved filter NAME."""
    record = _filter_record(app.workspace.filters.get(name))
    echo(json_text(record) if fmt == "json" else key_value_table(record))


@filters.command("delete")
@click.argument("name")
@pass_app
def filters_delete(app: AppContext, name: str) -> None:
    """Delete the saved filter NAME (yours; admins also shared ones)."""
    app.workspace.filters.delete(name)
    click.echo(f"Deleted filter {name}")
