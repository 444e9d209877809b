"""Workspace settings for the customer's life: time zone, reminder hour, lost reasons."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from pipeline_core.errors import InvalidValue

DEFAULT_LOST_REASONS = ("Price", "Competitor", "No budget", "No response", "Not a fit", "Timing")
OTHER = "other"
"""The lost reason that takes free text instead of an entry of the list."""

SETTINGS_KEY = "lifecycle"
"""The key under which these settings live in the store's settings."""


def _zone(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidValue(
            f"time zone {value!r} is not an IANA zone name such as 'Europe/Lisbon'"
        ) from None


def _hour(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
        raise InvalidValue(f"the reminder hour must be a whole hour from 0 to 23, not {value!r}")


def _reasons(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("lost reasons must be non-blank text")
        if value.strip().casefold() == OTHER:
            raise InvalidValue(f"{OTHER!r} is always available; do not list it")
        seen.setdefault(value.strip(), None)
    return tuple(seen)


@attrs.frozen(kw_only=True)
class LifecycleSettings:
    """Where reminders fall due (zone and hour) and which lost reasons may be chosen."""

    time_zone: str = attrs.field(default="UTC", validator=_zone)
    reminder_hour: int = attrs.field(default=8, validator=_hour)
    lost_reasons: tuple[str, ...] = attrs.field(default=DEFAULT_LOST_REASONS, converter=_reasons)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.time_zone)

    def given_reason(self, given: str | None) -> str:
        """The lost reason to record for one typed on a new record: ``Price``, or ``other: why``."""
        head, sep, tail = (given or "").partition(":")
        if sep and head.strip().casefold() == OTHER:
            return self.lost_reason(OTHER, tail)
        return self.lost_reason(given)

    def lost_reason(self, reason: str | None, text: str | None = None) -> str:
        """The lost reason to record: an entry of the list, or ``other: TEXT``.

        Matching the list ignores case; ``other`` needs free text saying why.
        """
        if reason is None or not reason.strip():
            raise InvalidValue(
                f"a lost move needs a reason: one of {', '.join(self.lost_reasons)}, "
                f"or {OTHER!r} with a text"
            )
        wanted = reason.strip().casefold()
        if wanted == OTHER:
            if text is None or not text.strip():
                raise InvalidValue(f"lost reason {OTHER!r} needs a text saying why")
            return f"{OTHER}: {text.strip()}"
        for known in self.lost_reasons:
            if known.casefold() == wanted:
                return known
        raise InvalidValue(
            f"unknown lost reason {reason!r}; choose one of {', '.join(self.lost_reasons)}, "
            f"or {OTHER!r} with a text"
        )
