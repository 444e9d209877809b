"""The ``pipeline`` command: each command parses its arguments, makes one Workspace call, renders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import click

from pipeline_core import __version__
from pipeline_core.customer import Customer
from pipeline_core.domain.access import SYSTEM
from pipeline_core.domain.flows import PALETTE, Column
from pipeline_core.domain.serialization import converter, dumps
from pipeline_core.domain.statuses import load_status_machine, mermaid
from pipeline_core.errors import DuplicateCustomer, InvalidValue, PipelineError, RuleSyntaxError
from pipeline_core.render.common import (
    FORMATS,
    Format,
    board_output,
    customer_output,
    customers_output,
    json_text,
    records_csv,
    records_table,
)
from pipeline_core.render.life import view_output
from pipeline_core.rules.ast import MATCH_ALL, InSet, Rule, SetTest, all_of
from pipeline_core.rules.printer import to_text
from pipeline_core.workspace.dedupe import POLICIES, DuplicatePolicy
from pipeline_core.workspace.demo import create_demo
from pipeline_core.workspace.facade import DEFAULT_BOARD_LIMIT, DEFAULT_STORE_URL, Workspace

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """The CLI's context object: the store URL, the actor, and the workspace, opened on first use."""

    def __init__(self, store_url: str, actor: str = SYSTEM) -> None:
        self.store_url = store_url
        self.actor = actor
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        """The open workspace (opened, and closed with the command, on first use)."""
        if self._workspace is None:
            self._workspace = Workspace.open(self.store_url, actor=self.actor)
            click.get_current_context().call_on_close(self._workspace.close)
        return self._workspace


pass_app = click.make_pass_decorator(AppContext)


class PipelineGroup(click.Group):
    """A group that turns library errors into one ``Error: ...`` line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RuleSyntaxError as error:
            pointer = error.pointer()
            shown = "".join(f"\n  {line}" for line in pointer.split("\n")) if pointer else ""
            raise click.ClickException(f"{error}{shown}") from error
        except PipelineError as error:
            raise click.ClickException(str(error)) from error


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices (table, json and csv by default)."""
    options = choices or FORMATS
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(options),
        default=options[0],
        show_default=True,
        help="Output format.",
    )


def parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict; a pair without ``=`` or with a blank key is refused."""
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(f"--field {pair!r} is not KEY=VALUE")
        fields[key.strip()] = value
    return fields


def _keep_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # --filter may have been processed first; an absent --where must not undo it.
    if value is None:
        kept: str | None = ctx.params.get("where")
        return kept
    if ctx.params.get("where") is not None:
        raise click.UsageError("give --where or --filter, not both")
    return value


def _use_filter(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    if ctx.params.get("where") is not None:
        raise click.UsageError("give --where or --filter, not both")
    # Resolved now, so that a name that is not a saved filter is named as such.
    ctx.params["where"] = ctx.find_object(AppContext).workspace.saved_filter(value).rule  # type: ignore[union-attr]


def where_option(
    help_text: str = "Only customers satisfying this rule (see docs/rules.md).",
) -> Callable[[F], F]:
    """``--where RULE`` or ``--filter NAME`` (a saved filter): what a read command shows."""
    where = click.option("--where", metavar="RULE", callback=_keep_where, help=help_text)
    saved = click.option(
        "--filter",
        "saved_filter",
        metavar="NAME",
        expose_value=False,
        callback=_use_filter,
        help="Like --where, with the rule of a saved filter (see 'pipeline filters').",
    )

    def decorate(function: F) -> F:
        return where(saved(function))

    return decorate


def echo(text: str) -> None:
    """Write rendered output without adding a newline of our own."""
    click.echo(text, nl=False)


@click.group(cls=PipelineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar="PIPELINE_STORE",
    default=DEFAULT_STORE_URL,
    show_default=True,
    metavar="URL",
    help="Where the workspace lives: sqlite:///path.db, memory:, or a registered scheme. "
    "Env: PIPELINE_STORE.",
)
@click.option(
    "--as",
    "actor",
    envvar="PIPELINE_USER",
    default=SYSTEM,
    show_default=True,
    metavar="USER",
    help="Act as this user: they see and change only what their role and teams allow. "
    "Env: PIPELINE_USER.",
)
@click.version_option(__version__, "--version", prog_name="pipeline")
@click.pass_context
def cli(ctx: click.Context, store: str, actor: str) -> None:
    """Run customers through sales and service pipelines."""
    ctx.obj = AppContext(store, actor)


@cli.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the workspace (schema and default status machine) if it does not exist."""
    machine = app.workspace.initialize()
    click.echo(f"Workspace ready at {app.store_url} ({len(machine.statuses)} statuses)")


