"""Workspace settings: named values stored as text in the store, validated here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import phonenumbers

from pipeline_core.errors import InvalidValue
from pipeline_core.normalize import NormalizeOptions

SETTINGS: Mapping[str, str] = {
    "default_region": "Two-letter region for phone numbers written without a country code "
    "(a customer's own country wins). Empty: none.",
    "allow_duplicates": "Whether adding a customer whose phone, email or WhatsApp matches "
    "another is allowed without asking (true/false, default false).",
    "fold_gmail": "Whether gmail addresses match ignoring dots and +tags (true/false, default false).",
}
"""Every setting and what it means."""

KEY_SETTINGS = frozenset({"default_region", "fold_gmail"})
"""Settings that change normalized contact keys: changing one re-indexes every customer."""

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})


@attrs.frozen
class Settings:
    """The workspace settings, typed."""

    default_region: str | None = None
    allow_duplicates: bool = False
    fold_gmail: bool = False

    @property
    def normalize_options(self) -> NormalizeOptions:
        """The part of the settings that normalization needs."""
        return NormalizeOptions(default_region=self.default_region, fold_gmail=self.fold_gmail)


def setting_name(name: str) -> str:
    """The canonical name (``default-region`` and ``default_region`` are one); unknown is an error."""
    canonical = name.strip().lower().replace("-", "_")
    if canonical not in SETTINGS:
        raise InvalidValue(f"unknown setting {name!r}; known settings: {', '.join(SETTINGS)}")
    return canonical


def parse_setting(name: str, text: str) -> str:
    """The canonical stored text of a setting's value; an invalid value is an error naming it."""
    name = setting_name(name)
    value = text.strip()
    if name == "default_region":
        region = value.upper()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidValue(
                f"default_region {text!r} is not a region phonenumbers knows (e.g. US, GB, DE, BR)"
            )
        return region
    lowered = value.lower()
    if lowered in _TRUE:
        return "true"
    if lowered in _FALSE:
        return "false"
    raise InvalidValue(f"{name} must be true or false, not {text!r}")


def settings_from(get: Callable[[str], str | None]) -> Settings:
    """Typed settings from a look-up of their stored text (absent: the default)."""
    region = get("default_region")
    return Settings(
        default_region=region or None,
        allow_duplicates=get("allow_duplicates") == "true",
        fold_gmail=get("fold_gmail") == "true",
    )


def setting_text(settings: Settings, name: str) -> str:
    """One setting's value as text, the form ``parse_setting`` accepts."""
    value = getattr(settings, setting_name(name))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value or ""
