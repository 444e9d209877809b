"""Use cases of reports: the pipeline funnel, grouped counts, aliases, saved reports.

Reports are computed in the store: each is one session and a handful of grouped rows.
"""

from __future__ import annotations

from typing import Any

import attrs

from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.report_keys import ALIASES_KEY, TAG, Aliases, alias_setting, group_key
from pipeline_core.domain.reports import (
    PIPELINE_KEYS,
    SAVED_KEY,
    DistinctTotals,
    GroupedReport,
    PipelineReport,
    ReportConfig,
    grouped_report,
    pipeline_report,
)
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace.flows import hidden_members, members
from pipeline_core.workspace.rules import RuleLike, bound
from pipeline_core.workspace.session import Session


def pipeline(s: Session, flow: str, where: RuleLike = MATCH_ALL) -> PipelineReport:
    """Figures per column of ``flow``: count, value, time in stage, conversion, outcomes.

    See docs/reports.md for each figure's definition. Members are those the
    flow's board shows, narrowed by ``where``; members hidden from the board are in
    no figure, and the report says how many (``hidden``), as the board does.
    """
    definition = s.get_flow(flow)
    rule = members(s, definition, where)
    rows = s.aggregate(rule, PIPELINE_KEYS, hidden_from=flow)
    times = s.stage_times(rule, s.now(), hidden_from=flow)
    report = pipeline_report(definition, rows, times)
    return attrs.evolve(report, hidden=hidden_members(s, definition.name, rule))


def grouped(
    s: Session, by: str, sub: str | None = None, where: RuleLike = MATCH_ALL
) -> GroupedReport:
    """Customers satisfying ``where`` counted per ``by`` group, subdivided by ``sub``.

    Group values that differ only in case, surrounding or repeated spaces or
    accents are one group, and so are configured aliases (``set_alias``).
    """
    by_key = group_key(by)
    sub_key = None if sub is None else group_key(sub)
    keys = (by_key,) if sub_key is None else (by_key, sub_key)
    rule = bound(s, where)
    rows = s.aggregate(rule, keys)
    distinct = None
    if any(key.kind == TAG for key in keys):
        # A customer has several tags: count it once in each total.
        distinct = DistinctTotals(
            by_rows=s.aggregate(rule, (by_key,)) if sub_key is not None else rows,
            sub_rows=() if sub_key is None else s.aggregate(rule, (sub_key,)),
            everyone=s.count_customers(rule),
        )
    aliases = Aliases.from_setting(s.get_setting(ALIASES_KEY))
    return grouped_report(by_key, sub_key, rows, aliases, distinct)


def aliases(s: Session) -> dict[str, list[str]]:
    """The configured group value aliases: ``{canonical label: [spelling, ...]}``."""
    data: Any = s.get_setting(ALIASES_KEY) or {}
    Aliases.from_setting(data)
    return {label: list(spellings) for label, spellings in data.items()}


def set_alias(s: Session, label: str, spellings: list[str]) -> dict[str, list[str]]:
    """Make ``spellings`` (compared normalized) show as the group ``label``; all aliases."""
    updated = alias_setting(s.get_setting(ALIASES_KEY), label, spellings)
    stored: dict[str, JSONValue] = {label: list(v) for label, v in updated.items()}
    s.put_setting(ALIASES_KEY, stored)
    return updated


def save(s: Session, name: str, config: ReportConfig) -> ReportConfig:
    """Save (or replace) a report configuration under ``name``; its rule must check."""
    if not name.strip():
        raise InvalidValue("a saved report needs a non-blank name")
    if config.where:
        bound(s, config.where)
    if config.flow is not None:
        s.get_flow(config.flow)
    stored = saved(s)
    stored[name.strip()] = config
    s.put_setting(SAVED_KEY, {key: converter.unstructure(stored[key]) for key in sorted(stored)})
    return config


def saved(s: Session) -> dict[str, ReportConfig]:
    """Every saved report configuration, by name."""
    data: Any = s.get_setting(SAVED_KEY) or {}
    return {key: converter.structure(value, ReportConfig) for key, value in data.items()}


def run(s: Session, name: str) -> PipelineReport | GroupedReport:
    """Run the report saved under ``name``."""
    config = saved(s).get(name.strip())
    if config is None:
        raise NotFound(f"no saved report called {name!r}")
    where = config.where or MATCH_ALL
    if config.kind == "pipeline":
        assert config.flow is not None  # checked by ReportConfig
        return pipeline(s, config.flow, where)
    assert config.by is not None
    return grouped(s, config.by, config.sub, where)
