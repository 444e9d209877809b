"""``pipeline notes``: notes on a customer's timeline."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    nl_option,
    pass_app,
)
from pipeline_core.render.common import Format
from pipeline_core.render.life import event_output, event_record, events_output


@click.group()
def notes() -> None:
    """Notes on a customer's timeline."""


@notes.command("add")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("text")
@format_option()
@pass_app
def notes_add(app: AppContext, customer_id: int, text: str, fmt: Format) -> None:
    """Add note TEXT to customer ID."""
    echo(event_output(app.workspace.notes.add(customer_id, text), fmt))


@notes.command("list")
@click.argument("customer_id", type=int, metavar="ID")
@format_option()
@nl_option()
@pass_app
def notes_list(app: AppContext, customer_id: int, fmt: Format, nl: bool) -> None:
    """List the notes of customer ID, oldest first."""
    found = app.workspace.notes.list(customer_id)
    echo_list(nl, fmt, found, event_record, lambda items: events_output(items, fmt))
