"""Normalized contact keys: phones and WhatsApp to E.164, emails to one canonical address.

Pure functions, no I/O. A key is what duplicate detection compares and what the
stores index; the text the user typed is kept on the customer and never
replaced by its key. A phone that cannot be read is kept as typed, flagged
invalid and never matched. A malformed email is an error (``InvalidValue``) in
``normalize_email``; ``email_key`` is the lenient form stores use on legacy data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal

import attrs

from pipeline_core.customer import Customer
from pipeline_core.errors import InvalidValue

if TYPE_CHECKING:
    # phonenumbers (with phone_check's tables) and email-validator load inside the
    # functions that read a phone or an email: a command that reads none (a board, a
    # move) does not pay the ~50 ms of importing them.
    import phonenumbers

KeyKind = Literal["phone", "email"]
"""What a key compares: WhatsApp numbers are phones, so they match phones."""

CACHE_SIZE = 1 << 16
"""Entries kept per cache; imports repeat the same numbers and addresses often."""

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

EMAIL_MAX_LENGTH = 254
"""The longest address (RFC 3696 errata 1690), the limit email-validator's own check uses."""


# cache_hash: an import hashes each key several times (matching, the batch's own keys).
@attrs.frozen(order=True, cache_hash=True)
class ContactKey:
    """A normalized contact: ``key`` is E.164 (never an extension) or an address; as typed if invalid."""

    kind: KeyKind
    key: str
    valid: bool = True

    def __reduce__(self) -> tuple[Any, ...]:
        # Plain arguments pickle several times faster than attrs' state dict (imports
        # send keys between processes).
        return (ContactKey, (self.kind, self.key, self.valid))


@attrs.frozen
class NormalizeOptions:
    """Workspace settings that change keys: the default phone region and gmail folding."""

    default_region: str | None = None
    fold_gmail: bool = False


# phones -----------------------------------------------------------------------------

_SEPARATORS = str.maketrans("", "", " \t.-()/\u00a0\u2010\u2011\u2012\u2013\u2014")
_COMPACT = re.compile(r"\+?[0-9]+")


def normalize_phone(text: str, region: str | None = None, *, whatsapp: bool = False) -> ContactKey:
    """A phone number's contact key: E.164, reading a number without country code in ``region``.

    International prefixes (``+``, ``00``, ``011`` from the US...) and any
    separators are understood. An extension (``ext. 99``, ``x99``) is left out of
    the key: it is usually the same line, so ``+1 415 555 0132 ext. 99`` is a
    duplicate of ``+1 415 555 0132`` (the customer keeps the text as typed). With
    ``whatsapp``, a number written with its country code but no ``+`` is read as
    international. Never raises: an unreadable or invalid number comes back as
    typed, ``valid=False``.
    """
    typed = text.strip()
    compact = typed.translate(_SEPARATORS)
    if _COMPACT.fullmatch(compact):
        # Digits alone (most numbers): no extension to leave out.
        return _phone(compact, _region(region), whatsapp) or ContactKey("phone", typed, False)
    found = _phone(typed, _region(region), whatsapp)
    if found is None:
        return ContactKey("phone", typed, False)
    return ContactKey("phone", found.key.partition(";")[0]) if ";" in found.key else found


def phone_with_extension(
    text: str, region: str | None = None, *, whatsapp: bool = False
) -> ContactKey:
    """``normalize_phone`` with an extension kept as ``;ext=N``: the line as dialled.

    Not a contact key: merging uses it so that two extensions of one number both
    survive in the merged record's phones.
    """
    typed = text.strip()
    compact = typed.translate(_SEPARATORS)
    # Caching on the compact form lets every formatting variant share one entry.
    if _COMPACT.fullmatch(compact):
        return _phone(compact, _region(region), whatsapp) or ContactKey("phone", typed, False)
    return _phone(typed, _region(region), whatsapp) or ContactKey("phone", typed, False)


def _region(region: str | None) -> str | None:
    return region.upper() if region else None


