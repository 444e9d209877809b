"""Workspace settings for duplicate detection: default phone region, duplicates allowed, gmail."""

from __future__ import annotations

import attrs

from pipeline_core.domain.events import JSONValue
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.errors import InvalidValue

SETTINGS_KEY = "duplicates"
"""The key under which these settings live in the store's settings."""

KEY_FIELDS = frozenset({"default_region", "fold_gmail"})
"""Settings that change normalized contact keys: changing one re-indexes every customer."""


def _region(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    # Imported here: reading the settings of a store that sets no region (a board, a
    # move) should not load phonenumbers.
    import phonenumbers

    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidValue(
            f"default region {value!r} is not a region phonenumbers knows (e.g. US, GB, DE, BR)"
        )
    return region


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"expected true or false, not {value!r}")
    return value


@attrs.frozen(kw_only=True)
class DuplicateSettings:
    """How contacts are compared and what adding a duplicate does.

    ``default_region`` reads phone numbers written without a country code (a
    customer's own ``country`` wins); ``allow_duplicates`` makes ``allow`` the
    default duplicate policy instead of ``block``; ``fold_gmail`` makes gmail
    addresses match ignoring dots and ``+tags``.
    """

    default_region: str | None = attrs.field(default=None, converter=_region)
    allow_duplicates: bool = attrs.field(default=False, validator=lambda _, __, v: _flag(v))
    fold_gmail: bool = attrs.field(default=False, validator=lambda _, __, v: _flag(v))

    @property
    def normalize_options(self) -> NormalizeOptions:
        """The part of the settings that normalization needs."""
        return NormalizeOptions(default_region=self.default_region, fold_gmail=self.fold_gmail)


def duplicate_settings(data: JSONValue | None) -> DuplicateSettings:
    """The settings from their stored JSON object (absent: the defaults)."""
    if not isinstance(data, dict):
        return DuplicateSettings()
    region = data.get("default_region")
    return DuplicateSettings(
        default_region=region if isinstance(region, str) else None,
        allow_duplicates=data.get("allow_duplicates") is True,
        fold_gmail=data.get("fold_gmail") is True,
    )


def settings_data(settings: DuplicateSettings) -> dict[str, JSONValue]:
    """The settings as the JSON object stored under ``SETTINGS_KEY``."""
    return {
        "default_region": settings.default_region,
        "allow_duplicates": settings.allow_duplicates,
        "fold_gmail": settings.fold_gmail,
    }


def normalize_options(data: JSONValue | None) -> NormalizeOptions:
    """What a store needs to compute keys, from the stored settings (for the backends)."""
    return duplicate_settings(data).normalize_options
