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
from pipeline_core.errors import InvalidValue, PipelineError
from pipeline_core.rules.ast import And, InSet, MatchAll, Not, Or, Rule, SetTest

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


def unstructure_rule(rule: Rule) -> dict[str, Any]:
    """A rule as tagged JSON data: ``{"type": "in", ...}``."""
    match rule:
        case MatchAll():
            return {"type": "all"}
        case InSet(field=field, values=values):
            return {"type": "in", "field": field, "values": list(values)}
        case SetTest(field=field, quantifier=quantifier, values=values):
            return {"type": "set", "field": field, "quantifier": quantifier, "values": list(values)}
        case Not(operand=operand):
            return {"type": "not", "operand": unstructure_rule(operand)}
        case And(operands=operands):
            return {"type": "and", "operands": [unstructure_rule(o) for o in operands]}
        case Or(operands=operands):
            return {"type": "or", "operands": [unstructure_rule(o) for o in operands]}
    raise TypeError(f"not a rule: {rule!r}")


def structure_rule(data: Mapping[str, Any], _: object = None) -> Rule:
    """Inverse of ``unstructure_rule``."""
    match data.get("type"):
        case "all":
            return MatchAll()
        case "in":
            return InSet(data["field"], tuple(data["values"]))
        case "set":
            return SetTest(data["field"], data["quantifier"], tuple(data["values"]))
        case "not":
            return Not(structure_rule(data["operand"]))
        case "and":
            return And(tuple(structure_rule(o) for o in data["operands"]))
        case "or":
            return Or(tuple(structure_rule(o) for o in data["operands"]))
    raise InvalidValue(f"unknown rule type {data.get('type')!r}")


def structure_error_text(error: cattrs.BaseValidationError, source: str) -> str:
    """One line naming every problem cattrs found, keeping our own validators' messages."""

    def describe(exc: BaseException, type_: Any) -> str:
        if isinstance(exc, PipelineError):
            return str(exc)
        return format_exception(exc, type_)

    return "; ".join(transform_error(error, path=source, format_exception=describe))


def dumps(value: Any) -> str:
    """Compact JSON text of already unstructured data."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_rule(cls: Any) -> bool:
    return bool(cls == Rule)


converter.register_unstructure_hook_func(_is_rule, unstructure_rule)
converter.register_structure_hook_func(_is_rule, structure_rule)
