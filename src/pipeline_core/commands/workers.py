"""``pipeline workers``: team members assigned to customers."""

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
from pipeline_core.render.common import (
    Format,
    customer_output,
    customer_record,
    customers_output,
)


@click.group()
def workers() -> None:
    """Team members assigned to customers."""


@workers.command("assign")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@format_option()
@pass_app
def workers_assign(app: AppContext, customer_id: int, worker: str, fmt: Format) -> None:
    """Assign WORKER to customer ID."""
    echo(customer_output(app.workspace.workers.assign(customer_id, worker), fmt))


@workers.command("unassign")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@format_option()
@pass_app
def workers_unassign(app: AppContext, customer_id: int, worker: str, fmt: Format) -> None:
    """Take WORKER off customer ID."""
    echo(customer_output(app.workspace.workers.unassign(customer_id, worker), fmt))


@workers.command("customers")
@click.argument("worker")
@format_option()
@nl_option()
@pass_app
def workers_customers(app: AppContext, worker: str, fmt: Format, nl: bool) -> None:
    """List the customers WORKER is assigned to."""
    found = app.workspace.workers.customers(worker)
    echo_list(nl, fmt, found, customer_record, lambda items: customers_output(items, fmt))
