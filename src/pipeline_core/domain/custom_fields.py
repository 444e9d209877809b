"""Typed custom field definitions: what a field holds, whether it is required, its options."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

import attrs

from pipeline_core.customer import FieldValue
from pipeline_core.errors import InvalidValue

FieldType = Literal[
    "text", "number", "decimal", "date", "datetime", "checkbox", "select", "multi_select"
]
FIELD_TYPES: tuple[FieldType, ...] = (
    "text",
    "number",
    "decimal",
    "date",
    "datetime",
    "checkbox",
    "select",
    "multi_select",
)
SELECT_TYPES = ("select", "multi_select")
SETTINGS_KEY = "custom_fields"
"""The key under which the definitions live in the store's settings."""

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE = {"true", "yes", "y", "1", "on", "x"}
_FALSE = {"false", "no", "n", "0", "off", ""}


def _key(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _KEY.match(value):
        raise InvalidValue(
            f"field key {value!r} must start with a letter or _ and hold only letters, digits, _"
        )


def _type(value: str) -> FieldType:
    for known in FIELD_TYPES:
        if value == known:
            return known
    raise InvalidValue(f"unknown field type {value!r}; known types: {', '.join(FIELD_TYPES)}")


def _options(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidValue("select options must be non-blank text")
        if value.strip() in seen:
            raise InvalidValue(f"select option {value.strip()!r} is listed twice")
        seen[value.strip()] = None
    return tuple(seen)


@attrs.frozen(kw_only=True)
class FieldDefinition:
    """A custom field: its key, label, type, whether it is required, and options for selects.

    ``version`` counts changes, so that a change based on a stale copy is refused.
    """

    key: str = attrs.field(validator=_key)
    type: FieldType = attrs.field(converter=_type)
    label: str = ""
    required: bool = False
    options: tuple[str, ...] = attrs.field(default=(), converter=_options)
    version: int = 1

    def __attrs_post_init__(self) -> None:
        if not self.label.strip():
            object.__setattr__(self, "label", self.key)
        if self.type in SELECT_TYPES and not self.options:
            raise InvalidValue(f"{self.type} field {self.key!r} needs at least one option")
        if self.type not in SELECT_TYPES and self.options:
            raise InvalidValue(f"only select fields have options; {self.key!r} is {self.type}")

    def coerce(self, value: object) -> FieldValue:
        """``value`` as this field's type; text (as typed on a command line) is parsed."""
        try:
            return self._coerce(value)
        except (ValueError, InvalidOperation, TypeError) as error:
            if isinstance(error, InvalidValue):
                raise
            raise InvalidValue(
                f"field {self.key!r} ({self.type}): {value!r} is not valid"
            ) from None

    def _coerce(self, value: object) -> FieldValue:
        text = value.strip() if isinstance(value, str) else None
        match self.type:
            case "text":
                if text is None:
                    raise ValueError
                return text
            case "number":
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, int | float):
                    return value
                if text is None:
                    raise ValueError
                return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
            case "decimal":
                if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
                    raise ValueError
                number = Decimal(str(value).strip())
                if not number.is_finite():
                    raise ValueError
                return number
            case "date":
                if isinstance(value, datetime):
                    raise ValueError
                if isinstance(value, date):
                    return value
                return date.fromisoformat(_need(text))
            case "datetime":
                moment = value if isinstance(value, datetime) else None
                if moment is None:
                    moment = datetime.fromisoformat(_need(text))
                if moment.tzinfo is None:
                    raise InvalidValue(
                        f"field {self.key!r} (datetime): {value!r} needs a time zone offset"
                    )
                return moment
            case "checkbox":
                if isinstance(value, bool):
                    return value
                word = _need(text).casefold()
                if word in _TRUE or word in _FALSE:
                    return word in _TRUE
                raise ValueError
            case "select":
                return self._option(_need(text))
            case "multi_select":
                items: Iterable[object]
                if isinstance(value, list | tuple):
                    items = value
                else:
                    items = [part for part in _need(text).split(";") if part.strip()]
                chosen = [self._option(item) for item in items]
                return tuple(dict.fromkeys(chosen))
        raise ValueError  # pragma: no cover - every type is matched above

    def _option(self, value: object) -> str:
        if not isinstance(value, str) or value.strip() not in self.options:
            raise InvalidValue(
                f"field {self.key!r}: {value!r} is not an option; options: {', '.join(self.options)}"
            )
        return value.strip()

    def rename_option(self, old: str, new: str) -> FieldDefinition:
        """This definition with option ``old`` called ``new``; refused if ``new`` exists already."""
        if self.type not in SELECT_TYPES:
            raise InvalidValue(
                f"field {self.key!r} is {self.type}, not a select; it has no options"
            )
        if old not in self.options:
            raise InvalidValue(
                f"field {self.key!r} has no option {old!r}; options: {', '.join(self.options)}"
            )
        if not new.strip():
            raise InvalidValue("the new option name must not be blank")
        if new.strip() in self.options:
            raise InvalidValue(f"field {self.key!r} already has an option {new.strip()!r}")
        options = tuple(new.strip() if option == old else option for option in self.options)
        return attrs.evolve(self, options=options, version=self.version + 1)


def _need(text: str | None) -> str:
    if text is None:
        raise ValueError
    return text


def renamed_value(value: FieldValue, old: str, new: str) -> FieldValue | None:
    """A select value with ``old`` replaced by ``new``; None if it did not hold ``old``."""
    if isinstance(value, tuple):
        if old not in value:
            return None
        return tuple(dict.fromkeys(new if item == old else item for item in value))
    return new if value == old else None


def validate_fields(
    definitions: Mapping[str, FieldDefinition],
    values: Mapping[str, object],
    applicable: Collection[str] | None = None,
) -> dict[str, object]:
    """Typed values for ``values``: unknown or inapplicable keys and missing required ones refused.

    With no definitions at all, fields are free-form and pass through unchanged.
    ``applicable`` limits the keys (a folder's fields); None means every defined field.
    """
    if not definitions:
        return dict(values)
    allowed = set(definitions) if applicable is None else set(applicable) & set(definitions)
    result: dict[str, object] = {}
    for key, value in values.items():
        if key not in definitions:
            raise InvalidValue(
                f"unknown custom field {key!r}; known fields: {', '.join(sorted(definitions))}"
            )
        if key not in allowed:
            raise InvalidValue(
                f"custom field {key!r} does not apply here; applicable: {', '.join(sorted(allowed)) or 'none'}"
            )
        if value is None or value == "" or value == ():
            continue
        result[key] = definitions[key].coerce(value)
    missing = sorted(k for k in allowed if definitions[k].required and k not in result)
    if missing:
        raise InvalidValue(f"required custom field(s) missing: {', '.join(missing)}")
    return result
