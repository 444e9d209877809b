"""``pipeline records``: orders, payments, invoices, appointments, files, conversations..."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    echo_stream,
    format_option,
    nl_option,
    parse_date,
    parse_moment,
    pass_app,
)
from pipeline_core.domain.records import FileRef, LinkedRecord, PayloadValue
from pipeline_core.errors import InvalidValue
from pipeline_core.importing.records import payload_cell
from pipeline_core.render.common import Format
from pipeline_core.render.records import (
    import_summary_output,
    kinds_output,
    record_output,
    record_record,
    records_list_output,
)


@click.group()
def records() -> None:
    """Linked records other modules attach to customers, keyed by external reference."""


def _payload(pairs: tuple[str, ...]) -> dict[str, PayloadValue]:
    payload: dict[str, PayloadValue] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(f"--data {pair!r} is not NAME=VALUE")
        # Read as a records file's cell is: a JSON number, true, false or null, else text.
        payload[key.strip()] = payload_cell(text, from_text=True)
    return payload


@records.command("add")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("kind")
@click.argument("ref")
@click.option("--state", default="", help="A state of the kind (default: its first).")
@click.option("--title", default="", help="What it is, in a few words.")
@click.option("--amount", help="An amount (decimal), with --currency.")
@click.option("--currency", help="ISO 4217 code of the amount.")
@click.option("--at", help="When it happened (ISO date-time with offset).")
@click.option("--due", help="When it falls due (YYYY-MM-DD).")
@click.option("--start", help="When it starts (ISO date-time with offset).")
@click.option("--end", help="When it ends (ISO date-time with offset).")
@click.option("--channel", help="A conversation's channel: email, whatsapp, sms or call.")
@click.option("--address", help="A conversation's counterpart: an email or phone number.")
@click.option("--uri", help="A file's URI (files are references, never stored).")
@click.option("--media-type", help="A file's media type, such as application/pdf.")
@click.option("--size", type=int, help="A file's size in bytes.")
@click.option("--checksum", help="A file's checksum, such as sha256:...")
@click.option("--data", "data", multiple=True, help="A payload value NAME=VALUE (repeatable).")
@format_option()
@pass_app
def records_add(
    app: AppContext,
    customer_id: int,
    kind: str,
    ref: str,
    state: str,
    title: str,
    amount: str | None,
    currency: str | None,
    at: str | None,
    due: str | None,
    start: str | None,
    end: str | None,
    channel: str | None,
    address: str | None,
    uri: str | None,
    media_type: str | None,
    size: int | None,
    checksum: str | None,
    data: tuple[str, ...],
    fmt: Format,
) -> None:
    """Attach record KIND REF to customer ID, or update the one it holds (an upsert)."""
    file = None
    if uri is not None or media_type is not None or size is not None or checksum is not None:
        file = FileRef(uri=uri or "", media_type=media_type, size=size, checksum=checksum)
    record = LinkedRecord(
        customer_id=customer_id,
        kind=kind,
        ref=ref,
        state=state,
        title=title,
        amount=amount,
        currency=currency,
        at=parse_moment(at),
        due=parse_date(due),
        start=parse_moment(start),
        end=parse_moment(end),
        channel=channel,
        address=address,
        file=file,
        payload=_payload(data),
    )
    echo(record_output(app.workspace.records.add(record), fmt))


@records.command("list")
@click.option("--customer", "customer_id", type=int, help="Only this customer's records.")
@click.option("--kind", "kinds", multiple=True, help="Only records of this kind (repeatable).")
@click.option("--state", "states", multiple=True, help="Only records in this state (repeatable).")
@format_option()
@nl_option()
@pass_app
def records_list(
    app: AppContext,
    customer_id: int | None,
    kinds: tuple[str, ...],
    states: tuple[str, ...],
    fmt: Format,
    nl: bool,
) -> None:
    """List linked records by when they took place."""
    found = app.workspace.records.list(customer_id, kinds=kinds, states=states)
    echo_list(nl, fmt, found, record_record, lambda items: records_list_output(items, fmt))


@records.command("show")
@click.argument("record_id", type=int, metavar="RECORD")
@format_option()
@pass_app
def records_show(app: AppContext, record_id: int, fmt: Format) -> None:
    """Show linked record RECORD."""
    echo(record_output(app.workspace.records.show(record_id), fmt))


@records.command("set-state")
@click.argument("record_id", type=int, metavar="RECORD")
@click.argument("state")
@format_option()
@pass_app
def records_set_state(app: AppContext, record_id: int, state: str, fmt: Format) -> None:
    """Move linked record RECORD to STATE (one of its kind's states)."""
    echo(record_output(app.workspace.records.set_state(record_id, state), fmt))


@records.command("kinds")
@format_option()
@pass_app
def records_kinds(app: AppContext, fmt: Format) -> None:
    """List the kinds of records and their states (the first is a new record's)."""
    echo(kinds_output(app.workspace.records.kinds(), fmt))


@records.command("define-kind")
@click.argument("name")
@click.option("--state", "states", multiple=True, required=True, help="A state (repeatable).")
@click.option("--description", default="", help="What records of this kind are.")
@format_option()
@pass_app
def records_define_kind(
    app: AppContext, name: str, states: tuple[str, ...], description: str, fmt: Format
) -> None:
    """Define record kind NAME of this workspace with its states (admins)."""
    kind = app.workspace.records.define_kind(name, states, description=description)
    echo(kinds_output([kind], fmt))


@records.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--encoding", default="utf-8", show_default=True, help="The file's text encoding.")
@format_option()
@pass_app
def records_import(app: AppContext, file: Path, encoding: str, fmt: Format) -> None:
    """Upsert the records of FILE (CSV or JSON Lines), keyed by customer, kind and ref.

    Bad rows are reported with line and column; the good ones are imported.
    """
    summary = app.workspace.records.import_file(file, encoding=encoding)
    echo(import_summary_output(summary, fmt))
    if summary.rejected:
        raise click.exceptions.Exit(1)


@records.command("export")
@click.option("--customer", "customer_id", type=int, help="Only this customer's records.")
@click.option("--kind", "kinds", multiple=True, help="Only records of this kind (repeatable).")
@click.option(
    "--to",
    "to_format",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="The file format (what records import reads back).",
)
@pass_app
def records_export(
    app: AppContext, customer_id: int | None, kinds: tuple[str, ...], to_format: str
) -> None:
    """Print linked records as CSV or JSON Lines, ready to import again."""
    chunks = app.workspace.records.export(
        customer_id, kinds=kinds, format="jsonl" if to_format == "jsonl" else "csv"
    )
    echo_stream(chunks)
