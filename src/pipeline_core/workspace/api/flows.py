"""``ws.flows``, ``ws.columns``, ``ws.rules``, ``ws.statuses``: pipelines and their boards."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path

from pipeline_core.customer import Customer
from pipeline_core.domain.board import Board, BoardFilters
from pipeline_core.domain.flows import (
    Column,
    FlowDefinition,
    FlowEvent,
    FlowExplanation,
    FlowHide,
    RuleChange,
)
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.catalog import Catalog
from pipeline_core.rules.sql import POSTGRES, SQLITE, Compiled, Dialect
from pipeline_core.workspace import customers, flows, rules, statuses
from pipeline_core.workspace.api.customers import TrackingOpener
from pipeline_core.workspace.flows import DEFAULT_BOARD_LIMIT
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import SessionOpener


class Flows:
    """Flows (named pipelines with a membership rule) and their boards."""

    def __init__(self, opener: TrackingOpener) -> None:
        self._opener = opener

    def add(
        self, name: str, rule: RuleLike = MATCH_ALL, columns: Sequence[Column] = ()
    ) -> FlowDefinition:
        """Create a flow; its name must be new, its rule must check, its columns map to statuses."""
        return self._opener.run(flows.add, name, rule, columns)

    def list(self) -> builtins.list[FlowDefinition]:
        """Every flow, by name."""
        return self._opener.run(flows.list_flows)

    def get(self, name: str) -> FlowDefinition:
        """The flow called ``name``."""
        return self._opener.run(flows.get, name)

    def remove(self, name: str) -> None:
        """Delete a flow (customers are untouched)."""
        self._opener.run(flows.remove, name)

    def rename(self, name: str, new_name: str) -> FlowDefinition:
        """Rename a flow; its columns, hidden cards and history stay with it."""
        return self._opener.run(flows.rename, name, new_name)

    def set_rule(self, name: str, rule: RuleLike, *, dry_run: bool = False) -> RuleChange:
        """Give a flow a new rule (or, ``dry_run``, only count who would join and leave)."""
        return self._opener.run(flows.set_rule, name, rule, dry_run=dry_run)

    def history(self, name: str) -> builtins.list[FlowEvent]:
        """A flow's own history: created, renamed, rule and column changes, oldest first."""
        return self._opener.run(flows.history, name)

    def hide(self, flow: str, customer_id: int) -> bool:
        """Hide a customer from one flow's board for everyone; whether it was shown."""
        return self._opener.run(flows.set_hidden, flow, customer_id, hidden=True)

    def hidden(self, flow: str) -> builtins.list[FlowHide]:
        """The customers hidden from a flow's board, with who hid them and when."""
        return self._opener.run(flows.hidden, flow)

    def unhide(self, flow: str, customer_id: int) -> bool:
        """Show a hidden customer on the flow's board again; whether it was hidden."""
        return self._opener.run(flows.set_hidden, flow, customer_id, hidden=False)

    def board(
        self,
        flow: str,
        *,
        limit: int = DEFAULT_BOARD_LIMIT,
        where: RuleLike = MATCH_ALL,
        filters: BoardFilters | None = None,
        column: str | None = None,
        page: int = 1,
    ) -> Board:
        """A flow's board: each column's count, values and first ``limit`` cards, newest first.

        ``column`` and ``page``: that column's cards only, page ``page`` of ``limit``.
        """
        return self._opener.run(
            flows.board, flow, limit=limit, where=where, filters=filters, column=column, page=page
        )

    def move(
        self,
        customer_id: int,
        flow: str,
        column: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Drop a customer's card on a column of the flow's board (one transaction).

        ``NotOnBoard`` if the customer is not on that board; ``StaleCard`` if
        ``expected_version`` is not the customer's version (naming who changed it
        last, and how). Returns the customer as stored after the automations its
        move set off, so that its ``version`` is the one the next drag expects.
        """
        moved, touched = self._opener.write_tracked(
            expected_version,
            flows.move_to_column,
            customer_id,
            flow,
            column,
            expected_version=expected_version,
            reason=reason,
            reason_text=reason_text,
        )
        return self._opener.run(customers.get, moved.id) if moved.id in touched else moved

    def explain(self, flow: str, customer_id: int) -> FlowExplanation:
        """Why a customer is (or is not) on a flow's board: each clause of the rule, and hiding."""
        return self._opener.run(flows.explain, flow, customer_id)


class Columns:
    """The columns of a flow's board: each maps to a status."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(
        self,
        flow: str,
        name: str,
        status: str,
        *,
        colour: str | None = None,
        position: int | None = None,
    ) -> FlowDefinition:
        """Add a column to a flow, at ``position`` (default: last); the flow as it is now."""
        return self._opener.run(
            flows.add_column, flow, name, status, colour=colour, position=position
        )

    def list(self, flow: str) -> builtins.list[Column]:
        """The columns of a flow, in board order."""
        return builtins.list(self._opener.run(flows.get, flow).columns)

    def remove(self, flow: str, name: str) -> FlowDefinition:
        """Remove a column; its customers show in the unmapped bucket until a column takes them."""
        return self._opener.run(flows.remove_column, flow, name)

    def move(
        self,
        flow: str,
        name: str,
        *,
        to: int | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> FlowDefinition:
        """Put a column at position ``to`` (0-based), or before or after another column."""
        return self._opener.run(flows.move_column, flow, name, to=to, before=before, after=after)

    def rename(self, flow: str, name: str, new_name: str) -> FlowDefinition:
        """Rename a column; its status and cards stay."""
        return self._opener.run(flows.edit_column, flow, name, new_name=new_name)

    def recolour(self, flow: str, name: str, colour: str) -> FlowDefinition:
        """Give a column another colour (#rrggbb)."""
        return self._opener.run(flows.edit_column, flow, name, colour=colour)


class Rules:
    """The rule language, checked against this workspace's fields."""

    def __init__(self, opener: SessionOpener, url: str) -> None:
        self._opener = opener
        self._url = url

    def check(self, rule: RuleLike) -> Rule:
        """Parse and type-check a rule; the checked rule (``RuleSyntaxError`` with position)."""
        return self._opener.run(rules.checked, rule)

    def sql(self, rule: RuleLike, dialect: Dialect | None = None) -> Compiled:
        """The SQL condition and parameters a SQL store filters ``rule`` with, as of today.

        The dialect defaults to the store's: PostgreSQL for ``postgresql:`` URLs, else SQLite.
        """
        chosen = dialect or (POSTGRES if self._url.startswith("postgres") else SQLITE)
        return self._opener.run(rules.sql, rule, chosen)

    def catalog(self) -> Catalog:
        """The fields rules may name here, with the kinds of value each may hold."""
        return self._opener.run(rules.catalog)


class Statuses:
    """The workspace's status machine."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def show(self) -> StatusMachine:
        """The status machine (the default lead pipeline until one is loaded)."""
        return self._opener.run(statuses.show)

    def set(self, machine: StatusMachine) -> StatusMachine:
        """Replace the status machine; refused if a customer or a column uses a status it lacks."""
        return self._opener.run(statuses.replace, machine)

    def load(self, path: str | Path) -> StatusMachine:
        """Replace the status machine with the one in a .json or .toml file."""
        # The file readers (and the importing package) load only for this method.
        from pipeline_core.importing.machines import read_status_machine

        return self.set(read_status_machine(path))