@cli.command()
@click.option("--customers", "count", default=50, show_default=True, help="Sample customers.")
@click.option("--seed", default=2026, show_default=True, help="Seed for the sample data.")
@click.option("--limit", default=8, show_default=True, help="Cards shown per column.")
@pass_app
def demo(app: AppContext, count: int, seed: int, limit: int) -> None:
    """Fill an empty workspace with a Sales flow and sample customers, then show its board."""
    workspace = app.workspace
    if workspace.count_customers() == 0:
        create_demo(workspace, count=count, seed=seed)
    else:
        click.echo("The workspace already has customers; showing its Sales board.", err=True)
    echo(board_output(workspace.board("Sales", limit=limit), "table"))


# customers -----------------------------------------------------------------------


@cli.group()
def customers() -> None:
    """Add, show, list, edit, import and export customers."""


@customers.command("add")
@click.argument("name")
@click.option("--email", "emails", multiple=True, help="An email address (repeatable).")
@click.option("--phone", "phones", multiple=True, help="A phone number (repeatable).")
@click.option("--whatsapp", help="A WhatsApp number.")
@click.option("--country", help="ISO country code for reading national phone numbers.")
@click.option("--status", default="", help="Initial status (default: the machine's first).")
@click.option("--folder", help="Folder.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--field", "fields", multiple=True, metavar="KEY=VALUE", help="A custom field.")
@click.option("--source", help="Where the customer came from.")
@click.option("--team", help="The team the customer belongs to.")
@click.option("--value", help="Deal value, a decimal number.")
@click.option("--currency", help="Deal currency, an ISO 4217 code.")
@click.option(
    "--on-duplicate",
    type=click.Choice(POLICIES),
    help="When a phone, email or WhatsApp matches a customer: block (refuse), allow (add "
    "anyway), merge (fold into it) or update (overwrite it). Default: the allow_duplicates "
    "setting, else block.",
)
@format_option()
@pass_app
def customers_add(
    app: AppContext,
    name: str,
    emails: tuple[str, ...],
    phones: tuple[str, ...],
    whatsapp: str | None,
    country: str | None,
    status: str,
    folder: str | None,
    tags: tuple[str, ...],
    fields: tuple[str, ...],
    source: str | None,
    team: str | None,
    value: str | None,
    currency: str | None,
    on_duplicate: DuplicatePolicy | None,
    fmt: Format,
) -> None:
    """Add a customer called NAME."""
    customer = Customer(
        name=name,
        emails=emails,
        phones=phones,
        whatsapp=whatsapp,
        country=country,
        status=status,
        folder=folder,
        tags=tags,
        fields=parse_fields(fields),
        source=source,
        team=team,
        value=value,
        currency=currency,
    )
    try:
        added = app.workspace.add_customer(customer, on_duplicate=on_duplicate)
    except DuplicateCustomer as error:
        hint = "--on-duplicate allow, merge or update"
        raise click.ClickException(f"{error}; to go ahead use {hint}") from error
    echo(customer_output(added, fmt))


@customers.command("show")
@click.argument("customer_id", type=int, metavar="ID")
@click.option(
    "--events", default=10, show_default=True, type=click.IntRange(min=0), help="Latest events."
)
@format_option()
@pass_app
def customers_show(app: AppContext, customer_id: int, events: int, fmt: Format) -> None:
    """Show one customer.

    The 360-degree view: profile, contacts, custom fields, status, workers,
    parent and children, open tasks, next follow-up, deal and outcome, time
    spent and the latest events. JSON has the record under "customer"; CSV
    gives the profile only.
    """
    echo(view_output(app.workspace.customer_view(customer_id, recent=events), fmt))


