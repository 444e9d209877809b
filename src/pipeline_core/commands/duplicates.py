"""The duplicate commands: clusters, merges and the duplicate settings (see docs/duplicates.md).

They register themselves on the groups of ``pipeline_core.cli`` and ``cli_life``.
``customers add/edit --on-duplicate`` live with those commands.
"""

from __future__ import annotations

import click

from pipeline_core.cli import AppContext, customers, echo, format_option, pass_app
from pipeline_core.commands.life import settings
from pipeline_core.domain.serialization import converter
from pipeline_core.render.common import Format, clusters_output, json_text, merge_output


@customers.command("dupes")
@format_option()
@pass_app
def customers_dupes(app: AppContext, fmt: Format) -> None:
    """List clusters of customers sharing a phone, email or WhatsApp (transitively)."""
    echo(clusters_output(app.workspace.find_duplicates(with_customers=True), fmt))


@customers.command("merge")
@click.argument("primary", type=int)
@click.argument("others", type=int, nargs=-1, required=True, metavar="OTHER...")
@click.option("--dry-run", is_flag=True, help="Show the resulting record; change nothing.")
@format_option()
@pass_app
def customers_merge(
    app: AppContext, primary: int, others: tuple[int, ...], dry_run: bool, fmt: Format
) -> None:
    """Merge OTHER customers into PRIMARY: PRIMARY's values win, nothing is lost.

    The others' ids keep leading to PRIMARY; their history moves to it.
    """
    echo(merge_output(app.workspace.merge(primary, others, dry_run=dry_run), fmt))


@settings.command("duplicates")
@click.option(
    "--default-region",
    metavar="CC",
    help="Region for phone numbers without a country code, e.g. GB ('' clears).",
)
@click.option(
    "--allow-duplicates/--block-duplicates",
    default=None,
    help="Whether adding a customer that matches another is allowed without asking.",
)
@click.option(
    "--fold-gmail/--no-fold-gmail",
    default=None,
    help="Whether gmail addresses match ignoring dots and +tags.",
)
@format_option("table", "json")
@pass_app
def settings_duplicates(
    app: AppContext,
    default_region: str | None,
    allow_duplicates: bool | None,
    fold_gmail: bool | None,
    fmt: str,
) -> None:
    """Show the duplicate settings, or change the ones given (the others stay)."""
    workspace = app.workspace
    if default_region is None and allow_duplicates is None and fold_gmail is None:
        current = workspace.duplicate_settings()
    else:
        current = workspace.configure_duplicates(
            default_region=default_region,
            allow_duplicates=allow_duplicates,
            fold_gmail=fold_gmail,
        )
    record = converter.unstructure(current)
    if fmt == "json":
        echo(json_text(record))
    else:
        for key, value in record.items():
            shown = {None: "", True: "true", False: "false"}.get(value, value)
            click.echo(f"{key}: {shown}")
