"""Linked records: what other modules (orders, payments, calendars, mail...) attach to a customer.

A record is typed by its kind; each kind has its own list of states and the
state a new record takes. The built-in kinds are ``BUILTIN_KINDS``; a
workspace defines more (``RecordKind``) in its settings. A record is keyed by
its external reference: one customer holds at most one record of a kind with
a given reference, so the module that owns it upserts by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from pipeline_core.customer import checked_text, currency_codes
from pipeline_core.errors import InvalidValue

PayloadValue = str | int | float | bool | None
"""A payload value: flat and typed, so that every store keeps it alike."""

MAX_PAYLOAD_KEYS = 32
"""A payload is a small typed map; bigger documents stay with the module that owns them."""

MAX_TEXT = 2000
"""The longest title, reference or payload text kept (characters)."""

AMOUNT_STEP = Decimal("0.0001")
"""Amounts have at most 4 decimal places (ISO 4217's finest minor unit), so that the
stores keep and sum them as exact integers of 1/10000."""

MAX_AMOUNT = 10**10
"""Amounts are below this in size: ninety thousand of the largest still sum inside the
64-bit integers SQLite adds them in."""

CHANNELS = ("email", "whatsapp", "sms", "call")
"""The channels of a conversation."""

SETTINGS_KEY = "record_kinds"
"""The workspace setting holding the user-defined kinds."""

_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@attrs.frozen(kw_only=True)
class RecordKind:
    """A kind of linked record: its states (the first is a new record's) and which of them
    count as "done" for totals (payments received, invoices still to pay...)."""

    name: str
    states: tuple[str, ...]
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not _KIND_NAME.fullmatch(self.name):
            raise InvalidValue(
                f"record kind {self.name!r} must be lower-case letters, digits or _,"
                " starting with a letter (at most 40)"
            )
        if not self.states or any(not _KIND_NAME.fullmatch(s) for s in self.states):
            raise InvalidValue(
                f"record kind {self.name!r} needs states in lower-case letters, digits or _"
            )
        if len(set(self.states)) != len(self.states):
            raise InvalidValue(f"record kind {self.name!r} lists a state twice")

    @property
    def initial(self) -> str:
        """The state a new record of this kind takes when none is given."""
        return self.states[0]


BUILTIN_KINDS: dict[str, RecordKind] = {
    kind.name: kind
    for kind in (
        RecordKind(
            name="order",
            states=("placed", "paid", "shipped", "delivered", "cancelled", "returned"),
            description="an order the customer placed (a converted lead's order too)",
        ),
        RecordKind(
            name="payment",
            states=("received", "pending", "failed", "refunded"),
            description="money received; only received payments count in totals",
        ),
        RecordKind(
            name="invoice",
            states=("draft", "open", "paid", "overdue", "void"),
            description="an invoice; open and overdue ones are still to be paid",
        ),
        RecordKind(
            name="appointment",
            states=("booked", "confirmed", "cancelled", "done"),
            description="a calendar appointment from start to end",
        ),
        RecordKind(
            name="file",
            states=("active", "deleted"),
            description="a file kept elsewhere, by URI, media type, size and checksum",
        ),
        RecordKind(
            name="conversation",
            states=("sent", "delivered", "opened", "replied", "received", "failed"),
            description="a message or call on a channel (email, whatsapp, sms, call)",
        ),
        RecordKind(
            name="subscription",
            states=("trial", "active", "paused", "cancelled", "expired"),
            description="a recurring plan from start to end",
        ),
    )
}
"""The kinds every workspace has, with their states (the first is a new record's)."""

OPEN_INVOICE_STATES = ("open", "overdue")
"""Invoices still to be paid: the profile totals them."""

UPCOMING_APPOINTMENT_STATES = ("booked", "confirmed")
"""Appointments that will still take place."""


class RecordValueError(InvalidValue):
    """A linked record's value is refused; ``field`` names it (a file's column)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"{what} must be text, not {value!r}")
    cleaned = checked_text(value).strip()
    if len(cleaned) > MAX_TEXT:
        raise InvalidValue(f"{what} is longer than {MAX_TEXT} characters")
    return cleaned


def _ref(value: str) -> str:
    cleaned = _text(value, "an external reference")
    if not cleaned:
        raise RecordValueError(
            "ref", "a linked record needs an external reference (its id elsewhere)"
        )
    return cleaned


def _kind_word(value: str) -> str:
    # Kinds are lower-case names: "Conversation" is a conversation, with its checks.
    return _text(value, "a record kind").lower()


def _uri(value: str) -> str:
    return _text(value, "a file URI")


def _title(value: str) -> str:
    return _text(value, "a title")


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return _text(value, "a text value") or None


def _amount(value: Decimal | int | str | None) -> Decimal | None:
    try:
        return _checked_amount(value)
    except InvalidValue as error:
        raise RecordValueError("amount", str(error)) from None


def _checked_amount(value: Decimal | int | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float | bool):
        raise InvalidValue(f"amount {value!r} must be a decimal (text or Decimal), not a float")
    try:
        result = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidValue(f"amount {value!r} is not a number") from None
    if not result.is_finite():
        raise InvalidValue(f"amount {value!r} is not a finite number")
    if result != result.quantize(AMOUNT_STEP) or abs(result) >= MAX_AMOUNT:
        raise InvalidValue(
            f"amount {value!r} must have at most 4 decimal places and be below {MAX_AMOUNT:,}"
        )
    return result


def amount_e4(amount: Decimal | None) -> int | None:
    """An amount as the exact whole number of 1/10000 the stores sum (None stays None)."""
    return None if amount is None else int(amount.scaleb(4))


def _currency(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    code = _text(value, "a currency").upper()
    if code not in currency_codes():
        raise RecordValueError(
            "currency", f"currency {value!r} is not an ISO 4217 code (EUR, USD, JPY...)"
        )
    return code


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidValue(f"moment {value!r} must be a datetime with a time zone")
    return value


def _day(value: date | None) -> date | None:
    if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
        raise InvalidValue(f"due date {value!r} must be a date")
    return value


def _channel(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    cleaned = _text(value, "a channel").lower()
    if cleaned not in CHANNELS:
        raise RecordValueError("channel", f"channel {value!r} is not one of {', '.join(CHANNELS)}")
    return cleaned


def _payload(value: Mapping[str, Any] | None) -> dict[str, PayloadValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(f"a payload is a map of names to values, not {value!r}")
    if len(value) > MAX_PAYLOAD_KEYS:
        raise InvalidValue(f"a payload holds at most {MAX_PAYLOAD_KEYS} values")
    checked: dict[str, PayloadValue] = {}
    for key, item in value.items():
        name = _text(key, "a payload name")
        if not name:
            raise InvalidValue("a payload name must not be blank")
        if isinstance(item, str):
            checked[name] = _text(item, f"payload value {name!r}")
        elif (
            item is None
            or isinstance(item, bool | int)
            or (isinstance(item, float) and item == item and abs(item) != float("inf"))
        ):
            checked[name] = item
        else:
            raise InvalidValue(
                f"payload value {name!r} must be text, a number, true/false or null, not {item!r}"
            )
    return checked


@attrs.frozen(kw_only=True)
class FileRef:
    """A file kept elsewhere: where it is, what it is, how big, and its checksum."""

    uri: str = attrs.field(converter=_uri)
    media_type: str | None = attrs.field(default=None, converter=_optional)
    size: int | None = None
    checksum: str | None = attrs.field(default=None, converter=_optional)

    def __attrs_post_init__(self) -> None:
        if not self.uri:
            raise InvalidValue("a file reference needs a URI")
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise InvalidValue(f"file size {self.size!r} must be a whole number of bytes")


@attrs.frozen(kw_only=True)
class LinkedRecord:
    """Something another module owns, attached to a customer and keyed by ``(kind, ref)``.

    ``state`` empty: the kind's first state for a new record, the stored one for a
    known one. ``at`` is when it happened (paid, sent, placed), ``due`` when it falls due
    (invoices), ``start``/``end`` when it takes place (appointments,
    subscriptions). ``channel`` and ``address`` are a conversation's (the
    counterpart's email or number: contact data, hidden like the customer's).
    """

    customer_id: int
    kind: str = attrs.field(converter=_kind_word)
    ref: str = attrs.field(converter=_ref)
    state: str = ""
    title: str = attrs.field(default="", converter=_title)
    amount: Decimal | None = attrs.field(default=None, converter=_amount)
    currency: str | None = attrs.field(default=None, converter=_currency)
    at: datetime | None = attrs.field(default=None, converter=_aware)
    due: date | None = attrs.field(default=None, converter=_day)
    start: datetime | None = attrs.field(default=None, converter=_aware)
    end: datetime | None = attrs.field(default=None, converter=_aware)
    channel: str | None = attrs.field(default=None, converter=_channel)
    address: str | None = attrs.field(default=None, converter=_optional)
    file: FileRef | None = None
    payload: dict[str, PayloadValue] = attrs.field(factory=dict, converter=_payload)
    created_at: datetime | None = attrs.field(default=None, converter=_aware)
    updated_at: datetime | None = attrs.field(default=None, converter=_aware)
    id: int = 0

    def __attrs_post_init__(self) -> None:
        if self.amount is not None and self.currency is None:
            raise RecordValueError(
                "currency", f"{self.kind} {self.ref!r}: an amount needs a currency"
            )
        if self.start is not None and self.end is not None and self.end < self.start:
            raise RecordValueError("end", f"{self.kind} {self.ref!r}: it ends before it starts")
        if self.channel is not None and self.kind != "conversation":
            raise RecordValueError(
                "channel", f"{self.kind} {self.ref!r}: only a conversation has a channel"
            )
        if self.kind == "conversation" and self.channel is None:
            raise InvalidValue(f"conversation {self.ref!r} needs a channel ({', '.join(CHANNELS)})")
        if self.file is not None and self.kind != "file":
            raise RecordValueError(
                "uri", f"{self.kind} {self.ref!r}: only a file has a file reference"
            )
        if self.kind == "file" and self.file is None:
            raise RecordValueError("uri", f"file {self.ref!r} needs a URI")

    @property
    def moment(self) -> datetime | None:
        """When the record took place, for ordering: ``at``, else ``start``, else creation."""
        return self.at or self.start or self.created_at


def replaced(record: LinkedRecord, **changes: Any) -> LinkedRecord:
    """``record`` with ``changes`` already known to be valid (ids, moments, checked states).

    ``attrs.evolve`` would run every field's checks again: a bulk import changes each
    record three times, and those checks were most of its cost.
    """
    copied = object.__new__(LinkedRecord)
    for name in _FIELD_NAMES:
        value = changes[name] if name in changes else getattr(record, name)
        object.__setattr__(copied, name, value)
    return copied


_FIELD_NAMES = tuple(field.name for field in attrs.fields(LinkedRecord))


def _moment_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def stored_record(data: Mapping[str, Any], record_id: int, customer_id: int) -> LinkedRecord:
    """A record from the JSON a store wrote (``converter.unstructure``), without checking it
    again: it was checked when it was written, and a profile reads hundreds at once."""
    amount, due, file = data.get("amount"), data.get("due"), data.get("file")
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": data["kind"],
        "ref": data["ref"],
        "state": data.get("state", ""),
        "title": data.get("title", ""),
        "amount": None if amount is None else Decimal(amount),
        "currency": data.get("currency"),
        "at": _moment_or_none(data.get("at")),
        "due": None if due is None else date.fromisoformat(due),
        "start": _moment_or_none(data.get("start")),
        "end": _moment_or_none(data.get("end")),
        "channel": data.get("channel"),
        "address": data.get("address"),
        "file": None if file is None else FileRef(**file),
        "payload": dict(data.get("payload") or {}),
        "created_at": _moment_or_none(data.get("created_at")),
        "updated_at": _moment_or_none(data.get("updated_at")),
        "id": record_id,
    }
    record = object.__new__(LinkedRecord)
    for name in _FIELD_NAMES:
        object.__setattr__(record, name, values[name])
    return record


def with_id(record: LinkedRecord, record_id: int) -> LinkedRecord:
    """``record`` as a store keeps it, under the id the store gave it."""
    return replaced(record, id=record_id)


def check_same_key(before: LinkedRecord, after: LinkedRecord) -> None:
    """Refuse a change of a stored record's customer, kind or reference (its key)."""
    if (before.customer_id, before.kind, before.ref) != (
        after.customer_id,
        after.kind,
        after.ref,
    ):
        raise InvalidValue(f"record {after.id}: its customer, kind and reference stay")


def record_order(record: LinkedRecord) -> tuple[datetime, int]:
    """The order records are listed in: by moment, then id (as the SQL stores sort them)."""
    return (record.moment or _EARLIEST, record.id)


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def kind_named(name: str, defined: Mapping[str, RecordKind]) -> RecordKind:
    """The built-in or user-defined kind called ``name``; a clear error naming the known ones."""
    cleaned = name.strip().lower() if isinstance(name, str) else name
    found = BUILTIN_KINDS.get(cleaned) or defined.get(cleaned)
    if found is None:
        known = ", ".join([*BUILTIN_KINDS, *sorted(defined)])
        raise InvalidValue(f"unknown record kind {name!r} (known: {known})")
    return found


def check_state(kind: RecordKind, state: str) -> str:
    """``state`` if the kind has it; a clear error listing the kind's states otherwise."""
    cleaned = state.strip().lower() if isinstance(state, str) else state
    if cleaned not in kind.states:
        raise InvalidValue(f"{kind.name} state {state!r} is not one of {', '.join(kind.states)}")
    return cleaned


def payload_text(value: PayloadValue) -> str:
    """A payload value as a file cell shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def totals_by_currency(records: list[LinkedRecord]) -> dict[str, Decimal]:
    """The amounts of ``records`` added up per currency (records without an amount left out)."""
    totals: dict[str, Decimal] = {}
    for record in records:
        if record.amount is not None and record.currency is not None:
            totals[record.currency] = totals.get(record.currency, Decimal(0)) + record.amount
    return dict(sorted(totals.items()))


@attrs.frozen(kw_only=True)
class RejectedRow:
    """A row of a records file that was not imported, and why."""

    line: int
    column: str | None
    reason: str


@attrs.frozen(kw_only=True)
class RecordImportSummary:
    """What a records import did: how many records were added, updated, already so, refused."""

    file: str
    added: int
    updated: int
    unchanged: int
    rejected: tuple[RejectedRow, ...] = ()


def combined(file: str, summaries: list[RecordImportSummary]) -> RecordImportSummary:
    """The summaries of a file's batches as one summary of the whole file."""
    return RecordImportSummary(
        file=file,
        added=sum(s.added for s in summaries),
        updated=sum(s.updated for s in summaries),
        unchanged=sum(s.unchanged for s in summaries),
        rejected=tuple(r for s in summaries for r in s.rejected),
    )


@attrs.frozen(kw_only=True)
class ProfileRecords:
    """The linked-record sections of a customer's profile (``customers show``)."""

    open_invoices: tuple[LinkedRecord, ...] = ()
    """Open and overdue invoices, by due date (none last), then id."""
    open_invoice_totals: dict[str, Decimal] = attrs.Factory(dict)
    """What the open and overdue invoices add up to, per currency."""
    overdue_invoice_totals: dict[str, Decimal] = attrs.Factory(dict)
    """What the overdue invoices add up to, per currency."""
    payments_received: dict[str, Decimal] = attrs.Factory(dict)
    """The received payments added up, per currency."""
    upcoming_appointments: tuple[LinkedRecord, ...] = ()
    """Booked and confirmed appointments that have not started yet, soonest first."""
    latest_conversations: dict[str, LinkedRecord] = attrs.Factory(dict)
    """The latest conversation of each channel."""
    files: tuple[LinkedRecord, ...] = ()
    """The files not deleted, newest first."""
    orders: tuple[LinkedRecord, ...] = ()
    """Every order, newest first."""
    subscriptions: tuple[LinkedRecord, ...] = ()
    """Subscriptions on trial, active or paused."""
    counts: dict[str, int] = attrs.Factory(dict)
    """How many records of each kind the customer holds."""


PROFILE_TOTALS: tuple[tuple[str, str], ...] = (
    ("invoice", "open"),
    ("invoice", "overdue"),
    ("payment", "received"),
)
"""The kinds and states whose amounts the profile adds up per currency."""

PROFILE_LISTED: dict[str, tuple[str, ...] | None] = {
    "invoice": OPEN_INVOICE_STATES,
    "appointment": UPCOMING_APPOINTMENT_STATES,
    "file": ("active",),
    "order": None,
    "subscription": ("trial", "active", "paused"),
}
"""The records the profile lists, by kind: the states listed (None: every state)."""


@attrs.frozen(kw_only=True)
class ProfileParts:
    """What a store reads for a profile: the listed records, sums and counts, not every record.

    ``listed``: the records of ``PROFILE_LISTED`` in ``record_order``; ``latest``: the
    latest conversation per channel; ``sums``: per (kind, state, currency) of
    ``PROFILE_TOTALS``, the amounts added up; ``counts``: records per kind.
    """

    listed: tuple[LinkedRecord, ...]
    latest: dict[str, LinkedRecord]
    sums: dict[tuple[str, str, str], Decimal]
    counts: dict[str, int]


def profile_parts(records: list[LinkedRecord]) -> ProfileParts:
    """The parts of a profile computed in Python from every record (the memory store's way)."""
    ordered = sorted(records, key=record_order)
    latest: dict[str, LinkedRecord] = {}
    sums: dict[tuple[str, str, str], Decimal] = {}
    counts: dict[str, int] = {}
    for record in ordered:
        counts[record.kind] = counts.get(record.kind, 0) + 1
        if record.kind == "conversation" and record.channel is not None:
            latest[record.channel] = record  # in record order: the last one is the latest
        summed = (record.kind, record.state) in PROFILE_TOTALS
        if summed and record.amount is not None and record.currency is not None:
            key = (record.kind, record.state, record.currency)
            sums[key] = sums.get(key, Decimal(0)) + record.amount
    return ProfileParts(
        listed=tuple(r for r in ordered if profile_lists(r)),
        latest=latest,
        sums=sums,
        counts=counts,
    )


def profile_lists(record: LinkedRecord) -> bool:
    """Whether the profile lists ``record`` in one of its sections (``PROFILE_LISTED``)."""
    if record.kind not in PROFILE_LISTED:
        return False
    states = PROFILE_LISTED[record.kind]
    return states is None or record.state in states


def profile_records(records: list[LinkedRecord], now: datetime) -> ProfileRecords:
    """The profile's sections of a customer's ``records``, at ``now``."""
    return profile_from_parts(profile_parts(records), now)


def _totals(
    sums: dict[tuple[str, str, str], Decimal], kind: str, *states: str
) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for (summed_kind, state, currency), amount in sums.items():
        if summed_kind == kind and state in states:
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    return dict(sorted(totals.items()))


def profile_from_parts(parts: ProfileParts, now: datetime) -> ProfileRecords:
    """The profile's sections from what a store read (``ProfileParts``), at ``now``."""
    by_kind: dict[str, list[LinkedRecord]] = {}
    for record in parts.listed:
        by_kind.setdefault(record.kind, []).append(record)
    invoices = list(by_kind.get("invoice", []))
    invoices.sort(key=lambda r: (r.due is None, r.due or date.min, r.id))
    upcoming = [r for r in by_kind.get("appointment", []) if r.start is not None and r.start >= now]
    upcoming.sort(key=lambda r: (r.start or now, r.id))
    return ProfileRecords(
        open_invoices=tuple(invoices),
        open_invoice_totals=_totals(parts.sums, "invoice", "open", "overdue"),
        overdue_invoice_totals=_totals(parts.sums, "invoice", "overdue"),
        payments_received=_totals(parts.sums, "payment", "received"),
        upcoming_appointments=tuple(upcoming),
        latest_conversations=dict(sorted(parts.latest.items())),
        files=tuple(reversed(by_kind.get("file", []))),
        orders=tuple(reversed(by_kind.get("order", []))),
        subscriptions=tuple(by_kind.get("subscription", [])),
        counts=dict(sorted(parts.counts.items())),
    )