@customers.command("list")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many customers.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many first.")
@where_option()
@format_option()
@pass_app
def customers_list(
    app: AppContext, limit: int | None, offset: int, where: str | None, fmt: Format
) -> None:
    """List customers, oldest first."""
    found = app.workspace.list_customers(
        MATCH_ALL if where is None else where, limit=limit, offset=offset
    )
    echo(customers_output(found, fmt))


@customers.command("edit")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--name", help="New name.")
@click.option("--email", "emails", multiple=True, help="Replace the emails (repeatable).")
@click.option("--phone", "phones", multiple=True, help="Replace the phones (repeatable).")
@click.option("--whatsapp", help="New WhatsApp number ('' clears).")
@click.option("--country", help="New country code ('' clears).")
@click.option("--folder", help="New folder ('' clears).")
@click.option("--add-tag", "add_tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Remove a tag (repeatable).")
@click.option("--field", "fields", multiple=True, metavar="KEY=VALUE", help="Set a custom field.")
@click.option("--remove-field", "remove_fields", multiple=True, metavar="KEY", help="Drop one.")
@click.option("--source", help="New source ('' clears).")
@click.option("--team", help="New team ('' clears).")
@click.option("--value", help="New deal value ('' clears).")
@click.option("--currency", help="New currency ('' clears).")
@click.option("--expected-version", type=int, help="Refuse if the customer changed meanwhile.")
@click.option(
    "--on-duplicate",
    type=click.Choice(("block", "allow")),
    help="When a new phone, email or WhatsApp matches another customer: block or allow.",
)
@format_option()
@pass_app
def customers_edit(
    app: AppContext,
    customer_id: int,
    name: str | None,
    emails: tuple[str, ...],
    phones: tuple[str, ...],
    whatsapp: str | None,
    country: str | None,
    folder: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    fields: tuple[str, ...],
    remove_fields: tuple[str, ...],
    source: str | None,
    team: str | None,
    value: str | None,
    currency: str | None,
    expected_version: int | None,
    on_duplicate: DuplicatePolicy | None,
    fmt: Format,
) -> None:
    """Change fields of customer ID; only the options given change."""
    scalars = {
        "name": name,
        "whatsapp": whatsapp,
        "country": country,
        "folder": folder,
        "source": source,
        "team": team,
        "value": value,
        "currency": currency,
    }
    changes: dict[str, Any] = {key: value for key, value in scalars.items() if value is not None}
    if emails:
        changes["emails"] = emails
    if phones:
        changes["phones"] = phones
    edited = app.workspace.edit_customer(
        customer_id,
        expected_version=expected_version,
        on_duplicate=on_duplicate,
        add_tags=add_tags,
        remove_tags=remove_tags,
        set_fields=parse_fields(fields),
        remove_fields=remove_fields,
        **changes,
    )
    echo(customer_output(edited, fmt))


# moves and boards -------------------------------------------------------------------


@cli.command()
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@click.argument("status", required=False)
@click.option("--flow", help="With --column: the flow whose column the card is dropped on.")
@click.option("--column", help="With --flow: the column to drop the card on.")
@click.option("--reason", help="Lost reason, for a move to a lost status.")
@click.option("--reason-text", help="Free text for lost reason 'other'.")
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
    fmt: Format,
) -> None:
    """Move CUSTOMER to STATUS, or drop its card on --flow's --column."""
    if (flow is None) != (column is None):
        raise click.UsageError("--flow and --column go together")
    if (status is None) == (flow is None):
        raise click.UsageError("give either STATUS or --flow and --column")
    workspace = app.workspace
    if status is not None:
        moved = workspace.move(customer_id, status, reason=reason, reason_text=reason_text)
    else:
        assert flow is not None and column is not None
        moved = workspace.move_to_column(
            customer_id, flow, column, reason=reason, reason_text=reason_text
        )
    if fmt == "table":
        click.echo(f"#{moved.id} {moved.name} is now {moved.status}")
    else:
        echo(customer_output(moved, fmt))


@cli.command()
@click.argument("flow")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_BOARD_LIMIT,
    show_default=True,
    help="Cards shown per column; the rest are counted as '+N more'.",
)
@where_option("Only members also satisfying this rule (combined with the flow's by 'and').")
@format_option()
@pass_app
def board(app: AppContext, flow: str, limit: int, where: str | None, fmt: Format) -> None:
    """Show the board of FLOW: its columns, counts and cards, newest activity first."""
    echo(
        board_output(
            app.workspace.board(flow, limit=limit, where=MATCH_ALL if where is None else where), fmt
        )
    )


