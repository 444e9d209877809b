"""``pipeline rules``: check a rule, see the SQL it filters with (docs/rules.md)."""

from __future__ import annotations

import click

from pipeline_core.commands._common import AppContext, echo, format_option, pass_app
from pipeline_core.domain.serialization import dumps
from pipeline_core.render.common import json_text
from pipeline_core.render.shapes import RuleSqlRecord
from pipeline_core.rules.printer import to_text


@click.group()
def rules() -> None:
    """The rule language: check a rule, see the SQL it filters with (docs/rules.md)."""


@rules.command("check")
@click.argument("rule")
@pass_app
def rules_check(app: AppContext, rule: str) -> None:
    """Parse and type-check RULE against this workspace's fields; print its canonical form."""
    click.echo(to_text(app.workspace.rules.check(rule)))


@rules.command("sql")
@click.argument("rule")
@format_option("table", "json")
@pass_app
def rules_sql(app: AppContext, rule: str, fmt: str) -> None:
    """Print the SQL condition (over customers c) and the parameters RULE compiles to."""
    compiled = app.workspace.rules.sql(rule)
    if fmt == "json":
        record: RuleSqlRecord = {"sql": compiled.sql, "params": list(compiled.params)}
        echo(json_text(record))
    else:
        click.echo(compiled.sql)
        click.echo("params: " + dumps(list(compiled.params)))
