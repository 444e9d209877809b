"""The field catalog: which fields a rule may name, what kind each is, and which tests suit it.

Built-in fields come from the Customer record; custom fields (``field.KEY``)
come from the workspace, which knows the kinds of value each key holds. A
catalog without custom-field knowledge (``Catalog()``) accepts any key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Literal

import attrs

from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import (
    Compare,
    Has,
    InSet,
    SetTest,
    Today,
    Value,
    Within,
    custom_key,
    is_custom,
)

Kind = Literal["text", "enum", "number", "date", "set", "bool"]
"""What a field holds, as far as rules care."""

KINDS: tuple[Kind, ...] = ("text", "enum", "number", "date", "set", "bool")


@attrs.frozen
class FieldSpec:
    """A built-in field: its rule name, kind, meaning, and (for an enum) its allowed values."""

    name: str
    kind: Kind
    help: str
    choices: tuple[str, ...] = ()


BUILTIN_FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("name", "text", "the customer's name"),
        FieldSpec("status", "text", "the status in the status machine"),
        FieldSpec("folder", "text", "the folder"),
        FieldSpec("source", "text", "where the customer came from"),
        FieldSpec("team", "text", "the team the customer belongs to"),
        FieldSpec("owner", "text", "the first assigned worker"),
        FieldSpec("country", "text", "the two-letter country code"),
        FieldSpec("currency", "text", "the deal currency code"),
        FieldSpec("order_id", "text", "the order id"),
        FieldSpec("whatsapp", "text", "the WhatsApp number"),
        FieldSpec("lost_reason", "text", "why the deal was lost"),
        FieldSpec("outcome", "enum", "won or lost", ("won", "lost")),
        FieldSpec("value", "number", "the deal value"),
        FieldSpec("created", "date", "the day the customer was created (UTC)"),
        FieldSpec("updated", "date", "the day of the last change (UTC)"),
        FieldSpec("converted", "date", "the day the customer converted (UTC)"),
        FieldSpec("last_contacted", "date", "the day of the last contact (UTC)"),
        FieldSpec("closed", "date", "the day the deal was won or lost (UTC)"),
        FieldSpec("next_follow_up", "date", "the day of the next follow-up"),
        FieldSpec("tags", "set", "the tags"),
        FieldSpec("workers", "set", "the assigned workers"),
        FieldSpec("emails", "set", "the email addresses"),
        FieldSpec("phones", "set", "the phone numbers"),
    )
}
"""Every built-in field, by its rule name."""

ALIASES: dict[str, str] = {
    "email": "emails",
    "phone": "phones",
    "tag": "tags",
    "worker": "workers",
    "created_at": "created",
    "updated_at": "updated",
    "converted_at": "converted",
    "last_contacted_at": "last_contacted",
    "closed_at": "closed",
}
"""Other names accepted for built-in fields; the printer writes the canonical name."""

STORED_KIND_FAMILY: dict[str, Kind] = {
    "text": "text",
    "int": "number",
    "float": "number",
    "decimal": "number",
    "bool": "bool",
    "date": "date",
    "datetime": "date",
    "list": "set",
    "checkbox": "bool",
    "select": "text",
    "multi_select": "set",
}
"""How the kind of a custom field reads in rules: the stored kinds of values (see
serialization) and the types of custom field definitions (see custom_fields)."""

OPERATORS_BY_KIND: dict[Kind, tuple[str, ...]] = {
    "text": ("=", "!=", "~", "in"),
    "enum": ("=", "!=", "in"),
    "number": ("=", "!=", "<", "<=", ">", ">="),
    "date": ("=", "!=", "<", "<=", ">", ">=", "within"),
    "set": ("any", "all", "none", "~"),
    "bool": ("=", "!="),
}
"""Which tests suit each kind of field (``has`` suits every field)."""

_KIND_NOUN: dict[Kind, str] = {
    "text": "text",
    "enum": "one of a fixed set of values",
    "number": "a number",
    "date": "a date",
    "set": "a list of text",
    "bool": "true or false",
}


def value_kinds(value: Value) -> tuple[Kind, ...]:
    """The kinds of field a literal can be compared with."""
    if isinstance(value, bool):
        return ("bool",)
    if isinstance(value, Decimal):
        return ("number",)
    if isinstance(value, date | Today):
        return ("date",)
    return ("text", "enum", "set")


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, if any is close."""
    matches = difflib.get_close_matches(word.lower(), list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


@attrs.frozen
class Problem:
    """Why a test does not type-check: the message, what was expected, and a suggestion."""

    message: str
    expected: str = ""
    hint: str | None = None


def _custom_kinds(
    values: Mapping[str, Iterable[str]] | None,
) -> Mapping[str, frozenset[Kind]] | None:
    if values is None:
        return None
    return {key: frozenset(_family(kind) for kind in kinds) for key, kinds in values.items()}


def _family(kind: str) -> Kind:
    if kind in STORED_KIND_FAMILY:
        return STORED_KIND_FAMILY[kind]
    for known in KINDS:
        if known == kind:
            return known
    raise InvalidValue(f"unknown kind of custom field value {kind!r}")


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


BUILTIN_RECORD_KINDS = frozenset(
    ("order", "payment", "invoice", "appointment", "file", "conversation", "subscription")
)
"""The kinds of linked records every workspace has (``pipeline_core.domain.records``)."""


@attrs.frozen
class Catalog:
    """The fields a rule may name.

    ``custom`` maps each custom field key to the kinds of value it holds (stored
    kinds such as ``int`` or rule kinds such as ``number``); ``None`` accepts
    any key with any kind.
    """

    custom: Mapping[str, frozenset[Kind]] | None = attrs.field(
        default=None, converter=_custom_kinds
    )
    record_kinds: frozenset[str] = attrs.field(default=BUILTIN_RECORD_KINDS, converter=_names)
    """The kinds of linked records rules may test (the built-in ones and the workspace's)."""

    def record_kind(self, word: str) -> str | None:
        """The record kind a word names (``invoice`` or ``invoices``), or None."""
        lowered = word.lower()
        if lowered in self.record_kinds:
            return lowered
        if lowered.endswith("s") and lowered[:-1] in self.record_kinds:
            return lowered[:-1]
        return None

    def canonical(self, name: str) -> str | None:
        """The canonical name of a built-in field (or alias), or None if there is none."""
        lowered = name.lower()
        if lowered in BUILTIN_FIELDS:
            return lowered
        return ALIASES.get(lowered)

    def kinds(self, field: str) -> frozenset[Kind] | None:
        """The kinds a field (canonical or ``field.KEY``) may hold; None if it is unknown."""
        if is_custom(field):
            if self.custom is None:
                return frozenset(KINDS) - {"enum"}
            return self.custom.get(custom_key(field))
        spec = BUILTIN_FIELDS.get(field)
        return None if spec is None else frozenset((spec.kind,))

    def unknown(self, field: str) -> Problem:
        """The problem of naming a field the catalog does not know, with a suggestion."""
        if is_custom(field):
            key = custom_key(field)
            keys = sorted(self.custom or ())
            near = suggest(key, keys)
            known = ", ".join(keys) if keys else "none yet"
            return Problem(
                f"unknown custom field {key!r} (custom fields in this workspace: {known})",
                "a custom field name",
                None if near is None else f"field.{near}",
            )
        near = suggest(field, [*BUILTIN_FIELDS, *ALIASES, "field"])
        return Problem(
            f"unknown field {field!r}",
            "a field name, such as " + ", ".join(list(BUILTIN_FIELDS)[:6]) + " or field.KEY",
            near,
        )

    def check(self, node: Compare | InSet | SetTest | Has | Within) -> Problem | None:
        """Whether a test suits its field; the problem if not."""
        kinds = self.kinds(node.field)
        if kinds is None:
            return self.unknown(node.field)
        if isinstance(node, Has):
            return None
        problems = [_check_kind(node, kind, node.field) for kind in sorted(kinds)]
        fine = [p for p in problems if p is None]
        return None if fine or not problems else problems[0]


def _operator(node: Compare | InSet | SetTest | Within) -> str:
    if isinstance(node, Compare):
        return node.op
    if isinstance(node, InSet):
        return "in"
    if isinstance(node, SetTest):
        return node.quantifier
    return "within"


def _check_kind(node: Compare | InSet | SetTest | Within, kind: Kind, field: str) -> Problem | None:
    op = _operator(node)
    allowed = OPERATORS_BY_KIND[kind]
    if op not in allowed:
        return Problem(
            f"{op!r} does not apply to {field}, which holds {_KIND_NOUN[kind]}",
            "one of " + ", ".join(repr(o) for o in allowed) + " or 'has'",
        )
    if isinstance(node, Compare):
        if kind not in value_kinds(node.value):
            return Problem(
                f"{field} holds {_KIND_NOUN[kind]}; it cannot be compared with "
                f"{_KIND_NOUN[value_kinds(node.value)[0]]}",
                _KIND_NOUN[kind],
            )
        values: tuple[object, ...] = (node.value,)
    elif isinstance(node, InSet):
        values = node.values
    else:
        values = ()
    spec = BUILTIN_FIELDS.get(field)
    if kind == "enum" and spec is not None:
        for value in values:
            if value not in spec.choices:
                near = suggest(str(value), spec.choices)
                return Problem(
                    f"{field} is one of {', '.join(spec.choices)}, never {value!r}",
                    " or ".join(spec.choices),
                    near,
                )
    return None


DEFAULT_CATALOG = Catalog()
"""The built-in fields and any custom field."""
