"""Column mapping: which customer field each header feeds, and a row turned into a draft customer.

Headers map through common synonyms ("Full Name", "E-mail", "Mobile"...), then
``--map Header=field`` (or ``fields.custom_key``, or ``-`` to ignore) overrides.
Cells stay text unless the target is typed (deal value, follow-up date), so
leading zeros and phone numbers are never mangled; an empty cell means none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, NamedTuple

import attrs

from pipeline_core.customer import Customer, country_codes
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, customer_keys
from pipeline_core.domain.search import SearchDocument
from pipeline_core.errors import ImportRowError, InvalidValue
from pipeline_core.importing.synonyms import IGNORED_HEADERS, fold, lookup

LIST_FIELDS = frozenset({"emails", "phones", "tags", "workers"})
HISTORY_FIELDS = frozenset({"created_at", "converted_at", "closed_at", "last_contacted_at"})
"""Timestamps an import takes from the file (the customer's history), validated."""
SCALAR_FIELDS = frozenset(
    {
        "name", "first_name", "middle_name", "last_name", "company", "whatsapp", "country",
        "status", "folder", "source", "team", "value", "currency", "order_id", "lead_notes",
        "next_follow_up", "lost_reason", "outcome", "id", "parent_id", *HISTORY_FIELDS,
    }
)  # fmt: skip
TARGETS = LIST_FIELDS | SCALAR_FIELDS
"""Fields a column may feed (plus ``fields.KEY`` for a custom field)."""

COMPANY_FIELD = "company"
"""The custom field a person's company goes to (see ``RowMapper``)."""

_TAG_SPLIT = re.compile(r"[,;]|:::")
_LIST_SPLIT = re.compile(r"[;\n]")
_QUOTED = re.compile(r'^"(.*)"$', re.DOTALL)

IGNORE = "-"
"""The ``--map`` target that drops a column."""


def synonym(header: str) -> str | None:
    """The field a header maps to by default, or None if unknown."""
    found = ranked(header)
    return None if found is None else found[0]


def ranked(header: str) -> tuple[str, int] | None:
    """The field a header maps to by default and its rank (lower: more specific), or None."""
    text = header.strip()
    if text.lower().startswith("fields.") and len(text) > len("fields."):
        return "fields." + text[len("fields.") :], 0
    if fold(text) in _IGNORED:
        return IGNORE, 0
    return lookup(text)


_IGNORED = frozenset(fold(header) for header in IGNORED_HEADERS)


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


def parse_status_map(pairs: Mapping[str, str] | list[str] | tuple[str, ...]) -> dict[str, str]:
    """``Value=Status`` texts (or a mapping): a file's status values -> the workspace's statuses."""
    items = (
        list(pairs.items()) if isinstance(pairs, Mapping) else [_split_pair(text) for text in pairs]
    )
    result: dict[str, str] = {}
    for value, status in items:
        if not value.strip() or not status.strip():
            raise InvalidValue(f"--map-status {value}={status}: give VALUE=STATUS, neither blank")
        result[value.strip()] = status.strip()
    return result


def _split_pair(text: str) -> tuple[str, str]:
    header, sep, target = text.rpartition("=")
    if not sep or not header.strip():
        raise InvalidValue(f"--map {text!r} is not Header=field")
    return header, target


@attrs.frozen
class Draft:
    """A row that passed validation: the customer it makes and its contact keys (valid or not).

    ``notes`` are what the import summary reports about the row without refusing
    it: ``("owner", text)`` for an owner no user matches, ``("phone", text)`` for a
    phone that cannot be read; and the file's ``("id", text)`` and
    ``("parent_id", text)``, to link parents.
    """

    line: int
    customer: Customer
    keys: tuple[ContactKey, ...]
    notes: tuple[tuple[str, str], ...] = ()


class LeanDraft(NamedTuple):
    """A checked row as the writer takes it: what the store inserts, and no ``Customer``.

    ``rows`` is the store's encoding of the final customer (``Transaction.row_encoder``),
    ``keys`` its valid contact keys, ``document`` its search document, ``status`` the
    status it enters (its ``created`` event names it), ``notes`` as ``Draft``'s. The
    rare row that needs its ``Customer`` again (a duplicate under the update or
    merge policy, a company to link) is drafted again from its cells by the writer.
    A named tuple: it crosses from the worker processes, and a tuple pickles fastest.
    """

    line: int
    status: str
    rows: tuple[Any, ...]
    keys: tuple[ContactKey, ...]
    document: SearchDocument
    notes: tuple[tuple[str, str], ...] = ()


OWNERS_KEPT = 10_000
"""Distinct owner texts an import remembers the match of (a file names a few, on many rows)."""


class Owners:
    """Owner texts of a file (a name, a full name or an email) matched to the workspace's users.

    An owner is a user when, ignoring case, it is the user's name; or its letters and
    digits are the user's (``Ann Lee`` is ``ann.lee``); or it is an email address
    whose local part is the user's name; or its first word is the user's whole name.
    """

    def __init__(self, users: tuple[str, ...]) -> None:
        self.exact = {user.casefold(): user for user in users}
        self.folded = {fold(user): user for user in users if fold(user)}
        self.seen: dict[str, str | None] = {}  # a file names a few owners on many rows

    def match(self, owner: str) -> str | None:
        """The user ``owner`` names, or None."""
        if owner in self.seen:
            return self.seen[owner]
        found = self._match(owner)
        if len(self.seen) < OWNERS_KEPT:
            self.seen[owner] = found
        return found

    def _match(self, owner: str) -> str | None:
        text = owner.strip()
        found = self.exact.get(text.casefold()) or self.folded.get(fold(text))
        if found is None and "@" in text:
            local = text.rpartition("@")[0]
            found = self.exact.get(local.casefold()) or self.folded.get(fold(local))
        if found is None and " " in text:
            found = self.exact.get(text.split()[0].casefold())
        return found


class RowMapper:
    """Turns rows into draft customers; remembers each header's target and the unknown ones.

    Two columns claiming one single-valued field are settled by ``resolve``: the
    more specific header (earlier in ``pipeline_core.importing.synonyms.HEADERS``)
    wins, the leftmost on a tie, and the other goes to a custom field named after
    its header, listed in ``kept``. ``--map`` targets beat any synonym.
    """

    def __init__(
        self,
        file: str,
        overrides: Mapping[str, str],
        *,
        keep_unknown: bool,
        region: str | None,
        options: NormalizeOptions,
        status_map: Mapping[str, str] | None = None,
        users: tuple[str, ...] = (),
        kept: Mapping[str, str] | None = None,
    ) -> None:
        self.file = file
        self.overrides = {k.strip().casefold(): v for k, v in overrides.items()}
        self.keep_unknown = keep_unknown
        self.region = region.upper() if region else None
        self.options = options
        self.status_map = {k.strip().casefold(): v.strip() for k, v in (status_map or {}).items()}
        self.owners = Owners(users)
        self.unknown: dict[str, None] = {}
        self.kept: dict[str, str] = dict(kept or {})
        self._targets: dict[str, str] = {}
        self._claims: dict[str, str] = {}  # single-valued target -> the header feeding it

    def target(self, header: str) -> str:
        """The field a header feeds (``-``: none)."""
        found = self._targets.get(header)
        if found is None:
            explicit = self.overrides.get(header.strip().casefold())
            found = explicit or synonym(header)
            if found is None:
                self.unknown.setdefault(header)
                found = f"fields.{header.strip()}" if self.keep_unknown else IGNORE
            elif explicit is None and _single(found) and found in self._claims:
                # A header first seen in a later row (JSON) for a field already fed.
                found = self.kept.setdefault(header, f"fields.{header.strip()}")
            if _single(found):
                self._claims.setdefault(found, header)
            self._targets[header] = found
        return found

    def known_headers(self) -> list[str]:
        """Every header seen so far."""
        return list(self._targets)

    def header_for(self, target: str) -> str | None:
        """The header that feeds ``target`` (the first one seen), for messages."""
        return next((h for h, t in self._targets.items() if t == target), None)

    def resolve(self, headers: list[str]) -> dict[str, str]:
        """Each header that loses its field to a more specific one -> the custom field it feeds.

        Raises ``InvalidValue`` when two ``--map`` entries send columns to one field.
        """
        claims: dict[str, tuple[int, str]] = {}
        kept: dict[str, str] = {}
        for header in headers:
            explicit = self.overrides.get(header.strip().casefold())
            found = (explicit, -1) if explicit is not None else ranked(header)
            if found is None or not _single(found[0]):
                continue
            target, rank = found
            if target not in claims:
                claims[target] = (rank, header)
                continue
            rank_before, before = claims[target]
            if rank == rank_before == -1:
                raise InvalidValue(
                    f"{self.file}: --map sends both {before!r} and {header!r} to {target};"
                    " map one of them elsewhere"
                )
            loser = header
            if rank < rank_before:
                claims[target], loser = (rank, header), before
            kept[loser] = f"fields.{loser.strip()}"
        return kept

    def check_headers(self, headers: list[str]) -> None:
        """Settle columns claiming one field (see ``resolve``) and remember what was kept."""
        for header, field in self.resolve(headers).items():
            self.overrides[header.strip().casefold()] = field
            self.kept[header] = field
        for header in headers:
            self.target(header)

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
        # The file's own ids: not the new customers' (the store gives those), but what
        # parent_id cells refer to, linked once both rows are in (import_parents).
        notes: list[tuple[str, str]] = [
            (name, str(_plain(fields.pop(name)))) for name in ("id", "parent_id") if name in fields
        ]
        try:
            lists["workers"] = self._workers(lists["workers"], notes)
            customer = self._customer(fields, lists, custom, where)
        except InvalidValue as error:
            raise ImportRowError(
                self.file, line, getattr(error, "column", None), str(error)
            ) from None
        try:
            keys = customer_keys(customer, self.options, strict=True)
        except InvalidValue as error:
            column = getattr(error, "column", None) or where.get("emails")
            raise ImportRowError(self.file, line, column, str(error)) from None
        notes += [("phone", key.key) for key in keys if key.kind == "phone" and not key.valid]
        return Draft(line, customer, keys, notes=tuple(notes))

    def _workers(self, owners: list[str], notes: list[tuple[str, str]]) -> list[str]:
        workers = []
        for owner in owners:
            user = self.owners.match(owner)
            if user is None and owner.strip():
                notes.append(("owner", owner.strip()))
            workers.append(user or owner)
        return workers

    def _items(self, target: str, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(_plain(v)) for v in value if v not in (None, "")]
        text = str(_plain(value))
        if target == "tags":
            # Mailchimp writes each tag quoted ("Customer","VIP"); the quotes are not the tag's.
            return [_unquoted(tag.strip()) for tag in _TAG_SPLIT.split(text)]
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
        parts = [fields.pop(part, None) for part in ("first_name", "middle_name", "last_name")]
        company = fields.pop("company", None)
        if "name" not in fields and any(parts):
            fields["name"] = " ".join(str(p).strip() for p in parts if p)
        if str(fields.get("name", "")).strip():
            # A person with a company: the person is the customer, the company a field of it.
            if company is not None and str(company).strip() != str(fields["name"]).strip():
                custom.setdefault(COMPANY_FIELD, _plain(company))
        elif company is not None and str(company).strip():
            fields["name"] = str(company)  # no person: the row is the company itself
        else:
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
        for name in HISTORY_FIELDS & fields.keys():
            fields[name] = _with(where[name], timestamp, fields[name])
        if "outcome" in fields:
            fields["outcome"] = _with(where["outcome"], _outcome, fields["outcome"])
        for name in ("currency", "status", "whatsapp"):
            if name in fields:
                fields[name] = str(fields[name]).strip()
        if "status" in fields:
            fields["status"] = self.status_map.get(fields["status"].casefold(), fields["status"])
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


def _single(target: str) -> bool:
    """Whether a target holds one value (a second column for it would overwrite the first)."""
    return target in SCALAR_FIELDS or target.startswith("fields.")


def _unquoted(text: str) -> str:
    found = _QUOTED.match(text)
    return found.group(1).strip() if found else text


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
    text = _iso(value)
    try:
        if len(text) > 10:
            return datetime.fromisoformat(text).date()
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{value!r} is not a date (use YYYY-MM-DD)") from None


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})")


