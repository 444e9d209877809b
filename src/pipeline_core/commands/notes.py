"""``pipeline notes``: notes on a customer's timeline."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.life import event_output, events_output


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
@pass_app
def notes_list(app: AppContext, customer_id: int, fmt: Format) -> None:
    """List the notes of customer ID, oldest first."""
    echo(events_output(app.workspace.notes.list(customer_id), fmt))
