"""The one cattrs Converter that turns domain objects into JSON-ready data and back.

``converter`` gives the public JSON shape (what ``--format json`` prints and
what scripts read). ``storage_converter`` is the same converter with one
difference: custom field values carry their type, so that a date stays a date
and a Decimal stays a Decimal through a store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import cattrs
from cattrs.v import format_exception, transform_error

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.domain.records import PayloadValue
from pipeline_core.domain.statuses import Status
from pipeline_core.errors import InvalidStatusMachine, InvalidValue, PipelineError
from pipeline_core.rules.ast import Rule
from pipeline_core.rules.parser import parse
from pipeline_core.rules.printer import to_text

converter = cattrs.Converter()

converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
converter.register_unstructure_hook(date, lambda value: value.isoformat())
converter.register_structure_hook(date, lambda value, _: date.fromisoformat(value))
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, lambda value, _: Decimal(str(value)))


def plain_field_value(value: FieldValue) -> Any:
    """A custom field value as plain JSON (the public shape: dates as ISO text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def typed_field_value(value: FieldValue) -> list[Any]:
    """A custom field value as ``[kind, json]`` so that its type survives storage."""
    match value:
        case bool():
            return ["bool", value]
        case int():
            return ["int", value]
        case float():
            return ["float", value]
        case Decimal():
            return ["decimal", str(value)]
        case datetime():
            return ["datetime", value.isoformat()]
        case date():
            return ["date", value.isoformat()]
        case tuple():
            return ["list", list(value)]
        case str():
            return ["text", value]
    raise InvalidValue(f"unsupported custom field value {value!r}")


def from_typed_field_value(pair: list[Any]) -> FieldValue:
    """Inverse of ``typed_field_value``."""
    kind, raw = pair
    readers: dict[str, Any] = {
        "bool": bool,
        "int": int,
        "float": float,
        "decimal": Decimal,
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "list": tuple,
        "text": str,
    }
    result: FieldValue = readers[kind](raw)
    return result


def _structure_fields(value: Mapping[str, Any], _: object) -> dict[str, FieldValue]:
    # Public JSON carries no types: a list is a multi-select, everything else stays as given.
    return {key: tuple(raw) if isinstance(raw, list) else raw for key, raw in value.items()}


def _unstructure_customer(customer: Customer) -> dict[str, Any]:
    data = _customer_base(customer)
    data["fields"] = {key: plain_field_value(v) for key, v in customer.fields.items()}
    return data


_customer_base = converter.gen_unstructure_attrs_fromdict(Customer)
converter.register_unstructure_hook(Customer, _unstructure_customer)
converter.register_structure_hook_func(
    lambda cls: cls == Mapping[str, FieldValue], _structure_fields
)
# A linked record's payload is flat JSON already: its values are checked by the record.
converter.register_structure_hook_func(
    lambda cls: cls == dict[str, PayloadValue], lambda value, _: dict(value)
)


def unstructure_rule(rule: Rule) -> str:
    """A rule as its canonical text (how flows store and print their rules)."""
    return to_text(rule)


def structure_rule(data: str, _: object = None) -> Rule:
    """Inverse of ``unstructure_rule``: parse canonical (or any valid) rule text."""
    if not isinstance(data, str):
        raise InvalidValue(f"a stored rule must be rule text, got {data!r}")
    return parse(data)


def structure_error_text(error: cattrs.BaseValidationError) -> str:
    """One line naming every problem cattrs found and where, keeping our validators' messages."""

    def describe(exc: BaseException, type_: Any) -> str:
        if isinstance(exc, PipelineError):
            return str(exc)
        return format_exception(exc, type_)

    problems = []
    for line in transform_error(error, path="$", format_exception=describe):
        message, _, where = line.rpartition(" @ ")
        where = where.removeprefix("$").removeprefix(".")
        problems.append(f"{message} (at {where})" if where else message)
    return "; ".join(problems)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The C encoder ``_COMPACT.encode`` builds on every call (with its two Python frames),
# built once: a third of the cost for the small objects events and settings hold.
# No circular-reference markers (a shared dict would keep entries after an error):
# values here are unstructured data, never cyclic; a cycle would end in RecursionError.
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    None
    if _C_ENCODER is None
    else _C_ENCODER(
        None, _COMPACT.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
)


def dumps(value: Any) -> str:
    """Compact JSON text of already unstructured data."""
    if _ENCODE is None:  # a Python built without the json accelerator
        return _COMPACT.encode(value)
    return "".join(_ENCODE(value, 0))


def _structure_status(data: Any, _: object) -> Status:
    # Our own converters validate outcome and actions with messages that list what is known.
    if not isinstance(data, Mapping):
        raise InvalidStatusMachine(f"a status must be an object with a name, not {data!r}")
    unknown = sorted(set(data) - {"name", "outcome", "actions"})
    if unknown:
        raise InvalidStatusMachine(f"unknown status key(s) {', '.join(unknown)}")
    return Status(**data)


converter.register_structure_hook(Status, _structure_status)


def _is_rule(cls: Any) -> bool:
    return bool(cls == Rule)


converter.register_unstructure_hook_func(_is_rule, unstructure_rule)
converter.register_structure_hook_func(_is_rule, structure_rule)
