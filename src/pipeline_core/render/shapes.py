"""The JSON shapes of ``--format json``: the types records are made of, and their schemas.

Every noun a command prints (a customer, an event, a board...) has one record
function in render/ and one type that describes its JSON object: an attrs class
of the domain when the record is that class unstructured by
``domain.serialization.converter``, or a TypedDict when the record is built key by
key (mypy then checks the record function against it). The TypedDicts of most
records are here; the reports' are in ``render.reports``. ``render.schemas`` names
every noun's type, and ``schemas_of`` turns those types into JSON Schemas:
docs/json.md shows them and tests/test_json_shapes.py checks real command output
against them.

The schemas use a small part of JSON Schema: ``type``, ``enum``, ``format``
(``date-time``, ``date``, and ``decimal`` for exact decimal text), ``properties``,
``required``, ``additionalProperties``, ``patternProperties``, ``items``,
``anyOf`` and ``$ref`` to another noun as ``#/$defs/NOUN``.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypedDict, Union

import attrs

from pipeline_core.domain.events import EventKind
from pipeline_core.domain.normalize import KeyKind
from pipeline_core.rules.ast import Rule

Schema = dict[str, Any]
"""A JSON Schema (or part of one), as JSON-ready data."""


@attrs.frozen
class Format:
    """``Annotated[str, Format("date-time")]``: text in a JSON Schema format."""

    name: str


@attrs.frozen
class Noun:
    """``Annotated[dict[str, Any], Noun("customer")]``: the JSON object of another noun."""

    name: str


@attrs.frozen
class Extended:
    """An attrs class unstructured, with more keys added by its record function."""

    base: type
    extra: Mapping[str, object]


DateTimeText = Annotated[str, Format("date-time")]
DateText = Annotated[str, Format("date")]
DecimalText = Annotated[str, Format("decimal")]
CustomerObject = Annotated[dict[str, Any], Noun("customer")]
TaskObject = Annotated[dict[str, Any], Noun("task")]
ProfileRecordsObject = Annotated[dict[str, Any], Noun("profile records")]


# the records built key by key -----------------------------------------------------------


class EventRecord(TypedDict):
    """An event of a customer's timeline."""

    id: int
    customer_id: int
    at: DateTimeText
    actor: str
    kind: EventKind
    data: dict[str, Any]


class ColumnValueRecord(TypedDict):
    """A column's deal values in one currency (``currency`` null: entered without one)."""

    currency: str | None
    valued: int
    total: DecimalText


class BoardColumnRecord(TypedDict):
    """One column of a board: its count, values per currency and the cards of one page."""

    name: str
    status: str
    colour: str
    count: int
    values: list[ColumnValueRecord]
    offset: int
    more: int
    cards: list[CustomerObject]


class UnmappedRecord(TypedDict):
    """The members of a flow whose status no column maps."""

    count: int
    values: list[ColumnValueRecord]
    offset: int
    more: int
    cards: list[CustomerObject]


class BoardRecord(TypedDict):
    """A flow's board; each card is a customer with its ``version`` (for a move's
    expected version). ``hidden``: members hidden from the flow, in no column;
    ``filtered``: whether board filters narrowed it."""

    flow: str
    columns: list[BoardColumnRecord]
    unmapped: UnmappedRecord
    hidden: int
    filtered: bool


class FlowHideRecord(TypedDict):
    """A customer hidden from a flow's board, by whom and when (null before schema 11)."""

    flow: str
    customer_id: int
    hidden_by: str | None
    hidden_at: DateTimeText | None


class FlowEventRecord(TypedDict):
    """An entry of a flow's own history."""

    id: int
    flow: str
    at: DateTimeText
    actor: str
    kind: str
    data: dict[str, Any]


class ContactKeyRecord(TypedDict):
    """A normalized phone or email key (a WhatsApp number is a phone)."""

    kind: KeyKind
    key: str


class ClusterRecord(TypedDict):
    """Customers sharing contact keys, transitively."""

    cluster: int
    keys: list[ContactKeyRecord]
    customer_ids: list[int]
    customers: list[CustomerObject]


class TimeSummaryRecord(TypedDict):
    """Minutes of working time, in total, per worker and per customer id (as text)."""

    total_minutes: int
    by_worker: dict[str, int]
    by_customer: dict[str, int]


class ParentRecord(TypedDict):
    """The parent of a customer, in its 360-degree view."""

    id: int
    name: str


class ChildRecord(TypedDict):
    """A sub-customer, in its parent's 360-degree view."""

    id: int
    name: str
    status: str


class ViewRecord(TypedDict):
    """A customer's 360-degree view."""

    customer: CustomerObject
    parent: ParentRecord | None
    children: list[ChildRecord]
    open_tasks: list[TaskObject]
    overdue_tasks: list[int]
    follow_up_due_at: DateTimeText | None
    time: TimeSummaryRecord
    event_count: int
    recent_events: list[EventRecord]
    records: ProfileRecordsObject


class TeamRecord(TypedDict):
    """A team and the users in it."""

    team: str
    members: list[str]


class RuleSqlRecord(TypedDict):
    """The SQL condition a rule compiles to, and its parameters."""

    sql: str
    params: list[Any]


class MigrationRecord(TypedDict):
    """What a migration copied: rows per table."""

    source: str
    target: str
    rows: dict[str, int]


class ImportErrorRecord(TypedDict):
    """One rejected row of an import."""

    line: int
    column: str | None
    reason: str


class KeptColumnRecord(TypedDict):
    """A column kept in a custom field because a more specific column feeds its field."""

    column: str
    field: str


