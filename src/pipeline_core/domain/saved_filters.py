"""Saved filters: a rule under a name, private to its owner or shared with everyone."""

from __future__ import annotations

import re

import attrs

from pipeline_core.customer import checked_text
from pipeline_core.errors import InvalidValue

SETTINGS_KEY = "saved_filters"
"""The key under which saved filters live in the store's settings."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_RESERVED = frozenset({"true", "false", "not", "and", "or", "has", "in", "any", "all", "none"})


def filter_name(value: str) -> str:
    """A saved filter name: a word (letters, digits, ``_``, ``-``) that is not a rule keyword.

    Rule text and saved filter names go in the same place (``--where``), so a
    name must never read as a rule.
    """
    if not isinstance(value, str) or not _NAME.match(value.strip()):
        raise InvalidValue(
            f"a saved filter name is a word of letters, digits, '_' and '-', not {value!r}"
        )
    name = value.strip()
    if name.casefold() in _RESERVED:
        raise InvalidValue(f"{name!r} is a word of the rule language; choose another name")
    return name


def _rule_text(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("a saved filter needs a rule")
    return checked_text(value).strip()


@attrs.frozen(kw_only=True)
class SavedFilter:
    """A named rule. ``owner`` created it; ``shared`` filters are seen by everyone."""

    name: str = attrs.field(converter=filter_name)
    rule: str = attrs.field(converter=_rule_text)
    owner: str
    shared: bool = False

    def visible_to(self, user: str) -> bool:
        """Whether ``user`` may see and use the filter."""
        return self.shared or self.owner == user
