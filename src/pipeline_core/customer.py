"""The customer record: one frozen attrs class, validated at the boundary."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

import attrs

from pipeline_core.errors import InvalidValue

FieldValue = str | int | float | bool | Decimal | date | datetime | tuple[str, ...]
"""A custom field value: text, number, decimal, date, datetime, checkbox or multi-select."""

Outcome = Literal["won", "lost"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def checked_text(value: str) -> str:
    """``value`` if it is text a store can keep; NUL characters are refused everywhere.

    PostgreSQL cannot store NUL in text or JSON, so no backend accepts it: a
    customer that one store keeps must be one every store keeps.
    """
    if not isinstance(value, str):
        raise InvalidValue(f"expected text, got {value!r}")
    if "\x00" in value:
        raise InvalidValue(f"text {value!r} contains a NUL character")
    return value


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Strip, drop blanks and repeats, keep the first occurrence's order."""
    seen: dict[str, None] = {}
    for value in values:
        cleaned = checked_text(value).strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def _optional_text(value: str | None) -> str | None:
    """Blank text means none."""
    if value is None:
        return None
    cleaned = checked_text(value).strip()
    return cleaned or None


def _required_name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("a customer needs a name; it was blank")
    return checked_text(value).strip()


def _field_value(key: str, value: object) -> FieldValue:
    if isinstance(value, list | tuple):
        return _unique(value)  # a multi-select: text options
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidValue(f"custom field {key!r}: datetime must carry a time zone")
        return value
    if isinstance(value, str):
        return checked_text(value)
    finite = math.isfinite(value) if isinstance(value, float) else True
    if not finite or (isinstance(value, Decimal) and not value.is_finite()):
        raise InvalidValue(f"custom field {key!r}: {value!r} is not a finite number")
    if isinstance(value, int | float | bool | Decimal | date):
        return value
    raise InvalidValue(f"custom field {key!r}: unsupported value {value!r}")


