"""The top-level commands: ``init``, ``demo``, ``move``, ``board``, ``whoami`` and ``migrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    format_option,
    pass_app,
    wants_colour,
    when_option,
    where_option,
)
from pipeline_core.domain.access import Principal
from pipeline_core.domain.board import BoardFilters
from pipeline_core.render.board import board_output
from pipeline_core.render.common import (
    Format,
    customer_output,
    json_text,
    records_table,
)
from pipeline_core.render.shapes import MigrationRecord
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace.demo import MAX_CUSTOMERS, create_demo
from pipeline_core.workspace.facade import Workspace
from pipeline_core.workspace.flows import DEFAULT_BOARD_LIMIT


@click.command()
@click.option(
    "--region",
    metavar="CC",
    help="Default phone region (ISO country code): numbers without +country are read there.",
)
@pass_app
def init(app: AppContext, region: str | None) -> None:
    """Create the workspace (schema and default status machine) if it does not exist.

    --region sets the default phone region: numbers without a country code are read there.
    """
    machine = app.open_workspace(create=True).init(region)
    where = f"; phones without a country code are read in {region.upper()}" if region else ""
    click.echo(f"Workspace ready at {app.store_url} ({len(machine.statuses)} statuses){where}")


@click.command()
@click.option(
    "--customers",
    "count",
    type=click.IntRange(0, MAX_CUSTOMERS),
    default=50,
    show_default=True,
    help="Sample customers.",
)
@click.option("--seed", default=2026, show_default=True, help="Seed for the sample data.")
@click.option("--limit", default=8, show_default=True, help="Cards shown per column.")
@pass_app
def demo(app: AppContext, count: int, seed: int, limit: int) -> None:
    """Fill an empty workspace with a Sales flow and sample customers, then show its board."""
    workspace = app.open_workspace(create=True)
    if workspace.customers.count() == 0:
        create_demo(workspace, count=count, seed=seed)
    else:
        click.echo("The workspace already has customers; showing its Sales board.", err=True)
    board = workspace.flows.board("Sales", limit=limit)
    echo(board_output(board, "table", colour=wants_colour()))


@click.command()
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@click.argument("status", required=False)
@click.option("--flow", help="With --column: the flow whose column the card is dropped on.")
@click.option("--column", help="With --flow: the column to drop the card on.")
@click.option("--reason", help="Lost reason, for a move to a lost status.")
@click.option("--reason-text", help="Free text for lost reason 'other'.")
@click.option(
    "--expected-version",
    type=click.IntRange(min=1),
    metavar="N",
    help="Refuse the move if the customer is no longer at version N (the card's 'version').",
)
@format_option()
@pass_app
def move(
    app: AppContext,
    customer_id: int,
    status: str | None,
    flow: str | None,
    column: str | None,
    reason: str | None,
    reason_text: str | None,
    expected_version: int | None,
    fmt: Format,
) -> None:
    """Move CUSTOMER to STATUS, or drop its card on --flow's --column."""
    if (flow is None) != (column is None):
        raise click.UsageError("--flow and --column go together")
    if (status is None) == (flow is None):
        raise click.UsageError("give either STATUS or --flow and --column")
    workspace = app.workspace
    if status is not None:
        moved = workspace.customers.move(
            customer_id,
            status,
            expected_version=expected_version,
            reason=reason,
            reason_text=reason_text,
        )
    else:
        assert flow is not None and column is not None
        moved = workspace.flows.move(
            customer_id,
            flow,
            column,
            expected_version=expected_version,
            reason=reason,
            reason_text=reason_text,
        )
    if fmt == "table":
        click.echo(f"#{moved.id} {moved.name} is now {moved.status}")
    else:
        echo(customer_output(moved, fmt))


@click.command()
@click.argument("flow")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_BOARD_LIMIT,
    show_default=True,
    help="Cards shown per column (per page); the rest are counted as '+N more'.",
)
@where_option("Only members also satisfying this rule (combined with the flow's by 'and').")
@click.option(
    "--tag", "tags", multiple=True, help="Only cards with this tag (repeat: all of them)."
)
@click.option("--any-tag", is_flag=True, help="With --tag: cards with at least one of the tags.")
@when_option("--created-from", "Only customers created on or after this date or moment.")
@when_option("--created-to", "Only customers created on or before this date or moment.")
@click.option("--source", help="Only customers whose source contains this (any case, any accents).")
@click.option("--worker", "workers", multiple=True, help="Only customers assigned to this worker.")
@click.option("--folder", "folders", multiple=True, help="Only customers in this folder.")
@click.option("--column", help="Show only this column's cards (with --page).")
@click.option(
    "--page",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --column: which page of --limit cards, from 1.",
)
@click.option("--totals", is_flag=True, help="Only each column's count and values per currency.")
@click.option("--watch", is_flag=True, help="Draw the board again whenever the store changes.")
@format_option()
@pass_app
def board(
    app: AppContext,
    flow: str,
    limit: int,
    where: str | None,
    tags: tuple[str, ...],
    any_tag: bool,
    created_from: date | datetime | None,
    created_to: date | datetime | None,
    source: str | None,
    workers: tuple[str, ...],
    folders: tuple[str, ...],
    column: str | None,
    page: int,
    totals: bool,
    watch: bool,
    fmt: Format,
) -> None:
    """Show the board of FLOW: each column's count, values and cards, newest activity first."""
    if page > 1 and column is None:
        raise click.UsageError("--page goes with --column")
    if any_tag and not tags:
        raise click.UsageError("--any-tag goes with --tag")
    filters = BoardFilters(
        tags=tags,
        any_tag=any_tag,
        created_from=created_from,
        created_to=created_to,
        source=source,
        workers=workers,
        folders=folders,
    )
    workspace = app.workspace

    def draw() -> str:
        shown = workspace.flows.board(
            flow,
            limit=limit,
            where=MATCH_ALL if where is None else where,
            filters=filters,
            column=column,
            page=page,
        )
        return board_output(shown, fmt, colour=wants_colour(), totals=totals)

    if not watch:
        echo(draw())
        return
    watch_board(workspace, draw)


def watch_board(workspace: Workspace, draw: Callable[[], str]) -> None:
    """Draw, then draw again after each committed change to the store, until Ctrl-C."""
    # Clearing the screen is no colour: a terminal is cleared even with NO_COLOR set.
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    try:
        for _ in workspace.changes():
            echo(clear + draw())
    except KeyboardInterrupt:
        click.echo("", err=True)  # the ^C the terminal echoed ends its own line


@click.command()
@pass_app
def whoami(app: AppContext) -> None:
    """Show who the commands act as, with their role and teams."""
    principal: Principal = app.workspace.whoami()
    teams = principal.user.teams if principal.user else ()
    click.echo(f"{principal.name} ({principal.role})" + (f": {', '.join(teams)}" if teams else ""))


@click.command()
@click.option("--to", "target", required=True, metavar="URL", help="The new, empty store.")
@format_option("table", "json")
@pass_app
def migrate(app: AppContext, target: str, fmt: str) -> None:
    """Copy the whole workspace into another store (e.g. SQLite to PostgreSQL) and verify it."""
    report = app.workspace.migrate(target)
    if fmt == "json":
        record: MigrationRecord = {
            "source": report.source,
            "target": report.target,
            "rows": report.rows,
        }
        echo(json_text(record))
        return
    rows = [{"table": name, "rows": count} for name, count in report.rows.items()]
    echo(records_table(rows, ["table", "rows"]))
    click.echo(f"Copied {sum(report.rows.values())} rows to {report.target}; every count matches.")
