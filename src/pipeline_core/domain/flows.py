"""Flows: a named pipeline with a membership rule and the ordered columns of its board."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from pipeline_core.domain.events import JSONValue
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.explain import Explanation

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

PALETTE = ("#64748b", "#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#ec4899")
"""Colours given to columns that were not given one, by position."""


def _name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("a name must not be blank")
    return value.strip()


def _colour(value: str) -> str:
    if not _HEX_COLOUR.match(value):
        raise InvalidValue(f"colour {value!r} is not of the form #rrggbb")
    return value.lower()


@attrs.frozen
class Column:
    """A stage of a flow's board: dropping a card here moves the customer to ``status``."""

    name: str = attrs.field(converter=_name)
    status: str = attrs.field(converter=_name)
    colour: str = attrs.field(default=PALETTE[0], converter=_colour)
    position: int = 0


def _columns(values: Iterable[Column]) -> tuple[Column, ...]:
    columns = tuple(sorted(values, key=lambda column: column.position))
    for attribute in ("name", "status"):
        seen: set[str] = set()
        for column in columns:
            key = getattr(column, attribute)
            if key in seen:
                raise InvalidValue(f"two columns of one flow share the {attribute} {key!r}")
            seen.add(key)
    return columns


@attrs.frozen
class FlowDefinition:
    """A named pipeline: who belongs (the rule) and the board's columns in position order."""

    name: str = attrs.field(converter=_name)
    rule: Rule = MATCH_ALL
    columns: tuple[Column, ...] = attrs.field(default=(), converter=_columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; ``NotFound`` naming the flow's columns otherwise."""
        for column in self.columns:
            if column.name == name:
                return column
        known = ", ".join(column.name for column in self.columns) or "none"
        raise NotFound(f"flow {self.name!r} has no column {name!r}; its columns: {known}")

    def with_column(self, column: Column) -> FlowDefinition:
        """A copy with ``column`` added; a position of -1 or past the end appends it."""
        columns = list(self.columns)
        position = column.position if 0 <= column.position <= len(columns) else len(columns)
        columns.insert(position, column)
        renumbered = [attrs.evolve(c, position=index) for index, c in enumerate(columns)]
        return attrs.evolve(self, columns=renumbered)

    def moved_column(self, name: str, to: int) -> FlowDefinition:
        """A copy with the column called ``name`` at 0-based position ``to`` (clamped to the ends)."""
        column = self.column(name)
        rest = [c for c in self.columns if c.name != name]
        rest.insert(max(0, min(to, len(rest))), column)
        return attrs.evolve(
            self, columns=[attrs.evolve(c, position=index) for index, c in enumerate(rest)]
        )

    def edited_column(
        self, name: str, *, new_name: str | None = None, colour: str | None = None
    ) -> FlowDefinition:
        """A copy with the column called ``name`` renamed and/or recoloured."""
        column = self.column(name)
        changed = attrs.evolve(
            column,
            name=column.name if new_name is None else new_name,
            colour=column.colour if colour is None else colour,
        )
        return attrs.evolve(self, columns=[changed if c.name == name else c for c in self.columns])

    def without_column(self, name: str) -> FlowDefinition:
        """A copy without the column called ``name``."""
        self.column(name)
        rest = [c for c in self.columns if c.name != name]
        return attrs.evolve(
            self, columns=[attrs.evolve(c, position=index) for index, c in enumerate(rest)]
        )


@attrs.frozen
class FlowExplanation:
    """Why a customer is (or is not) on a flow's board.

    On the board means: the flow's rule holds and the customer is not hidden
    from the flow. ``column`` is the column its status maps to (None: the
    unmapped bucket, or not on the board).
    """

    flow: str
    customer_id: int
    customer_name: str
    status: str
    on_board: bool
    hidden: bool
    column: str | None
    rule: Explanation

    def render(self) -> str:
        """A paragraph and the rule's explanation tree."""
        who = f"#{self.customer_id} {self.customer_name}"
        if self.on_board:
            where = f"column {self.column!r}" if self.column else "the Unmapped bucket"
            verdict = f"{who} is on the {self.flow} board, in {where} (status {self.status!r})."
        elif self.hidden and self.rule.holds:
            verdict = f"{who} matches the rule of {self.flow} but is hidden from its board."
        else:
            verdict = f"{who} is not on the {self.flow} board: its rule does not hold."
            if self.hidden:
                verdict += " It is also hidden from the board."
        return f"{verdict}\nRule:\n{self.rule.render()}"


@attrs.frozen
class FlowHide:
    """A customer hidden from one flow's board, by whom and when.

    ``hidden_by`` and ``hidden_at`` are None for hides recorded before schema 11.
    """

    flow: str
    customer_id: int
    hidden_by: str | None = None
    hidden_at: datetime | None = None


class FlowEventKind(enum.StrEnum):
    """What happened to a flow itself (a customer's changes are on its own timeline)."""

    CREATED = "flow_created"
    RENAMED = "flow_renamed"
    RULE_CHANGED = "rule_changed"
    COLUMN_ADDED = "column_added"
    COLUMN_REMOVED = "column_removed"
    COLUMN_MOVED = "column_moved"
    COLUMN_RENAMED = "column_renamed"
    COLUMN_RECOLOURED = "column_recoloured"


@attrs.frozen(kw_only=True)
class FlowEvent:
    """One entry of a flow's history; ``flow`` is the flow's name as it is now."""

    flow: str
    kind: FlowEventKind = attrs.field(converter=FlowEventKind)
    at: datetime
    actor: str
    data: Mapping[str, JSONValue] = attrs.field(factory=dict)
    id: int = 0


@attrs.frozen
class RuleChange:
    """What changing a flow's rule does to its board: how many members join and leave.

    Counted among the customers the actor may see and not hidden from the flow;
    ``applied`` is False for a dry run.
    """

    flow: str
    before: str
    after: str
    joining: int
    leaving: int
    members_before: int
    members_after: int
    applied: bool
