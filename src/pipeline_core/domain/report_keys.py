"""What a report groups customers by, and how group values are normalized and aliased.

Stores group by the raw stored value (that is what a SQL ``GROUP BY`` can do);
the report then merges the groups whose *normalized* values are equal, so
"Google Ads", " google ads " and "Gôogle Ads" end up as one row (and "Łódź" with
"Lodz"). Aliases map
further spellings ("GoogleAds") onto one canonical label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from pipeline_core.domain.folding import fold
from pipeline_core.errors import InvalidValue

COLUMN_KEYS = (
    "status",
    "folder",
    "source",
    "team",
    "currency",
    "outcome",
    "lost_reason",
    "country",
)
"""Customer attributes a report can group by directly."""

CREATED_MONTH = "created_month"
"""Group by the UTC month (``YYYY-MM``) the customer was created in."""

TAG = "tag"
"""Group by tag: a customer counts once in each of its tags' groups."""

FIELD_PREFIX = "field:"
"""``field:KEY`` groups by the custom field ``KEY``."""

NONE_LABEL = "(none)"
"""The label of the group of customers without a value."""

ALIASES_KEY = "report_aliases"
"""The workspace setting holding group value aliases: ``{canonical: [variant, ...]}``."""


@attrs.frozen
class GroupKey:
    """One thing to group by: a column, ``created_month``, ``tag`` or a custom field."""

    kind: str
    field: str = ""

    @property
    def name(self) -> str:
        """The key as typed on the command line (``source``, ``tag``, ``field:region``)."""
        return f"{FIELD_PREFIX}{self.field}" if self.kind == "field" else self.kind


def group_key(text: str) -> GroupKey:
    """Parse ``source``, ``created_month``, ``tag``, ``field:KEY`` ...; a clear error otherwise."""
    name = text.strip()
    if name in COLUMN_KEYS or name in (CREATED_MONTH, TAG):
        return GroupKey(name)
    if name.startswith(FIELD_PREFIX) and name[len(FIELD_PREFIX) :].strip():
        return GroupKey("field", name[len(FIELD_PREFIX) :].strip())
    choices = ", ".join((*COLUMN_KEYS, CREATED_MONTH, TAG, "field:KEY"))
    raise InvalidValue(f"cannot group by {text!r}; choose one of {choices}")


def field_label(kind: str, text: str | None, number: float | None) -> str | None:
    """The group value of a stored custom field (``customer_fields`` row: kind, text, number).

    Every backend derives the label from the same three stored columns, so they agree.
    """
    if kind == "bool":
        return None if number is None else ("true" if number else "false")
    if number is not None:
        return str(int(number)) if number.is_integer() else repr(number)
    return text


def normalized(value: str) -> str:
    """The form group values are compared in: folded (``domain.folding``), spaces collapsed."""
    return " ".join(fold(value).split())


@attrs.frozen
class Aliases:
    """Spellings that mean the same group: each variant's normalized form maps to a canonical label."""

    canonical: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_setting(cls, value: object) -> Aliases:
        """Read the ``report_aliases`` setting (``{canonical: [variant, ...]}``)."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise InvalidValue(f"the {ALIASES_KEY} setting must be an object, not {value!r}")
        mapping: dict[str, str] = {}
        for label, variants in value.items():
            if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
                raise InvalidValue(f"aliases of {label!r} must be a list of text")
            for variant in (label, *variants):
                mapping[normalized(variant)] = label
        return cls(mapping)

    def label_for(self, value: str) -> str | None:
        """The canonical label ``value`` is an alias of, if any."""
        return self.canonical.get(normalized(value))


def alias_setting(current: object, label: str, variants: list[str]) -> dict[str, list[str]]:
    """The aliases setting after making ``variants`` spellings of ``label`` (checked)."""
    if not label.strip():
        raise InvalidValue("an alias needs a non-blank canonical label")
    if any(not variant.strip() for variant in variants):
        raise InvalidValue("alias spellings must be non-blank text")
    Aliases.from_setting(current)  # refuse to build on a malformed setting
    setting: dict[str, list[str]] = {}
    if isinstance(current, dict):
        for key, values in current.items():
            setting[key] = [v for v in values if normalized(v) not in map(normalized, variants)]
    existing = setting.get(label.strip(), [])
    setting[label.strip()] = sorted({*existing, *(v.strip() for v in variants)})
    return setting


@attrs.frozen
class AggregateRow:
    """What a store returns per group: customers, customers with a deal value, and its sum.

    ``keys`` holds one value per requested ``GroupKey`` (None: no value).
    """

    keys: tuple[str | None, ...]
    count: int
    valued: int = 0
    total: Decimal = Decimal(0)


@attrs.frozen
class StageTime:
    """Time spent in one status: how many stays were measured and their median length."""

    stays: int
    median_seconds: float


def merge_rows(rows: Iterable[AggregateRow]) -> list[AggregateRow]:
    """Rows with equal keys summed into one, in first-seen order."""
    merged: dict[tuple[str | None, ...], AggregateRow] = {}
    for row in rows:
        seen = merged.get(row.keys)
        merged[row.keys] = (
            row
            if seen is None
            else AggregateRow(
                row.keys, seen.count + row.count, seen.valued + row.valued, seen.total + row.total
            )
        )
    return list(merged.values())
