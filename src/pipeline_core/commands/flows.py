"""``pipeline flows``: pipelines, who belongs to each, and its board's columns."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    membership_rule,
    nl_option,
    pass_app,
)
from pipeline_core.domain.flows import PALETTE, Column
from pipeline_core.render.board import flow_events_output, hides_output, rule_change_output
from pipeline_core.render.common import Format, json_text
from pipeline_core.render.setup import flow_output, flows_output, unstructured
from pipeline_core.rules.ast import all_of


def parse_column(text: str, position: int) -> Column:
    """``NAME`` or ``NAME=STATUS`` as a column at ``position``."""
    name, sep, status = text.partition("=")
    return Column(name, status if sep else name, PALETTE[position % len(PALETTE)], position)


@click.group()
def flows() -> None:
    """Pipelines: who belongs to each, and its board's columns."""


@flows.command("add")
@click.argument("name")
@click.option("--rule", "rule_text", metavar="RULE", help="Membership rule (see docs/rules.md).")
@click.option("--folder", "folders", multiple=True, help="Members are in one of these folders.")
@click.option("--status", "statuses", multiple=True, help="Members are in one of these statuses.")
@click.option("--tags-any", multiple=True, help="Members have at least one of these tags.")
@click.option("--tags-all", multiple=True, help="Members have all of these tags.")
@click.option("--tags-none", multiple=True, help="Members have none of these tags.")
@click.option(
    "--column", "columns", multiple=True, metavar="NAME[=STATUS]", help="A column, in order."
)
@click.option(
    "--columns-from-statuses", is_flag=True, help="One column per status of the status machine."
)
@pass_app
def flows_add(
    app: AppContext,
    name: str,
    rule_text: str | None,
    folders: tuple[str, ...],
    statuses: tuple[str, ...],
    tags_any: tuple[str, ...],
    tags_all: tuple[str, ...],
    tags_none: tuple[str, ...],
    columns: tuple[str, ...],
    columns_from_statuses: bool,
) -> None:
    """Create flow NAME; --rule and the membership options combine with 'and'."""
    workspace = app.workspace
    specs = list(columns)
    if columns_from_statuses:
        specs.extend(workspace.statuses.show().names)
    rule = membership_rule(folders, statuses, tags_any, tags_all, tags_none)
    if rule_text is not None:
        rule = all_of(workspace.rules.check(rule_text), rule)
    flow = workspace.flows.add(name, rule, [parse_column(s, i) for i, s in enumerate(specs)])
    click.echo(f"Added flow {flow.name!r} with {len(flow.columns)} column(s)")


@flows.command("list")
@format_option()
@nl_option()
@pass_app
def flows_list(app: AppContext, fmt: Format, nl: bool) -> None:
    """List the flows."""
    found = app.workspace.flows.list()
    echo_list(nl, fmt, found, unstructured, lambda items: flows_output(items, fmt))


@flows.command("show")
@click.argument("name")
@format_option()
@pass_app
def flows_show(app: AppContext, name: str, fmt: Format) -> None:
    """Show one flow: its rule and columns."""
    echo(flow_output(app.workspace.flows.get(name), fmt))


@flows.command("remove")
@click.argument("name")
@pass_app
def flows_remove(app: AppContext, name: str) -> None:
    """Delete flow NAME (its customers are untouched)."""
    app.workspace.flows.remove(name)
    click.echo(f"Removed flow {name!r}")


@flows.command("rename")
@click.argument("name")
@click.argument("new_name")
@pass_app
def flows_rename(app: AppContext, name: str, new_name: str) -> None:
    """Rename flow NAME to NEW_NAME (columns, hidden cards and history follow)."""
    renamed = app.workspace.flows.rename(name, new_name)
    click.echo(f"Renamed flow {name!r} to {renamed.name!r}")


@flows.command("set-rule")
@click.argument("name")
@click.argument("rule_text", metavar="RULE")
@click.option("--dry-run", is_flag=True, help="Only count who would join and leave the board.")
@format_option("table", "json")
@pass_app
def flows_set_rule(app: AppContext, name: str, rule_text: str, dry_run: bool, fmt: Format) -> None:
    """Give flow NAME a new membership RULE; says how many customers join and leave."""
    echo(rule_change_output(app.workspace.flows.set_rule(name, rule_text, dry_run=dry_run), fmt))


@flows.command("history")
@click.argument("name")
@format_option()
@pass_app
def flows_history(app: AppContext, name: str, fmt: Format) -> None:
    """What happened to flow NAME: created, renamed, rule and column changes, oldest first."""
    echo(flow_events_output(app.workspace.flows.history(name), fmt))


@flows.command("hidden")
@click.argument("flow")
@format_option()
@pass_app
def flows_hidden(app: AppContext, flow: str, fmt: Format) -> None:
    """List the customers hidden from FLOW's board, with who hid each and when."""
    echo(hides_output(app.workspace.flows.hidden(flow), fmt))


@flows.command("hide")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@pass_app
def flows_hide(app: AppContext, flow: str, customer_id: int) -> None:
    """Hide CUSTOMER from FLOW's board, for everyone, without changing the customer."""
    changed = app.workspace.flows.hide(flow, customer_id)
    click.echo(f"#{customer_id} {'hidden from' if changed else 'was already hidden from'} {flow}")


@flows.command("unhide")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@pass_app
def flows_unhide(app: AppContext, flow: str, customer_id: int) -> None:
    """Show a hidden CUSTOMER on FLOW's board again."""
    changed = app.workspace.flows.unhide(flow, customer_id)
    click.echo(f"#{customer_id} {'shown on' if changed else 'was not hidden from'} {flow}")


@flows.command("explain")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@format_option("table", "json")
@pass_app
def flows_explain(app: AppContext, flow: str, customer_id: int, fmt: str) -> None:
    """Why CUSTOMER is (or is not) on FLOW's board: each clause of the rule, and hiding."""
    explanation = app.workspace.flows.explain(flow, customer_id)
    if fmt == "json":
        echo(json_text(unstructured(explanation)))
    else:
        echo(explanation.render())
