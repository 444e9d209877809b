"""The board of a flow: its columns with counts, values and cards, and the members no column takes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.report_keys import AggregateRow
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL, Compare, InSet, Rule, SetTest, all_of


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    found = tuple(value.strip() for value in values)
    if any(not value for value in found):
        raise InvalidValue("a board filter value must not be blank")
    return found


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise InvalidValue("a board filter value must not be blank")
    return value.strip()


def _moment(value: date | datetime, end: bool) -> datetime:
    # A day stands for its first moment at the start of a range, its last at the end.
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time.max if end else time(), UTC)


def _when(value: date | datetime | None) -> date | datetime | None:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise InvalidValue(f"moment {value.isoformat()} needs a time zone (say +00:00 for UTC)")
    return value


@attrs.frozen(kw_only=True)
class BoardFilters:
    """The Kanban's standard filters; the board composes them with its rule by 'and'.

    ``tags``: every one of them (or, with ``any_tag``, at least one); ``created_from``
    and ``created_to``: both ends included, a date meaning its whole UTC day and a
    moment that instant; ``source``: contains this text, ignoring case and accents;
    ``workers``: assigned to one of them; ``folders``: in one of them.
    """

    tags: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    any_tag: bool = False
    created_from: date | datetime | None = attrs.field(default=None, converter=_when)
    created_to: date | datetime | None = attrs.field(default=None, converter=_when)
    source: str | None = attrs.field(default=None, converter=_text)
    workers: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    folders: tuple[str, ...] = attrs.field(default=(), converter=_texts)

    def __attrs_post_init__(self) -> None:
        low, high = self.created_from, self.created_to
        if low is not None and high is not None and _moment(low, False) > _moment(high, True):
            raise InvalidValue(
                f"created-from {low.isoformat()} is after created-to {high.isoformat()}"
            )

    def rule(self) -> Rule:
        """The filters as one rule (``true`` when none is set)."""
        parts: list[Rule] = []
        if self.tags:
            parts.append(SetTest("tags", "any" if self.any_tag else "all", self.tags))
        if self.created_from is not None:
            parts.append(Compare("created", ">=", self.created_from))
        if self.created_to is not None:
            parts.append(Compare("created", "<=", self.created_to))
        if self.source is not None:
            parts.append(Compare("source", "~", self.source))
        if self.workers:
            parts.append(SetTest("workers", "any", self.workers))
        if self.folders:
            parts.append(InSet("folder", self.folders))
        return all_of(*parts) if parts else MATCH_ALL

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return self.rule() != MATCH_ALL


@attrs.frozen
class ColumnValue:
    """The deal values of one column in one currency: how many cards have one, and their sum.

    ``currency`` None holds values entered without a currency.
    """

    currency: str | None
    valued: int
    total: Decimal


@attrs.frozen
class BoardColumn:
    """One column as shown: how many customers it holds, their values and the cards of one page.

    ``offset`` is how many cards come before ``cards`` (page 1 starts at 0).
    """

    name: str
    status: str | None
    colour: str | None
    count: int
    cards: tuple[Customer, ...]
    values: tuple[ColumnValue, ...] = ()
    offset: int = 0

    @property
    def more(self) -> int:
        """How many members come after the cards shown (the "+N more")."""
        return max(self.count - self.offset - len(self.cards), 0)


@attrs.frozen
class Board:
    """A flow's board: mapped columns in position order, plus the unmapped bucket.

    ``hidden`` counts the members hidden from this flow (they are in no column);
    ``filtered`` says whether board filters narrowed the members shown.
    """

    flow: str
    columns: tuple[BoardColumn, ...]
    unmapped: BoardColumn
    hidden: int = 0
    filtered: bool = False

    @property
    def total(self) -> int:
        """Every member shown on the board, mapped or not."""
        return sum(column.count for column in self.columns) + self.unmapped.count


def column_values(rows: Iterable[AggregateRow], statuses: Iterable[str]) -> tuple[ColumnValue, ...]:
    """The values per currency of the rows (keyed status, currency) whose status is one of ``statuses``.

    Currencies in name order, the one without a currency last; a currency no card values is left out.
    """
    wanted = set(statuses)
    sums: dict[str | None, tuple[int, Decimal]] = {}
    for row in rows:
        status, currency = row.keys
        if status not in wanted or not row.valued:
            continue
        valued, total = sums.get(currency, (0, Decimal(0)))
        sums[currency] = (valued + row.valued, total + row.total)
    order = sorted(sums, key=lambda c: (c is None, c or ""))
    return tuple(ColumnValue(c, sums[c][0], sums[c][1]) for c in order)