# flows and columns ------------------------------------------------------------------


def membership_rule(
    folders: Sequence[str],
    statuses: Sequence[str],
    tags_any: Sequence[str],
    tags_all: Sequence[str],
    tags_none: Sequence[str],
) -> Rule:
    """The rule the ``flows add`` options describe: every given condition must hold."""
    parts: list[Rule] = []
    if folders:
        parts.append(InSet("folder", tuple(folders)))
    if statuses:
        parts.append(InSet("status", tuple(statuses)))
    for quantifier, tags in (("any", tags_any), ("all", tags_all), ("none", tags_none)):
        if tags:
            parts.append(SetTest("tags", quantifier, tuple(tags)))  # type: ignore[arg-type]
    return all_of(*parts)


def parse_column(text: str, position: int) -> Column:
    """``NAME`` or ``NAME=STATUS`` as a column at ``position``."""
    name, sep, status = text.partition("=")
    return Column(name, status if sep else name, PALETTE[position % len(PALETTE)], position)


@cli.group()
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
        specs.extend(workspace.status_machine().names)
    rule = membership_rule(folders, statuses, tags_any, tags_all, tags_none)
    if rule_text is not None:
        rule = all_of(workspace.check_rule(rule_text), rule)
    flow = workspace.add_flow(name, rule, [parse_column(s, i) for i, s in enumerate(specs)])
    click.echo(f"Added flow {flow.name!r} with {len(flow.columns)} column(s)")


@flows.command("list")
@format_option()
@pass_app
def flows_list(app: AppContext, fmt: Format) -> None:
    """List the flows."""
    records = [converter.unstructure(flow) for flow in app.workspace.flows()]
    if fmt == "json":
        echo(json_text(records))
        return
    rows = [
        {"name": r["name"], "columns": [c["name"] for c in r["columns"]], "rule": r["rule"]}
        for r in records
    ]
    render = records_csv if fmt == "csv" else records_table
    echo(render(rows, ["name", "columns", "rule"]))


@flows.command("show")
@click.argument("name")
@format_option()
@pass_app
def flows_show(app: AppContext, name: str, fmt: Format) -> None:
    """Show one flow: its rule and columns."""
    flow = app.workspace.flow(name)
    record = converter.unstructure(flow)
    if fmt == "json":
        echo(json_text(record))
        return
    if fmt == "table":
        click.echo(f"Flow {flow.name}\nRule: {record['rule']}")
    render = records_csv if fmt == "csv" else records_table
    echo(render(record["columns"], ["position", "name", "status", "colour"]))


@flows.command("remove")
@click.argument("name")
@pass_app
def flows_remove(app: AppContext, name: str) -> None:
    """Delete flow NAME (its customers are untouched)."""
    app.workspace.remove_flow(name)
    click.echo(f"Removed flow {name!r}")


@flows.command("hide")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@pass_app
def flows_hide(app: AppContext, flow: str, customer_id: int) -> None:
    """Hide CUSTOMER from FLOW's board without changing the customer."""
    changed = app.workspace.hide(flow, customer_id)
    click.echo(f"#{customer_id} {'hidden from' if changed else 'was already hidden from'} {flow}")


@flows.command("unhide")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@pass_app
def flows_unhide(app: AppContext, flow: str, customer_id: int) -> None:
    """Show a hidden CUSTOMER on FLOW's board again."""
    changed = app.workspace.unhide(flow, customer_id)
    click.echo(f"#{customer_id} {'shown on' if changed else 'was not hidden from'} {flow}")


@flows.command("explain")
@click.argument("flow")
@click.argument("customer_id", type=int, metavar="CUSTOMER")
@format_option("table", "json")
@pass_app
def flows_explain(app: AppContext, flow: str, customer_id: int, fmt: str) -> None:
    """Why CUSTOMER is (or is not) on FLOW's board: each clause of the rule, and hiding."""
    explanation = app.workspace.explain(flow, customer_id)
    if fmt == "json":
        echo(json_text(attrs.asdict(explanation)))
    else:
        echo(explanation.render())


# rules ------------------------------------------------------------------------------


@cli.group()
def rules() -> None:
    """The rule language: check a rule, see the SQL it filters with (docs/rules.md)."""


