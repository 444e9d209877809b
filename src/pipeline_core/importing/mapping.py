"""Column mapping: which customer field each header feeds, and a row turned into a draft customer.

Headers map through common synonyms ("Full Name", "E-mail", "Mobile"...), then
``--map Header=field`` (or ``fields.custom_key``, or ``-`` to ignore) overrides.
Cells stay text unless the target is typed (deal value, follow-up date), so
leading zeros and phone numbers are never mangled; an empty cell means none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import attrs

from pipeline_core.customer import Customer, country_codes
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, customer_keys
from pipeline_core.domain.search import SearchDocument
from pipeline_core.errors import ImportRowError, InvalidValue

LIST_FIELDS = frozenset({"emails", "phones", "tags", "workers"})
SCALAR_FIELDS = frozenset(
    {
        "name", "first_name", "last_name", "whatsapp", "country", "status", "folder", "source",
        "team", "value", "currency", "order_id", "lead_notes", "next_follow_up", "lost_reason",
    }
)  # fmt: skip
TARGETS = LIST_FIELDS | SCALAR_FIELDS
"""Fields a column may feed (plus ``fields.KEY`` for a custom field)."""

IGNORED = frozenset(
    {
        "id", "created_at", "updated_at", "version", "outcome", "converted_at", "closed_at",
        "last_contacted_at", "parent_id", "merged_into",
    }
)  # fmt: skip
"""Columns an export writes that an import does not take (the store decides them)."""

_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["name", "fullname", "customer", "customername", "contact", "contactname", "client",
         "clientname", "company", "companyname", "displayname"], "name"),
    **dict.fromkeys(["firstname", "givenname", "forename"], "first_name"),
    **dict.fromkeys(["lastname", "surname", "familyname"], "last_name"),
    **dict.fromkeys(
        ["email", "emails", "emailaddress", "mail", "workemail", "personalemail",
         "emailaddresses"], "emails"),
    **dict.fromkeys(
        ["phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone", "mobilephone",
         "phonenumber", "workphone", "homephone", "mobilenumber", "landline"], "phones"),
    **dict.fromkeys(["whatsapp", "whatsappnumber", "wa"], "whatsapp"),
    **dict.fromkeys(["country", "countrycode", "nation"], "country"),
    **dict.fromkeys(["status", "stage", "leadstatus"], "status"),
    **dict.fromkeys(["folder", "list", "group"], "folder"),
    **dict.fromkeys(["tags", "tag", "labels", "label"], "tags"),
    **dict.fromkeys(["source", "leadsource", "origin", "channel"], "source"),
    **dict.fromkeys(["team"], "team"),
    **dict.fromkeys(["workers", "owner", "owners", "assignedto", "assignee", "salesrep"], "workers"),
    **dict.fromkeys(["value", "dealvalue", "amount", "dealamount", "dealsize"], "value"),
    **dict.fromkeys(["currency"], "currency"),
    **dict.fromkeys(["orderid", "order", "ordernumber"], "order_id"),
    **dict.fromkeys(["notes", "note", "leadnotes", "comments", "comment", "description"], "lead_notes"),
    **dict.fromkeys(["nextfollowup", "followup", "followupdate"], "next_follow_up"),
    **dict.fromkeys(["lostreason"], "lost_reason"),
}  # fmt: skip
_FOLD = re.compile(r"[^0-9a-z]+")
_TAG_SPLIT = re.compile(r"[,;]")
_LIST_SPLIT = re.compile(r"[;\n]")

IGNORE = "-"
"""The ``--map`` target that drops a column."""


def synonym(header: str) -> str | None:
    """The field a header maps to by default, or None if unknown."""
    text = header.strip()
    if text.lower().startswith("fields.") and len(text) > len("fields."):
        return "fields." + text[len("fields.") :]
    folded = _FOLD.sub("", text.lower())
    if folded in _SYNONYMS:
        return _SYNONYMS[folded]
    return IGNORE if folded.replace("_", "") in {_FOLD.sub("", i) for i in IGNORED} else None


def parse_map(pairs: Mapping[str, str] | list[str] | tuple[str, ...]) -> dict[str, str]:
    """``Header=field`` texts (or a mapping) checked: each target a known field, ``fields.KEY`` or ``-``."""
    items = (
        list(pairs.items()) if isinstance(pairs, Mapping) else [_split_pair(text) for text in pairs]
    )
    result: dict[str, str] = {}
    for header, target in items:
        target = target.strip()
        custom = target.startswith("fields.") and len(target) > len("fields.")
        if target not in TARGETS and target != IGNORE and not custom:
            known = ", ".join(sorted(TARGETS))
            raise InvalidValue(
                f"--map {header}={target}: unknown field {target!r}; use one of {known},"
                " fields.KEY for a custom field, or - to ignore the column"
            )
        result[header.strip()] = target
    return result


def _split_pair(text: str) -> tuple[str, str]:
    header, sep, target = text.rpartition("=")
    if not sep or not header.strip():
        raise InvalidValue(f"--map {text!r} is not Header=field")
    return header, target


@attrs.frozen
class Draft:
    """A row that passed validation: the customer it makes, its contact keys, its search terms.

    ``terms`` and ``row`` (the store's row of the customer) are None until the
    customer is final (see ``drafting``).
    """

    line: int
    customer: Customer
    keys: tuple[ContactKey, ...]
    terms: SearchDocument | None = None
    row: tuple[Any, ...] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Drafts cross from worker processes: plain arguments pickle fastest.
        return (Draft, (self.line, self.customer, self.keys, self.terms, self.row))


class RowMapper:
    """Turns rows into draft customers; remembers each header's target and the unknown ones."""

    def __init__(
        self,
        file: str,
        overrides: Mapping[str, str],
        *,
        keep_unknown: bool,
        region: str | None,
        options: NormalizeOptions,
    ) -> None:
        self.file = file
        self.overrides = {k.casefold(): v for k, v in overrides.items()}
        self.keep_unknown = keep_unknown
        self.region = region.upper() if region else None
        self.options = options
        self.unknown: dict[str, None] = {}
        self._targets: dict[str, str] = {}

    def target(self, header: str) -> str:
        """The field a header feeds (``-``: none)."""
        found = self._targets.get(header)
        if found is None:
            found = self.overrides.get(header.strip().casefold()) or synonym(header)
            if found is None:
                self.unknown.setdefault(header)
                found = f"fields.{header.strip()}" if self.keep_unknown else IGNORE
            self._targets[header] = found
        return found

    def known_headers(self) -> list[str]:
        """Every header seen so far."""
        return list(self._targets)

    def header_for(self, target: str) -> str | None:
        """The header that feeds ``target`` (the first one seen), for messages."""
        return next((h for h, t in self._targets.items() if t == target), None)

    def check_headers(self, headers: list[str]) -> None:
        """Refuse two columns feeding one single-valued field (lists and custom fields differ)."""
        fed: dict[str, str] = {}
        for header in headers:
            target = self.target(header)
            if target in SCALAR_FIELDS or target.startswith("fields."):
                if target in fed:
                    raise InvalidValue(
                        f"{self.file}: columns {fed[target]!r} and {header!r} both map to"
                        f' {target}; map one elsewhere with --map "{header}=-"'
                    )
                fed[target] = header

    def draft(self, line: int, values: Mapping[str, Any]) -> Draft:
        """The draft customer of one row; ``ImportRowError`` naming the column if it is invalid."""
        fields: dict[str, Any] = {}
        lists: dict[str, list[str]] = {name: [] for name in LIST_FIELDS}
        custom: dict[str, Any] = {}
        where: dict[str, str] = {}
        for header, value in values.items():
            target = self.target(header)
            if target == IGNORE or value is None or value == "" or value == []:
                continue
            where.setdefault(target, header)
            if target.startswith("fields."):
                custom[target[len("fields.") :]] = _plain(value)
            elif target in LIST_FIELDS:
                lists[target].extend(self._items(target, value))
            else:
                fields[target] = value if isinstance(value, str) else _plain(value)
        try:
            customer = self._customer(fields, lists, custom, where)
        except InvalidValue as error:
            raise ImportRowError(
                self.file, line, getattr(error, "column", None), str(error)
            ) from None
        try:
            keys = customer_keys(customer, self.options, strict=True)
        except InvalidValue as error:
            raise ImportRowError(self.file, line, where.get("emails"), str(error)) from None
        return Draft(line, customer, keys)

    def _items(self, target: str, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(_plain(v)) for v in value if v not in (None, "")]
        text = str(_plain(value))
        if target == "tags":
            return _TAG_SPLIT.split(text)
        if target == "emails" and "," in text and text.count("@") > 1 and '"' not in text:
            return _LIST_SPLIT.split(text.replace(",", ";"))
        return _LIST_SPLIT.split(text)

    def _customer(
        self,
        fields: dict[str, Any],
        lists: dict[str, list[str]],
        custom: dict[str, Any],
        where: dict[str, str],
    ) -> Customer:
        first, last = fields.pop("first_name", None), fields.pop("last_name", None)
        if "name" not in fields and (first or last):
            fields["name"] = " ".join(str(p).strip() for p in (first, last) if p)
        if not str(fields.get("name", "")).strip():
            column = where.get("name") or where.get("first_name") or self.header_for("name")
            raise _at(column, "the row has no name")
        if "country" in fields:
            fields["country"] = _with(where["country"], country_code, fields["country"])
        elif self.region is not None:
            fields["country"] = self.region
        if "value" in fields:
            fields["value"] = _with(where["value"], _decimal, fields["value"])
        if "next_follow_up" in fields:
            fields["next_follow_up"] = _with(
                where["next_follow_up"], _date, fields["next_follow_up"]
            )
        for name in ("currency", "status", "whatsapp"):
            if name in fields:
                fields[name] = str(fields[name]).strip()
        for name in ("emails", "phones"):
            for item in lists[name]:
                if len(item) > 320:
                    raise _at(where.get(name), f"{item[:40]!r}... is too long for a contact")
        values: dict[str, Any] = {**{k: v for k, v in lists.items() if v}, **fields}
        try:
            return Customer(fields=custom, **values)
        except InvalidValue as error:
            column = _column_of(str(error), where)
            raise _at(column, str(error)) from None


def _plain(value: Any) -> Any:
    """A JSON value as import takes it: numbers and text as they are, lists of text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        raise InvalidValue(f"a nested object {str(value)[:40]} cannot be a customer value")
    return value


class _ColumnError(InvalidValue):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column


def _at(column: str | None, reason: str) -> _ColumnError:
    return _ColumnError(column, reason)


def _with(column: str, parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except InvalidValue as error:
        raise _at(column, str(error)) from None


def _column_of(message: str, where: dict[str, str]) -> str | None:
    for target in ("currency", "country", "value", "whatsapp", "custom field"):
        if message.startswith(target) or target in message.split(" ")[:2]:
            return where.get("fields." if target == "custom field" else target)
    return None


def _decimal(value: Any) -> Decimal:
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise InvalidValue(f"{value!r} is not a finite number")
    return number


def _date(value: Any) -> date:
    text = str(value).strip()
    try:
        if len(text) > 10:
            return datetime.fromisoformat(text).date()
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{value!r} is not a date (use YYYY-MM-DD)") from None


def country_code(value: Any) -> str:
    """An ISO 3166 two-letter code from a code or an English country name ("UK" is GB)."""
    text = str(value).strip()
    if text.upper() in country_codes():
        return text.upper()
    found = _country_names().get(_FOLD.sub("", text.lower()))
    if found is None:
        raise InvalidValue(f"country {text!r} is neither an ISO code nor a country name we know")
    return found


@cache
def _country_names() -> dict[str, str]:
    import phonenumbers
    from phonenumbers.geodata.locale import LOCALE_DATA

    names: dict[str, str] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        english = LOCALE_DATA.get(region, {}).get("aa")
        if english and not english.startswith("*"):
            names[_FOLD.sub("", english.lower())] = region
    aliases = {
        "uk": "GB", "greatbritain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
        "usa": "US", "unitedstatesofamerica": "US", "america": "US", "uae": "AE",
        "holland": "NL", "thenetherlands": "NL", "southkorea": "KR", "russia": "RU",
        "czechia": "CZ", "vietnam": "VN",
    }  # fmt: skip
    names.update(aliases)
    return names