def _iso(value: Any) -> str:
    """``YYYY/MM/DD`` as ``YYYY-MM-DD``, a trailing ``Z`` as ``+00:00``; other text stripped."""
    text = str(value).strip()
    slashed = _SLASHED.match(text)
    if slashed:
        year, month, day = slashed.groups()
        text = f"{year}-{int(month):02}-{int(day):02}{text[slashed.end() :]}"
    return text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text


def timestamp(value: Any) -> datetime:
    """A history date or date-time from a file: ISO 8601 (``T`` or a space), UTC unless it says.

    A date alone is midnight UTC; ``YYYY/MM/DD`` is read as ISO too. Day-first or
    month-first dates (``03/05/2024``) are refused, not guessed.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    text = _iso(value)
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(
            f"{value!r} is not a date or date-time we can read without guessing;"
            " use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+HH:MM]"
        ) from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _outcome(value: Any) -> str:
    text = str(value).strip().casefold()
    for outcome in ("won", "lost"):
        if text in (outcome, f"closed {outcome}", f"closed-{outcome}"):
            return outcome
    raise InvalidValue(f"outcome {value!r} is neither won nor lost")


def country_code(value: Any) -> str:
    """An ISO 3166 two-letter code from a code or an English country name ("UK" is GB)."""
    text = str(value).strip()
    if text.upper() in country_codes():
        return text.upper()
    found = _country_names().get(fold(text))
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
            names[fold(english)] = region
    aliases = {
        "uk": "GB", "greatbritain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
        "usa": "US", "unitedstatesofamerica": "US", "america": "US", "uae": "AE",
        "holland": "NL", "thenetherlands": "NL", "southkorea": "KR", "russia": "RU",
        "czechia": "CZ", "vietnam": "VN",
    }  # fmt: skip
    names.update(aliases)
    return names
