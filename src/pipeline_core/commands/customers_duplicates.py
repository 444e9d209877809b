"""``customers dupes`` and ``customers merge`` (see docs/duplicates.md).

``COMMANDS`` are attached to ``pipeline customers`` by ``pipeline_core.commands.customers``;
``customers add/edit --on-duplicate`` live with those commands, ``settings duplicates`` with
the settings.
"""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.render.common import Format, clusters_output, merge_output


@click.command("dupes")
@format_option()
@pass_app
def customers_dupes(app: AppContext, fmt: Format) -> None:
    """List clusters of customers sharing a phone, email or WhatsApp (transitively)."""
    echo(clusters_output(app.workspace.customers.dupes(with_customers=True), fmt))


@click.command("merge")
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
    echo(merge_output(app.workspace.customers.merge(primary, others, dry_run=dry_run), fmt))


COMMANDS = (customers_dupes, customers_merge)