@lru_cache(maxsize=CACHE_SIZE)
def _phone(text: str, region: str | None, whatsapp: bool) -> ContactKey | None:
    found = None
    if whatsapp and _digits(text[:1]) and not text.startswith("0"):
        found = _parse("+" + text, None)
    elif text.startswith("00") and _digits(text[2:]) and _00_is_international(text, region):
        found = _parse("+" + text[2:], None)
    elif region is not None and _digits(text):
        found = _from_national(text, region)
    if found is None:
        found = _parse(text, region)
    if found is None and text.startswith("00"):
        # 00 is the international prefix of most of the world, even where the region's is not.
        found = _parse("+" + text[2:], None)
    return found


def _parse(text: str, region: str | None) -> ContactKey | None:
    import phonenumbers

    quick: ContactKey | Literal[False] | None = False
    if text[:1] == "+" and _digits(text[1:]):
        quick = _from_digits(text[1:])
    elif region is not None and _digits(text):
        quick = _from_unprefixed(text, region)
    if quick is not False:
        return quick
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not _valid(number, region):
        return None
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.extension:
        key += f";ext={number.extension}"
    return ContactKey("phone", key)


def _from_digits(digits: str) -> ContactKey | Literal[False] | None:
    """``+digits`` without the full parser (it is most of the cost); False: use the parser.

    Country codes are prefix-free, so the first 1-3 digits that form one are it.
    A national part that starts with 0 (Italy) or with the country's national
    prefix (which the parser may strip) is left to the parser.
    """
    import phonenumbers

    if digits[:1] in ("", "0"):
        return False
    for size in (1, 2, 3):
        code = int(digits[:size])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            break
    else:
        return None
    national = digits[size:]
    if not national or national[0] == "0" or _national_prefix(code, regions[0], national):
        return False
    # The national part has no leading zero, so it is its own national significant number.
    if not _valid_nsn(code, national, regions[0]):
        return None
    return ContactKey("phone", f"+{digits}")


def _digits(text: str) -> bool:
    # str.isdigit alone accepts other scripts' digits ('¹', '٣'), which int() may refuse.
    return text.isascii() and text.isdigit()


def _from_national(digits: str, region: str) -> ContactKey | None:
    """A national number with a national prefix, read without the parser if plainly safe, else None.

    Safe: the digits start neither with the region's international prefix nor
    with its country code (cases the parser treats specially), the national
    prefix they start with is one the parser only strips (no rewriting), and the
    result is valid; the parser would then strip the same prefix and find the
    same number. Anything else (None) goes to ``_parse``, which reads digits
    without any prefix itself (``_from_unprefixed``).
    """
    rules = _national_rules(region)
    if rules is None:
        return None
    code, idd, prefix, _, transforms = rules
    if digits.startswith(str(code)) or (idd is not None and idd.match(digits)):
        return None
    stripped = prefix.match(digits) if prefix is not None else None
    if not stripped or transforms:
        # No prefix: _parse's case. A prefix the parser may rewrite (Brazilian carrier codes...).
        return None
    national = digits[stripped.end() :]
    if not national or national[0] == "0":
        return None
    if not _valid_nsn(code, national, region):
        return None
    return ContactKey("phone", f"+{code}{national}")


def _from_unprefixed(digits: str, region: str) -> ContactKey | Literal[False] | None:
    """Digits with no prefix of any kind read in ``region`` without the parser; False: use it.

    When they start with neither the region's international prefix, nor its
    country code, nor its national prefix, and not with 0 (an Italian zero), the
    parser keeps the digits whole as the national number (or fails when there
    are fewer than 2 or more than 17), so validity alone decides, valid or not.
    """
    import phonenumbers

    if region not in phonenumbers.SUPPORTED_REGIONS or digits[:1] in ("", "0"):
        return False
    rules = _national_rules(region)
    if rules is None:
        return False
    code, idd, prefix, _, _ = rules
    if (
        digits.startswith(str(code))
        or (idd is not None and idd.match(digits))
        or (prefix is not None and prefix.match(digits))
    ):
        return False
    if not 2 <= len(digits) <= 17 or not _valid_nsn(code, digits, region):
        return None
    return ContactKey("phone", f"+{code}{digits}")


