"""The life of one customer: timeline, contacts, follow-ups, deal, order, parent, folder, activity.

``COMMANDS`` are attached to ``pipeline customers`` by ``pipeline_core.commands.customers``.
"""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    nl_option,
    parse_date,
    parse_moment,
    pass_app,
)
from pipeline_core.render.common import (
    Format,
    customer_output,
    customer_record,
    customers_output,
)
from pipeline_core.render.life import event_output, event_record, events_output, tree_output


@click.command("timeline")
@click.argument("customer_id", type=int, metavar="ID")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Only events of this kind, or changes of records of this kind (payment...).",
)
@format_option()
@nl_option()
@pass_app
def customers_timeline(
    app: AppContext, customer_id: int, kinds: tuple[str, ...], fmt: Format, nl: bool
) -> None:
    """Show the timeline of customer ID, oldest first."""
    events = app.workspace.customers.timeline(customer_id, kinds or None)
    echo_list(nl, fmt, events, event_record, lambda items: events_output(items, fmt))


@click.command("contact")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--notes", help="What was said; goes on top of the lead notes, timestamped.")
@click.option("--channel", help="How: phone, email, whatsapp, visit...")
@format_option()
@pass_app
def customers_contact(
    app: AppContext, customer_id: int, notes: str | None, channel: str | None, fmt: Format
) -> None:
    """Log a contact with customer ID now."""
    echo(customer_output(app.workspace.customers.contact(customer_id, notes, channel=channel), fmt))


@click.command("follow-up")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("day", metavar="DATE")
@click.option("--notes", help="Why; goes on top of the lead notes, timestamped.")
@format_option()
@pass_app
def customers_follow_up(
    app: AppContext, customer_id: int, day: str, notes: str | None, fmt: Format
) -> None:
    """Schedule the next follow-up of customer ID on DATE (YYYY-MM-DD)."""
    on = parse_date(day)
    assert on is not None
    echo(customer_output(app.workspace.customers.follow_up(customer_id, on, notes), fmt))


@click.command("follow-up-done")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--notes", help="How it went; goes on top of the lead notes.")
@format_option()
@pass_app
def customers_follow_up_done(
    app: AppContext, customer_id: int, notes: str | None, fmt: Format
) -> None:
    """Mark the follow-up of customer ID done; its reminder stops being due."""
    echo(customer_output(app.workspace.customers.follow_up_done(customer_id, notes), fmt))


@click.command("deal")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("value")
@click.option("--currency", help="ISO 4217 code (needed unless the customer has one).")
@format_option()
@pass_app
def customers_deal(
    app: AppContext, customer_id: int, value: str, currency: str | None, fmt: Format
) -> None:
    """Set the deal VALUE (a decimal; '' clears) of customer ID."""
    echo(customer_output(app.workspace.customers.deal(customer_id, value, currency), fmt))


@click.command("convert")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("order_id", metavar="ORDER")
@click.option("--force", is_flag=True, help="Record another order on a converted customer.")
@format_option()
@pass_app
def customers_convert(
    app: AppContext, customer_id: int, order_id: str, force: bool, fmt: Format
) -> None:
    """Convert customer ID to order ORDER (lead -> order)."""
    echo(customer_output(app.workspace.customers.convert(customer_id, order_id, force=force), fmt))


@click.command("parent")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("parent_id", type=int, metavar="PARENT", required=False)
@format_option()
@pass_app
def customers_parent(app: AppContext, customer_id: int, parent_id: int | None, fmt: Format) -> None:
    """Make PARENT the parent of customer ID (no PARENT: detach it); cycles are refused."""
    echo(customer_output(app.workspace.customers.parent(customer_id, parent_id), fmt))


@click.command("children")
@click.argument("customer_id", type=int, metavar="ID")
@format_option()
@nl_option()
@pass_app
def customers_children(app: AppContext, customer_id: int, fmt: Format, nl: bool) -> None:
    """List the direct sub-customers of customer ID."""
    found = app.workspace.customers.children(customer_id)
    echo_list(nl, fmt, found, customer_record, lambda items: customers_output(items, fmt))


@click.command("tree")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--from-root", is_flag=True, help="Start from the topmost ancestor.")
@format_option()
@pass_app
def customers_tree(app: AppContext, customer_id: int, from_root: bool, fmt: Format) -> None:
    """Show customer ID and all its sub-customers."""
    echo(tree_output(app.workspace.customers.tree(customer_id, from_root=from_root), fmt))


@click.command("folder")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("folder", required=False)
@click.option("--status", help="Status to take there, if the folder's machine lacks the current.")
@click.option("--reason", help="Lost reason, if that status is a lost one.")
@click.option("--reason-text", help="Free text for lost reason 'other'.")
@format_option()
@pass_app
def customers_folder(
    app: AppContext,
    customer_id: int,
    folder: str | None,
    status: str | None,
    reason: str | None,
    reason_text: str | None,
    fmt: Format,
) -> None:
    """Move customer ID into FOLDER (none: out of any folder)."""
    moved = app.workspace.customers.folder(
        customer_id, folder, status=status, reason=reason, reason_text=reason_text
    )
    echo(customer_output(moved, fmt))


@click.command("activity")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("kind")
@click.argument("summary")
@click.option("--at", help="When it happened (ISO date-time with offset; default now).")
@click.option("--ref", help="An id or link in the system it came from.")
@format_option()
@pass_app
def customers_activity(
    app: AppContext,
    customer_id: int,
    kind: str,
    summary: str,
    at: str | None,
    ref: str | None,
    fmt: Format,
) -> None:
    """Record external activity KIND (email_sent, order_paid...) on customer ID's timeline."""
    event = app.workspace.customers.activity(
        customer_id, kind, summary, at=parse_moment(at), ref=ref
    )
    echo(event_output(event, fmt))


COMMANDS = (
    customers_timeline,
    customers_contact,
    customers_follow_up,
    customers_follow_up_done,
    customers_deal,
    customers_convert,
    customers_parent,
    customers_children,
    customers_tree,
    customers_folder,
    customers_activity,
)
