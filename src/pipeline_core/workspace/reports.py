"""The Workspace's report use cases: pipeline funnel, grouped counts, aliases, saved reports."""

from __future__ import annotations

import abc
from datetime import date
from typing import Any

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
from pipeline_core.rules.ast import MATCH_ALL, Rule, all_of
from pipeline_core.rules.dates import bind_dates
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import WorkspaceBase

RuleText = Rule | str


class ReportsMixin(WorkspaceBase):
    """Reports computed in the store: each is one transaction and a handful of grouped rows."""

    @abc.abstractmethod
    def _bound(self, tx: Transaction, rule: RuleText) -> Rule:
        """``rule`` parsed, checked and with its dates bound to today."""

    @abc.abstractmethod
    def _rules_today(self) -> date:
        """Today's UTC date, as rules see it."""

    def _filter(self, tx: Transaction, where: RuleText) -> Rule:
        # The one place a report's filter is built: access scopes compose in here.
        return self._bound(tx, where)

    def pipeline_report(self, flow: str, where: RuleText = MATCH_ALL) -> PipelineReport:
        """Figures per column of ``flow``: count, value, time in stage, conversion, outcomes.

        See docs/reports.md for each figure's definition. Members are those the flow's board shows (hidden customers are left out),
        narrowed by ``where``.
        """
        with self._tx() as tx:
            definition = tx.get_flow(flow)
            members = all_of(
                bind_dates(definition.rule, self._rules_today()), self._filter(tx, where)
            )
            rows = tx.aggregate(members, PIPELINE_KEYS, hidden_from=flow)
            times = tx.stage_times(members, self.clock.now(), hidden_from=flow)
        return pipeline_report(definition, rows, times)

    def grouped_report(
        self, by: str, sub: str | None = None, where: RuleText = MATCH_ALL
    ) -> GroupedReport:
        """Customers satisfying ``where`` counted per ``by`` group, subdivided by ``sub``.

        Group values that differ only in case, surrounding or repeated spaces or
        accents are one group, and so are configured aliases (``set_group_alias``).
        """
        by_key = group_key(by)
        sub_key = None if sub is None else group_key(sub)
        keys = (by_key,) if sub_key is None else (by_key, sub_key)
        with self._tx() as tx:
            rule = self._filter(tx, where)
            rows = tx.aggregate(rule, keys)
            distinct = None
            if any(key.kind == TAG for key in keys):
                # A customer has several tags: count it once in each total.
                distinct = DistinctTotals(
                    by_rows=tx.aggregate(rule, (by_key,)) if sub_key is not None else rows,
                    sub_rows=() if sub_key is None else tx.aggregate(rule, (sub_key,)),
                    everyone=tx.count_customers(rule),
                )
            aliases = Aliases.from_setting(tx.get_setting(ALIASES_KEY))
        return grouped_report(by_key, sub_key, rows, aliases, distinct)

    def group_aliases(self) -> dict[str, list[str]]:
        """The configured group value aliases: ``{canonical label: [spelling, ...]}``."""
        with self._tx() as tx:
            data: Any = tx.get_setting(ALIASES_KEY) or {}
            Aliases.from_setting(data)
            return {label: list(spellings) for label, spellings in data.items()}

    def set_group_alias(self, label: str, spellings: list[str]) -> dict[str, list[str]]:
        """Make ``spellings`` (compared normalized) show as the group ``label``; all aliases."""
        with self._tx() as tx:
            updated = alias_setting(tx.get_setting(ALIASES_KEY), label, spellings)
            stored: dict[str, JSONValue] = {label: list(v) for label, v in updated.items()}
            tx.put_setting(ALIASES_KEY, stored)
            return updated

    def save_report(self, name: str, config: ReportConfig) -> ReportConfig:
        """Save (or replace) a report configuration under ``name``; its rule must check."""
        if not name.strip():
            raise InvalidValue("a saved report needs a non-blank name")
        with self._tx() as tx:
            if config.where:
                self._filter(tx, config.where)
            if config.flow is not None:
                tx.get_flow(config.flow)
            saved = self._saved(tx)
            saved[name.strip()] = config
            tx.put_setting(
                SAVED_KEY, {key: converter.unstructure(saved[key]) for key in sorted(saved)}
            )
        return config

    def saved_reports(self) -> dict[str, ReportConfig]:
        """Every saved report configuration, by name."""
        with self._tx() as tx:
            return self._saved(tx)

    def run_report(self, name: str) -> PipelineReport | GroupedReport:
        """Run the report saved under ``name``."""
        config = self.saved_reports().get(name.strip())
        if config is None:
            raise NotFound(f"no saved report called {name!r}")
        where = config.where or MATCH_ALL
        if config.kind == "pipeline":
            assert config.flow is not None  # checked by ReportConfig
            return self.pipeline_report(config.flow, where)
        assert config.by is not None
        return self.grouped_report(config.by, config.sub, where)

    def _saved(self, tx: Transaction) -> dict[str, ReportConfig]:
        data: Any = tx.get_setting(SAVED_KEY) or {}
        return {key: converter.structure(value, ReportConfig) for key, value in data.items()}
