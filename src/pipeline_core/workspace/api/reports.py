"""``ws.reports``: the pipeline funnel, grouped counts, aliases and saved reports."""

from __future__ import annotations

import builtins

from pipeline_core.domain.reports import GroupedReport, PipelineReport, ReportConfig
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace import reports
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import SessionOpener


class Reports:
    """Reports computed in the store (see docs/reports.md)."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def pipeline(self, flow: str, where: RuleLike = MATCH_ALL) -> PipelineReport:
        """Figures per column of ``flow``: count, value, time in stage, conversion, outcomes."""
        return self._opener.run(reports.pipeline, flow, where)

    def group(self, by: str, sub: str | None = None, where: RuleLike = MATCH_ALL) -> GroupedReport:
        """Customers satisfying ``where`` counted per ``by`` group, subdivided by ``sub``."""
        return self._opener.run(reports.grouped, by, sub, where)

    def aliases(self) -> dict[str, builtins.list[str]]:
        """The configured group value aliases: ``{canonical label: [spelling, ...]}``."""
        return self._opener.run(reports.aliases)

    def alias(self, label: str, spellings: builtins.list[str]) -> dict[str, builtins.list[str]]:
        """Make ``spellings`` (compared normalized) show as the group ``label``; all aliases."""
        return self._opener.run(reports.set_alias, label, spellings)

    def save(self, name: str, config: ReportConfig) -> ReportConfig:
        """Save (or replace) a report configuration under ``name``; its rule must check."""
        return self._opener.run(reports.save, name, config)

    def list(self) -> dict[str, ReportConfig]:
        """Every saved report configuration, by name."""
        return self._opener.run(reports.saved)

    def run(self, name: str) -> PipelineReport | GroupedReport:
        """Run the report saved under ``name``."""
        return self._opener.run(reports.run, name)
