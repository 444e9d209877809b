"""``pipeline fields``: typed custom field definitions."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.domain.custom_fields import FIELD_TYPES, FieldDefinition
from pipeline_core.render.common import Format
from pipeline_core.render.life import fields_output


@click.group()
def fields() -> None:
    """Typed custom field definitions."""


@fields.command("add")
@click.argument("key")
@click.argument("type_", metavar="TYPE", type=click.Choice(FIELD_TYPES))
@click.option("--label", default="", help="What people see (default: KEY).")
@click.option("--required", is_flag=True, help="Every customer must have a value.")
@click.option("--option", "options", multiple=True, help="A select option (repeatable).")
@pass_app
def fields_add(
    app: AppContext,
    key: str,
    type_: str,
    label: str,
    required: bool,
    options: tuple[str, ...],
) -> None:
    """Define custom field KEY of TYPE."""
    definition = FieldDefinition(
        key=key, type=type_, label=label, required=required, options=options
    )
    stored = app.workspace.fields.add(definition)
    click.echo(f"Defined {stored.type} field {stored.key!r}")


@fields.command("list")
@format_option()
@pass_app
def fields_list(app: AppContext, fmt: Format) -> None:
    """List the custom field definitions."""
    echo(fields_output(app.workspace.fields.list(), fmt))


@fields.command("rename-option")
@click.argument("key")
@click.argument("old")
@click.argument("new")
@click.option("--expected-version", type=int, help="Refuse if the definition changed since.")
@pass_app
def fields_rename_option(
    app: AppContext, key: str, old: str, new: str, expected_version: int | None
) -> None:
    """Rename option OLD of select field KEY to NEW, on every customer too."""
    result = app.workspace.fields.rename_option(key, old, new, expected_version=expected_version)
    click.echo(
        f"Renamed {old!r} to {new!r} in {key!r} (now version {result.definition.version}); "
        f"{result.changed} customer(s) changed"
    )


@fields.command("add-option")
@click.argument("key")
@click.argument("options", nargs=-1, required=True)
@click.option("--expected-version", type=int, help="Refuse if the definition changed since.")
@pass_app
def fields_add_option(
    app: AppContext, key: str, options: tuple[str, ...], expected_version: int | None
) -> None:
    """Add OPTIONS to select field KEY."""
    updated = app.workspace.fields.add_options(key, options, expected_version=expected_version)
    click.echo(f"{key!r} options: {', '.join(updated.options)}")


@fields.command("remove")
@click.argument("key")
@pass_app
def fields_remove(app: AppContext, key: str) -> None:
    """Delete field KEY (refused while customers hold a value)."""
    app.workspace.fields.remove(key)
    click.echo(f"Removed field {key!r}")