@cache
def _national_rules(region: str) -> _Rules | None:
    """(country code, international prefix, national prefix for parsing, prefix text, transforms)."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None:
        return None
    idd = metadata.international_prefix
    prefix = metadata.national_prefix_for_parsing
    return (
        metadata.country_code,
        re.compile(idd) if idd else None,
        re.compile(prefix) if prefix else None,
        idd,
        bool(metadata.national_prefix_transform_rule),
    )


_Rules = tuple[int, re.Pattern[str] | None, re.Pattern[str] | None, str | None, bool]


def _00_is_international(text: str, region: str | None) -> bool:
    """Whether a number starting 00 is read as ``+`` and the rest before anything else.

    True without a region and where 00 is the region's international prefix (the
    parser would do the same, at more cost). Elsewhere the parser reads it in the
    region first, and its reading wins when it is valid: in Japan, whose prefix is
    010, ``0066 33 123456`` is a freephone number, not a Thai one. Only a number
    the region cannot read is then taken as ``+`` and the rest (``_phone``).
    """
    if region is None:
        return True
    rules = _national_rules(region)
    if rules is None:
        return False
    return rules[3] == "00" or rules[1] is None


_PREFIXES: dict[int, re.Pattern[str] | None] = {}


def _national_prefix(code: int, region: str, national: str) -> bool:
    import phonenumbers

    if code not in _PREFIXES:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        pattern = metadata.national_prefix_for_parsing if metadata else None
        _PREFIXES[code] = re.compile(pattern) if pattern else None
    prefix = _PREFIXES[code]
    return prefix is not None and prefix.match(national) is not None


def _valid(number: phonenumbers.PhoneNumber, hint: str | None) -> bool:
    """``phonenumbers.is_valid_number`` (``phone_check``'s exact copy), likely region first."""
    from pipeline_core.domain import phone_check

    return _valid_nsn(number.country_code, phone_check.national_significant_number(number), hint)


def _valid_nsn(code: int | None, nsn: str, hint: str | None) -> bool:
    """``_valid`` of a country code and national significant number, with no number built.

    The library first finds the number's region (testing each region of a shared
    country code such as +1) and then tests that region again; a number valid
    in a region of its country code is valid, so one test usually settles it.
    """
    import phonenumbers

    from pipeline_core.domain import phone_check

    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code or 0, ())
    if hint in regions:
        if phone_check.nsn_valid_for_region(code, nsn, hint):
            return True
        if len(regions) == 1:
            return False
    elif len(regions) == 1:
        return phone_check.nsn_valid_for_region(code, nsn, regions[0])
    return phone_check.nsn_valid(code, nsn)