@rules.command("check")
@click.argument("rule")
@pass_app
def rules_check(app: AppContext, rule: str) -> None:
    """Parse and type-check RULE against this workspace's fields; print its canonical form."""
    click.echo(to_text(app.workspace.check_rule(rule)))


@rules.command("sql")
@click.argument("rule")
@format_option("table", "json")
@pass_app
def rules_sql(app: AppContext, rule: str, fmt: str) -> None:
    """Print the SQL condition (over customers c) and the parameters RULE compiles to."""
    compiled = app.workspace.rule_sql(rule)
    if fmt == "json":
        echo(json_text({"sql": compiled.sql, "params": list(compiled.params)}))
    else:
        click.echo(compiled.sql)
        click.echo("params: " + dumps(list(compiled.params)))


@cli.group()
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
    updated = app.workspace.add_column(flow, name, status or name, colour=colour, position=position)
    click.echo(f"Flow {updated.name!r} columns: {', '.join(c.name for c in updated.columns)}")


@columns.command("list")
@click.argument("flow")
@format_option()
@pass_app
def columns_list(app: AppContext, flow: str, fmt: Format) -> None:
    """List FLOW's columns in position order."""
    records = [attrs.asdict(column) for column in app.workspace.flow(flow).columns]
    if fmt == "json":
        echo(json_text(records))
    else:
        render = records_csv if fmt == "csv" else records_table
        echo(render(records, ["position", "name", "status", "colour"]))


@columns.command("remove")
@click.argument("flow")
@click.argument("name")
@pass_app
def columns_remove(app: AppContext, flow: str, name: str) -> None:
    """Remove column NAME from FLOW; its cards show as unmapped."""
    updated = app.workspace.remove_column(flow, name)
    click.echo(f"Flow {updated.name!r} columns: {', '.join(c.name for c in updated.columns)}")


# statuses ---------------------------------------------------------------------------


@cli.group()
def statuses() -> None:
    """The status machine: statuses and the moves allowed between them."""


@statuses.command("show")
@format_option("table", "mermaid", "json")
@pass_app
def statuses_show(app: AppContext, fmt: str) -> None:
    """Show the status machine as a table, a Mermaid diagram or JSON."""
    machine = app.workspace.status_machine()
    if fmt == "mermaid":
        echo(mermaid(machine))
    elif fmt == "json":
        echo(json_text(converter.unstructure(machine)))
    else:
        rows = [
            {
                "status": status.name,
                "outcome": status.outcome,
                "on entry": [action.value for action in status.actions],
                "may move to": machine.allowed_from(status.name),
            }
            for status in machine.statuses
        ]
        echo(records_table(rows, ["status", "outcome", "on entry", "may move to"]))


@statuses.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_app
def statuses_load(app: AppContext, path: str) -> None:
    """Replace the status machine with the one in a .json or .toml file."""
    machine = app.workspace.set_status_machine(load_status_machine(path))
    click.echo(f"Loaded status machine with {len(machine.statuses)} statuses from {path}")


# The customer's-life, duplicates and access commands register themselves on the groups above.
from pipeline_core.commands import access as _cli_access  # noqa: E402
from pipeline_core.commands import bulk as _cli_import  # noqa: E402
from pipeline_core.commands import duplicates as _cli_dupes  # noqa: E402
from pipeline_core.commands import life as _cli_life  # noqa: E402
from pipeline_core.commands import reports as _cli_reports  # noqa: E402

assert _cli_life and _cli_dupes and _cli_access and _cli_import
assert _cli_reports


@cli.command()
@click.option("--to", "target", required=True, metavar="URL", help="The new, empty store.")
@format_option("table", "json")
@pass_app
def migrate(app: AppContext, target: str, fmt: str) -> None:
    """Copy the whole workspace into another store (e.g. SQLite to PostgreSQL) and verify it."""
    report = app.workspace.copy_to(target)
    if fmt == "json":
        echo(json_text({"source": report.source, "target": report.target, "rows": report.rows}))
        return
    rows = [{"table": name, "rows": count} for name, count in report.rows.items()]
    echo(records_table(rows, ["table", "rows"]))
    click.echo(f"Copied {sum(report.rows.values())} rows to {report.target}; every count matches.")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pipeline")
