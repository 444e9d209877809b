"""``pipeline customers``: add, show, list, edit and search here; the rest from sub-modules.

The customer's life (customers_life), duplicates (customers_duplicates) and bulk import
and export (customers_bulk) define their commands apart; they are attached below.
"""

from __future__ import annotations

from typing import Any

import click

from pipeline_core.commands import customers_bulk, customers_duplicates, customers_life
from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_json_lines,
    echo_list,
    echo_stream,
    format_option,
    nl_option,
    parse_fields,
    pass_app,
    wants_lines,
    where_option,
)
from pipeline_core.customer import Customer
from pipeline_core.domain.duplicates import POLICIES, DuplicatePolicy
from pipeline_core.domain.search import DEFAULT_LIMIT
from pipeline_core.errors import DuplicateCustomer
from pipeline_core.render.common import (
    Format,
    customer_output,
    customer_record,
    customers_output,
    json_array,
    listed_output,
    listed_record,
)
from pipeline_core.render.life import view_output
from pipeline_core.rules.ast import MATCH_ALL


@click.group()
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
        added = app.workspace.customers.add(customer, on_duplicate=on_duplicate)
    except DuplicateCustomer as error:
        hint = "--on-duplicate allow, merge or update"
        raise click.ClickException(f"{error}; to go ahead use {hint}") from error
    echo(customer_output(added, fmt))
    for phone in app.workspace.customers.unreadable_phones(added):
        click.echo(
            f"Warning: phone {phone!r} cannot be read (no --country and no default region,"
            " or not a number), so it takes no part in duplicate checks; set a region with"
            " pipeline init --region CC",
            err=True,
        )


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
    spent and the latest events. JSON prints the "customer view" (docs/json.md),
    the customer object under "customer"; CSV gives the profile only.
    """
    echo(view_output(app.workspace.customers.show(customer_id, recent=events), fmt))


@customers.command("list")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many customers.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many first.")
@click.option(
    "--unseen", is_flag=True, help="Only customers with activity since you last opened them."
)
@where_option()
@format_option()
@nl_option()
@pass_app
def customers_list(
    app: AppContext,
    limit: int | None,
    offset: int,
    unseen: bool,
    where: str | None,
    fmt: Format,
    nl: bool,
) -> None:
    """List customers, oldest first, each with its new_activity badge.

    new_activity counts the events others made since you last opened the customer
    (customers show). JSON (--format json) and JSON Lines (--nl) are printed as the
    customers are read, a page at a time, in flat memory however many there are.
    """
    rule = MATCH_ALL if where is None else where
    listed = app.workspace.customers.listing(rule, unseen=unseen, limit=limit, offset=offset)
    if wants_lines(nl, fmt) or fmt == "json":
        records = map(listed_record, listed)
        if nl:
            echo_json_lines(records)
        else:
            echo_stream(json_array(records))
        return
    echo(listed_output(list(listed), fmt))


@customers.command("count")
@where_option()
@pass_app
def customers_count(app: AppContext, where: str | None) -> None:
    """Print how many customers there are (that satisfy --where or --filter), counted in the store."""
    click.echo(app.workspace.customers.count(MATCH_ALL if where is None else where))


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
    edited = app.workspace.customers.edit(
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


@customers.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True)
@where_option()
@format_option()
@nl_option()
@pass_app
def customers_search(
    app: AppContext, text: str, limit: int, where: str | None, fmt: Format, nl: bool
) -> None:
    """Find customers by name, email, phone (or its last digits) or tag, best first."""
    found = app.workspace.customers.search(
        text, where=MATCH_ALL if where is None else where, limit=limit
    )
    echo_list(nl, fmt, found, customer_record, lambda items: customers_output(items, fmt))


for _command in (
    *customers_life.COMMANDS,
    *customers_duplicates.COMMANDS,
    *customers_bulk.COMMANDS,
):
    customers.add_command(_command)