def international(text: str, region: str | None) -> str | None:
    """A valid national number rewritten with its country code (``+44 20 ...``), else None.

    Used when a number moves to a record whose region would read it differently.
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(text, _region(region))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# emails -----------------------------------------------------------------------------

_ANGLE = re.compile(r'\s*(?:"(?:[^"\\]|\\.)*"|[^<>"]*?)\s*<([^<>]*)>\s*')
_SPLIT = re.compile(r"[\s,;<>]")


def normalize_email(text: str, *, fold_gmail: bool = False) -> ContactKey | None:
    """An email address as its key; None when ``text`` is blank.

    Takes the address out of ``"Display Name" <addr>``, checks it with
    email-validator, lowercases the domain (IDNA 2008 / UTS-46 to punycode) and an
    ASCII local part. Invisible and control characters are refused. With ``fold_gmail``, dots and a
    ``+tag`` in a gmail local part are dropped. A string holding two addresses
    or none raises ``InvalidValue`` naming it.
    """
    return _email(text, fold_gmail)


@lru_cache(maxsize=CACHE_SIZE)
def _email(text: str, fold_gmail: bool) -> ContactKey | None:
    from email_validator import EmailSyntaxError, syntax

    typed = text.strip()
    if not typed:
        return None
    match = _ANGLE.fullmatch(typed)
    address = match.group(1).strip() if match else typed
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    ats = address.count("@")
    if ats > 1 or (ats == 1 and typed.count("@") > 1 and not match):
        raise InvalidValue(f"{typed!r} holds more than one email address; give one per entry")
    local, _, domain = address.rpartition("@")
    if ats != 1 or not local or not domain or _SPLIT.search(address):
        raise InvalidValue(f"{typed!r} is not an email address")
    if not address.isascii():
        _visible(address, typed)
        local = unicodedata.normalize("NFC", local)
    try:
        # email-validator (the field's reference) checks the syntax; the domain is IDNA
        # 2008 / UTS-46, so straße.de and strasse.de stay two domains.
        syntax.validate_email_local_part(local, allow_smtputf8=True)
    except EmailSyntaxError as error:
        raise InvalidValue(f"{typed!r} is not an email address: {error}") from None
    domain = _domain(domain.rstrip("."), typed)
    if len(local) + 1 + len(domain) > EMAIL_MAX_LENGTH:
        raise InvalidValue(f"{typed!r} is not an email address: it is too long")
    local = local.lower() if local.isascii() else local
    if fold_gmail and domain in GMAIL_DOMAINS:
        local = local.partition("+")[0].replace(".", "")
        domain = "gmail.com"
        if not local:
            raise InvalidValue(f"{typed!r} is not an email address")
    return ContactKey("email", f"{local}@{domain}")


def _visible(address: str, typed: str) -> None:
    """Refuse an invisible or control character: the address would not be the one shown."""
    from email_validator import EmailSyntaxError, syntax

    try:
        syntax.check_unsafe_chars(address)
    except EmailSyntaxError as error:
        raise InvalidValue(
            f"{typed!r} is not an email address: {str(error).rstrip('.')}, which a reader"
            " cannot see; type the address again"
        ) from None


def _domain(domain: str, typed: str) -> str:
    from email_validator import EmailSyntaxError

    try:
        return _ascii_domain(domain)
    except EmailSyntaxError as error:
        raise InvalidValue(f"{typed!r} is not an email address: {error}") from None


@lru_cache(maxsize=CACHE_SIZE)
def _ascii_domain(domain: str) -> str:
    """A domain as email-validator reads it (IDNA 2008 / UTS-46), in ASCII and lower case."""
    from email_validator import syntax

    found = syntax.validate_email_domain_name(domain, globally_deliverable=False)
    return str(found["ascii_domain"]).lower()


def email_key(text: str, *, fold_gmail: bool = False) -> ContactKey | None:
    """Like ``normalize_email`` but never raises: a malformed address comes back invalid."""
    try:
        return _email(text, fold_gmail)
    except InvalidValue:
        return ContactKey("email", text.strip(), False)


def clear_caches() -> None:
    """Forget every cached normalization (benchmarks measure a cold start with it)."""
    _phone.cache_clear()
    _email.cache_clear()
    _ascii_domain.cache_clear()


# customers --------------------------------------------------------------------------


def customer_keys(
    customer: Customer, options: NormalizeOptions, *, strict: bool = False
) -> tuple[ContactKey, ...]:
    """Every key of a customer's emails, phones and WhatsApp, valid or not, without repeats.

    Phones are read in the customer's country, else the default region. With
    ``strict``, a malformed email raises ``InvalidValue`` instead of coming back invalid.
    """
    return contact_keys(
        customer.emails,
        customer.phones,
        customer.whatsapp,
        customer.country,
        options,
        strict=strict,
    )


def contact_keys(
    emails: Iterable[str],
    phones: Iterable[str],
    whatsapp: str | None,
    country: str | None,
    options: NormalizeOptions,
    *,
    strict: bool = False,
) -> tuple[ContactKey, ...]:
    """``customer_keys`` from the contact fields alone (for stores re-indexing raw rows)."""
    region = country or options.default_region
    keys: dict[ContactKey, None] = {}
    for email in emails:
        found = (
            normalize_email(email, fold_gmail=options.fold_gmail)
            if strict
            else email_key(email, fold_gmail=options.fold_gmail)
        )
        if found is not None:
            keys.setdefault(found)
    for phone in phones:
        keys.setdefault(normalize_phone(phone, region))
    if whatsapp:
        keys.setdefault(normalize_phone(whatsapp, region, whatsapp=True))
    return tuple(keys)


def index_keys(customer: Customer, options: NormalizeOptions) -> tuple[ContactKey, ...]:
    """The keys a store indexes for a customer: the valid ones only."""
    return tuple(key for key in customer_keys(customer, options) if key.valid)


def describe(keys: Iterable[ContactKey]) -> str:
    """Keys as ``phone +1415..., email a@b.c`` for messages."""
    return ", ".join(f"{key.kind} {key.key}" for key in keys)