class StatusCountRecord(TypedDict):
    """A status value the workspace does not know, and how many rows hold it."""

    value: str
    rows: int


class OwnerCountRecord(TypedDict):
    """An owner no user matches, and how many rows name it."""

    owner: str
    rows: int


class ImportSummaryRecord(TypedDict):
    """What an import did (with ``dry_run``: would do)."""

    file: str
    run_id: str
    dry_run: bool
    already_done: bool
    resumed_after_line: int
    rows: int
    created: int
    updated: int
    merged: int
    skipped: int
    rejected: int
    rejected_total: int
    unknown_columns: list[str]
    kept_columns: list[KeptColumnRecord]
    unknown_statuses: list[StatusCountRecord]
    unknown_owners: list[OwnerCountRecord]
    unreadable_phones: int
    parents_created: int
    unresolved_parents: list[str]
    errors: list[ImportErrorRecord]
    seconds: float
    rows_per_second: int


_NONE = type(None)
_SCALARS: dict[object, Schema] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    Decimal: {"type": "string", "format": "decimal"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
    _NONE: {"type": "null"},
}
_JSON_VALUE_TYPES = {str, int, float, bool, _NONE, list, dict}


def schemas_of(nouns: Mapping[str, object]) -> dict[str, Schema]:
    """The JSON Schema of each noun's type; a noun inside another is a ``$ref`` to it."""
    # A type that is a noun of its own is referred to by that noun, even when another
    # noun extends it (a listed customer is a customer and more).
    names: dict[object, str] = {s.base: n for n, s in nouns.items() if isinstance(s, Extended)}
    names.update({s: n for n, s in nouns.items() if not isinstance(s, Extended)})
    generator = _Generator(names)
    return {name: generator.object_of(source) for name, source in nouns.items()}


class _Generator:
    """Turns types into JSON Schemas; a type in ``names`` becomes a ``$ref`` to its noun."""

    def __init__(self, names: Mapping[object, str]) -> None:
        self.names = names

    def object_of(self, source: object) -> Schema:
        """The object schema of a noun's source type (never a ``$ref`` to itself)."""
        if isinstance(source, Extended):
            base = self.object_of(source.base)
            extra = {key: self.schema(value) for key, value in source.extra.items()}
            return _object({**base["properties"], **extra})
        if isinstance(source, type) and typing.is_typeddict(source):
            hints = typing.get_type_hints(source, include_extras=True)
            properties = {key: self.schema(hint) for key, hint in hints.items()}
            required: frozenset[str] = getattr(source, "__required_keys__")  # noqa: B009
            return _object(properties, sorted(required, key=list(hints).index))
        if isinstance(source, type) and attrs.has(source):
            hints = typing.get_type_hints(source, include_extras=True)
            return _object({a.name: self.schema(hints[a.name]) for a in attrs.fields(source)})
        raise TypeError(f"{source!r} is not an attrs class or a TypedDict")

    def schema(self, hint: Any) -> Schema:
        """The schema of one value's type."""
        if hint in self.names:
            return {"$ref": f"#/$defs/{self.names[hint]}"}
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is Annotated:
            marks = hint.__metadata__
            noun = next((m.name for m in marks if isinstance(m, Noun)), None)
            if noun is not None:
                return {"$ref": f"#/$defs/{noun}"}
            shown = next((m.name for m in marks if isinstance(m, Format)), None)
            return {**self.schema(args[0]), **({"format": shown} if shown else {})}
        if hint is Any or isinstance(hint, typing.ForwardRef):
            return {}
        if hint == Rule:
            return {"type": "string"}  # a rule is printed as its canonical text
        if hint in _SCALARS:
            return dict(_SCALARS[hint])
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if origin is Literal:
            return {"enum": list(args)}
        if origin in (Union, types.UnionType):
            return self._union(args)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.schema(args[0])}
        if origin in (list, Sequence):
            return {"type": "array", "items": self.schema(args[0])}
        if origin in (dict, Mapping):
            values = self.schema(args[1])
            return {"type": "object", **({"additionalProperties": values} if values else {})}
        if isinstance(hint, type) and (attrs.has(hint) or typing.is_typeddict(hint)):
            return self.object_of(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def _union(self, members: tuple[Any, ...]) -> Schema:
        if {typing.get_origin(m) or m for m in members} >= _JSON_VALUE_TYPES:
            return {}  # any JSON value (domain.events.JSONValue)
        schemas = [self.schema(member) for member in members]
        if all(set(s) == {"enum"} or s == {"type": "null"} for s in schemas):
            return {"enum": [v for s in schemas for v in s.get("enum", [None])]}
        if all(
            set(s) <= {"type", "format", "items"} and isinstance(s.get("type"), str)
            for s in schemas
        ):
            return _simple_union(schemas)
        return {"anyOf": schemas}


def _simple_union(schemas: list[Schema]) -> Schema:
    """Schemas of plain types as one: the types in order; a format all the texts share."""
    kinds = list(dict.fromkeys(s["type"] for s in schemas))
    if "number" in kinds and "integer" in kinds:
        kinds.remove("integer")  # JSON Schema numbers include the integers
    merged: Schema = {"type": kinds[0] if len(kinds) == 1 else kinds}
    formats = {s.get("format") for s in schemas if s["type"] == "string"}
    if len(formats) == 1 and None not in formats:
        merged["format"] = formats.pop()
    items = [s["items"] for s in schemas if "items" in s]
    if len(items) == 1:
        merged["items"] = items[0]
    return merged


def _object(properties: dict[str, Schema], required: Sequence[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else list(required),
        "additionalProperties": False,
    }
