"""Where pipeline_core gets the time from: injectable so that tests never read the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs


class Clock(Protocol):
    """Anything that can say what time it is (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current moment as an aware datetime."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current moment in UTC."""
        return datetime.now(UTC)


@attrs.define
class FixedClock:
    """A clock for tests: stands still until told to move."""

    current: datetime = attrs.field(factory=lambda: datetime(2026, 1, 1, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        """The moment the clock is set to."""
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward and return the new moment."""
        self.current = self.current + delta
        return self.current
