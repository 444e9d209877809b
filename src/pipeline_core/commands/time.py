"""``pipeline time``: working time spent on customers."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    nl_option,
    parse_moment,
    pass_app,
)
from pipeline_core.render.common import Format
from pipeline_core.render.life import summary_output, time_entry_output, time_output, time_record


@click.group("time")
def time_group() -> None:
    """Working time spent on customers."""


@time_group.command("log")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@click.argument("minutes", type=int)
@click.option("--at", help="When (ISO date-time with offset; default now).")
@click.option("--note", default="", help="What the time was for.")
@format_option()
@pass_app
def time_log(
    app: AppContext,
    customer_id: int,
    worker: str,
    minutes: int,
    at: str | None,
    note: str,
    fmt: Format,
) -> None:
    """Record MINUTES of WORKER's time on customer ID."""
    entry = app.workspace.time.log(customer_id, worker, minutes, at=parse_moment(at), note=note)
    echo(time_entry_output(entry, fmt))


@time_group.command("list")
@click.option("--customer", "customer_id", type=int, help="Only this customer's time.")
@click.option("--worker", help="Only this worker's time.")
@format_option()
@nl_option()
@pass_app
def time_list(
    app: AppContext, customer_id: int | None, worker: str | None, fmt: Format, nl: bool
) -> None:
    """List time entries, oldest first."""
    found = app.workspace.time.list(customer_id=customer_id, worker=worker)
    echo_list(nl, fmt, found, time_record, lambda items: time_output(items, fmt))


@time_group.command("summary")
@click.option("--customer", "customer_id", type=int, help="Only this customer's time.")
@click.option("--worker", help="Only this worker's time.")
@format_option()
@pass_app
def time_summary(app: AppContext, customer_id: int | None, worker: str | None, fmt: Format) -> None:
    """Sum working time per worker and per customer."""
    echo(summary_output(app.workspace.time.summary(customer_id=customer_id, worker=worker), fmt))