def _fields(values: Mapping[str, object]) -> Mapping[str, FieldValue]:
    result: dict[str, FieldValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidValue(f"custom field names must be non-blank text, got {key!r}")
        if value is None:
            continue
        result[key.strip()] = _field_value(key, value)
    return result


def _value(value: Decimal | int | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal) and value.is_finite():
        return value
    try:
        result = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidValue(f"deal value {value!r} is not a number") from None
    if not result.is_finite():
        raise InvalidValue(f"deal value {value!r} is not a finite number")
    return result


@cache
def currency_codes() -> frozenset[str]:
    """Every currency code a customer may have: ISO 4217's current list.

    Read from the ``iso4217`` package, which ships the maintenance agency's own
    table (funds and the X codes such as XAU included; withdrawn currencies not).
    """
    from iso4217 import Currency  # parses its table: only when a currency is first checked

    return frozenset(currency.code for currency in Currency)


NO_PHONE_PLAN = frozenset({"AQ", "BV", "GS", "HM", "PN", "TF", "UM"})
"""ISO 3166-1 countries without a telephone numbering plan of their own, so absent from
phonenumbers' regions: Antarctica, Bouvet Island, South Georgia, Heard and McDonald
Islands, Pitcairn, the French Southern Territories, the US Minor Outlying Islands."""


@cache
def country_codes() -> frozenset[str]:
    """Every country code a customer may have.

    phonenumbers' regions (the country is where national phone numbers are read,
    so every region it can read them in): the ISO 3166-1 countries plus AC and TA
    (Ascension and Tristan da Cunha, reserved by ISO 3166) and XK (Kosovo, in common
    use); and the ISO 3166-1 countries that have no numbering plan (``NO_PHONE_PLAN``).
    """
    import phonenumbers  # loaded by the first phone normalized anyway

    return frozenset(phonenumbers.SUPPORTED_REGIONS) | NO_PHONE_PLAN


_LOOKALIKES = {"UK": "GB", "EL": "GR"}
"""Codes used for a country in other lists (the EU's) that ISO 3166 spells otherwise."""


def _code(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a code as text, got {value!r}")
    return value.strip().upper()


def _currency(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    code = _code(value)
    if code not in currency_codes():
        raise InvalidValue(
            f"currency {value!r} is not an ISO 4217 currency code (EUR, USD, JPY...)"
        )
    return code


def _country(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    code = _code(value)
    if code not in country_codes():
        hint = f"; did you mean {_LOOKALIKES[code]}?" if code in _LOOKALIKES else ""
        raise InvalidValue(
            f"country {value!r} is not an ISO 3166 country code (GB, US, DE...){hint}"
        )
    return code


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidValue(f"timestamp {value.isoformat()} must carry a time zone")
    return value


def outcome_or_none(value: str | None) -> Outcome | None:
    """``won``, ``lost`` or None; anything else is refused."""
    if value is None:
        return None
    if value == "won":
        return "won"
    if value == "lost":
        return "lost"
    raise InvalidValue(f"outcome must be 'won' or 'lost', not {value!r}")


@attrs.frozen(kw_only=True)
class Customer:
    """A customer (or lead) and everything the pipeline knows about it.

    ``id`` is 0 until a store assigns one; an empty ``status`` means the status
    machine's initial status; ``version`` counts the stored changes
    and guards against lost updates.
    """

    id: int = 0
    name: str = attrs.field(converter=_required_name)
    emails: tuple[str, ...] = attrs.field(default=(), converter=_unique)
    phones: tuple[str, ...] = attrs.field(default=(), converter=_unique)
    whatsapp: str | None = attrs.field(default=None, converter=_optional_text)
    country: str | None = attrs.field(default=None, converter=_country)
    status: str = ""
    folder: str | None = attrs.field(default=None, converter=_optional_text)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_unique)
    fields: Mapping[str, FieldValue] = attrs.field(factory=dict, converter=_fields)
    source: str | None = attrs.field(default=None, converter=_optional_text)
    team: str | None = attrs.field(default=None, converter=_optional_text)
    workers: tuple[str, ...] = attrs.field(default=(), converter=_unique)
    parent_id: int | None = None
    value: Decimal | None = attrs.field(default=None, converter=_value)
    currency: str | None = attrs.field(default=None, converter=_currency)
    outcome: Outcome | None = attrs.field(default=None, converter=outcome_or_none)
    order_id: str | None = attrs.field(default=None, converter=_optional_text)
    lead_notes: str = attrs.field(default="", converter=checked_text)
    created_at: datetime = attrs.field(default=EPOCH, converter=_aware)
    updated_at: datetime = attrs.field(default=EPOCH, converter=_aware)
    converted_at: datetime | None = attrs.field(default=None, converter=_aware)
    last_contacted_at: datetime | None = attrs.field(default=None, converter=_aware)
    next_follow_up: date | None = None
    closed_at: datetime | None = attrs.field(default=None, converter=_aware)
    lost_reason: str | None = attrs.field(default=None, converter=_optional_text)
    version: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its values in attribute order (imports send customers between
        # processes): about twice as fast both ways as attrs' default state dict.
        return (_unpickled, (_attribute_values(self),))


EDITABLE_FIELDS = frozenset(
    {
        "name",
        "emails",
        "phones",
        "whatsapp",
        "country",
        "folder",
        "tags",
        "fields",
        "source",
        "team",
        "workers",
        "parent_id",
        "value",
        "currency",
        "order_id",
        "lead_notes",
        "next_follow_up",
    }
)
"""Fields a plain edit may change; status, outcome and timestamps change through their own use cases."""


ATTRIBUTE_NAMES = tuple(attribute.name for attribute in attrs.fields(Customer))
"""Customer's attributes in declaration order: the order of ``customer_from_values``."""
_attribute_values = operator.attrgetter(*ATTRIBUTE_NAMES)
# The slots' own setters: a frozen class refuses setattr, and object.__setattr__ looks
# the slot up by name on every call (the bulk paths below set millions of them).
_SETTERS = tuple(getattr(Customer, name).__set__ for name in ATTRIBUTE_NAMES)


def _unpickled(values: tuple[Any, ...]) -> Customer:
    return customer_from_values(values)


RowEncoder = Callable[[Customer], tuple[Any, ...]]
"""A store's ``row_encoder``: a new customer's rows as that store writes them.

Here, beside ``Customer``, because both the stores and the import's drafting
workers (which must not import storage) name it.
"""

_SETTER_OF = dict(zip(ATTRIBUTE_NAMES, _SETTERS, strict=True))


def customer_from_values(values: Sequence[Any]) -> Customer:
    """A Customer from its stored values in ``ATTRIBUTE_NAMES`` order, converters skipped.

    For backends only: the values must be what ``stored_customer`` takes, already in
    their final types. Positional, so a row decoder builds no keyword dict.
    """
    customer = object.__new__(Customer)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(customer, value)
    return customer


def stored_customer(**values: Any) -> Customer:
    """A Customer from values a store wrote after validating them: the converters are skipped.

    For backends only. Every attribute must be given, already in its final type
    (tuples for lists, Decimal, aware datetimes, a dict of typed custom fields).
    Reading a row must not pay for validation it passed when it was written.
    """
    return customer_from_values([values[name] for name in ATTRIBUTE_NAMES])


def compiled_builder(
    expressions: Mapping[str, str], namespace: Mapping[str, Any]
) -> Callable[[Any], Customer]:
    """A function of one argument (``source``) building a Customer, converters skipped.

    ``expressions`` gives every attribute's value as constant Python text over
    ``source`` and the names in ``namespace`` (written by the library, never data).
    Straight-line code, one slot setter call per attribute, as attrs generates its own
    methods: no tuple, no loop, no keyword dict per customer. For backends and bulk
    paths only, like ``customer_from_values``.
    """
    missing = [name for name in ATTRIBUTE_NAMES if name not in expressions]
    if missing or len(expressions) != len(ATTRIBUTE_NAMES):
        raise ValueError(f"a builder needs exactly every attribute; missing {missing}")
    scope: dict[str, Any] = {**namespace, "new": object.__new__, "Customer": Customer}
    lines = ["def build(source):", "    customer = new(Customer)"]
    for name, setter in zip(ATTRIBUTE_NAMES, _SETTERS, strict=True):
        scope[f"set_{name}"] = setter
        lines.append(f"    set_{name}(customer, {expressions[name]})")
    lines.append("    return customer")
    exec("\n".join(lines), scope)  # the text is the library's own, built from constants
    build: Callable[[Any], Customer] = scope["build"]
    return build


# A move makes a copy (``trusted_replace``): a third cheaper than a loop over the setters.
_copy = compiled_builder({name: f"source.{name}" for name in ATTRIBUTE_NAMES}, {})


def trusted_replace(customer: Customer, **changes: Any) -> Customer:
    """A copy of a valid customer with ``changes`` the library itself computed and checked.

    Skips the converters (``attrs.evolve`` runs every one of them again): for stores
    and bulk paths only, never for values that came from a caller unchecked.
    """
    copy = _copy(customer)
    for name, value in changes.items():
        # A name that is no attribute is a bug of the caller: KeyError, not ignored.
        _SETTER_OF[name](copy, value)
    return copy


def with_version(customer: Customer, version: int) -> Customer:
    """``customer`` as stored at ``version`` (see ``trusted_replace``)."""
    return trusted_replace(customer, version=version)
