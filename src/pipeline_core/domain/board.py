"""The board of a flow: its columns with counts and cards, and the members no column takes."""

from __future__ import annotations

import attrs

from pipeline_core.customer import Customer


@attrs.frozen
class BoardColumn:
    """One column as shown: how many customers it holds and the first ``limit`` of them."""

    name: str
    status: str | None
    colour: str | None
    count: int
    cards: tuple[Customer, ...]

    @property
    def more(self) -> int:
        """How many members are not among the cards (the "+N more")."""
        return self.count - len(self.cards)


@attrs.frozen
class Board:
    """A flow's board: mapped columns in position order, plus the unmapped bucket."""

    flow: str
    columns: tuple[BoardColumn, ...]
    unmapped: BoardColumn

    @property
    def total(self) -> int:
        """Every member shown on the board, mapped or not."""
        return sum(column.count for column in self.columns) + self.unmapped.count
