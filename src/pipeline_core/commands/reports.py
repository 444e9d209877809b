"""``pipeline reports``: pipeline funnel and grouped reports, computed in the store."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    F,
    echo,
    format_option,
    pass_app,
    where_option,
)
from pipeline_core.domain.reports import GroupedReport, PipelineReport, ReportConfig
from pipeline_core.errors import InvalidValue
from pipeline_core.render.common import Format
from pipeline_core.render.reports import (
    aliases_output,
    report_output,
    save_chart,
    saved_reports_output,
)
from pipeline_core.rules.ast import MATCH_ALL


def output_options(command: F) -> F:
    """``--format``, ``--chart`` and ``--image``: how a report is shown."""
    command = click.option(
        "--image",
        metavar="PATH",
        help="Also draw the bar chart to a .png or .svg file (needs the 'charts' extra).",
    )(command)
    command = click.option("--chart", is_flag=True, help="Show a text bar chart instead.")(command)
    return format_option()(command)


def show(
    report: PipelineReport | GroupedReport, fmt: Format, chart: bool, image: str | None
) -> None:
    """Print the report, and draw it to ``image`` if given."""
    if image is not None:
        written = save_chart(report, image)
        click.echo(f"Wrote {written}", err=True)
    echo(report_output(report, fmt, chart))


@click.group()
def reports() -> None:
    """Pipeline funnel and grouped reports, computed in the store."""


@reports.command("pipeline")
@click.argument("flow")
@where_option()
@output_options
@pass_app
def reports_pipeline(
    app: AppContext, flow: str, where: str | None, fmt: Format, chart: bool, image: str | None
) -> None:
    """Per column of FLOW: count, value, median time in stage, conversion, won/lost."""
    report = app.workspace.reports.pipeline(flow, MATCH_ALL if where is None else where)
    show(report, fmt, chart, image)


@reports.command("group")
@click.option("--by", "by", required=True, metavar="FIELD", help="Group by this field.")
@click.option("--sub", metavar="FIELD", help="Subdivide each group by this field.")
@where_option()
@output_options
@pass_app
def reports_group(
    app: AppContext,
    by: str,
    sub: str | None,
    where: str | None,
    fmt: Format,
    chart: bool,
    image: str | None,
) -> None:
    """Count customers per FIELD value (status, folder, source, team, tag, created_month,
    field:KEY, ...), optionally subdivided by a second field, with totals."""
    report = app.workspace.reports.group(by, sub, MATCH_ALL if where is None else where)
    show(report, fmt, chart, image)


@reports.command("save")
@click.argument("name")
@click.option("--flow", help="Save a pipeline report of this flow.")
@click.option("--by", metavar="FIELD", help="Save a grouped report by this field.")
@click.option("--sub", metavar="FIELD", help="Subdivide the grouped report by this field.")
@where_option()
@pass_app
def reports_save(
    app: AppContext,
    name: str,
    flow: str | None,
    by: str | None,
    sub: str | None,
    where: str | None,
) -> None:
    """Save a report configuration as NAME (give --flow, or --by)."""
    if (flow is None) == (by is None):
        raise InvalidValue("give either --flow (a pipeline report) or --by (a grouped report)")
    if flow is not None and sub is not None:
        raise InvalidValue("--sub applies to grouped reports (--by), not to --flow")
    config = ReportConfig(
        kind="pipeline" if flow is not None else "group",
        flow=flow,
        by=by,
        sub=sub,
        where=where or "",
    )
    app.workspace.reports.save(name, config)
    click.echo(f"Saved report {name!r}")


@reports.command("run")
@click.argument("name")
@output_options
@pass_app
def reports_run(app: AppContext, name: str, fmt: Format, chart: bool, image: str | None) -> None:
    """Run the report saved as NAME."""
    show(app.workspace.reports.run(name), fmt, chart, image)


@reports.command("list")
@format_option()
@pass_app
def reports_list(app: AppContext, fmt: Format) -> None:
    """The saved report configurations."""
    echo(saved_reports_output(app.workspace.reports.list(), fmt))


@reports.command("alias")
@click.argument("label")
@click.argument("spellings", nargs=-1, required=True)
@pass_app
def reports_alias(app: AppContext, label: str, spellings: tuple[str, ...]) -> None:
    """Group values spelled SPELLINGS (ignoring case, spaces, accents) as LABEL."""
    aliases = app.workspace.reports.alias(label, list(spellings))
    click.echo(f"{label}: {', '.join(aliases[label.strip()])}")


@reports.command("aliases")
@format_option()
@pass_app
def reports_aliases(app: AppContext, fmt: Format) -> None:
    """The configured group value aliases."""
    echo(aliases_output(app.workspace.reports.aliases(), fmt))
