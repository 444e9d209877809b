"""Normalization of phones, WhatsApp numbers and emails: country cases and properties."""

from __future__ import annotations

import os
import re

import email_validator
import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from pipeline_core.customer import Customer
from pipeline_core.domain.normalize import (
    ContactKey,
    NormalizeOptions,
    customer_keys,
    email_key,
    index_keys,
    normalize_email,
    normalize_phone,
    phone_with_extension,
)
from pipeline_core.errors import InvalidValue

REGIONS = ("US", "GB", "DE", "BE", "BR", "FR", "IN", "JP")


def phone(key: str) -> ContactKey:
    return ContactKey("phone", key)


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        # United States: any punctuation, with or without the country code.
        ("+1 (415) 555-0132", None, "+14155550132"),
        ("415.555.0132", "US", "+14155550132"),
        ("(415) 555-0132", "US", "+14155550132"),
        ("1-415-555-0132", "US", "+14155550132"),
        ("415/555/0132", "us", "+14155550132"),
        ("011 44 20 7946 0018", "US", "+442079460018"),  # the US international prefix
        ("0044 20 7946 0018", "US", "+442079460018"),  # 00 even where it is not the prefix
        # An extension is the same line: not part of the key (docs/duplicates.md).
        ("+1 415 555 0132 ext. 7", None, "+14155550132"),
        ("415-555-0132 x7", "US", "+14155550132"),
        ("+1 (415) 555-0132 ext. 99", "US", "+14155550132"),
        # Great Britain: the trunk 0, "(0)" inside international numbers.
        ("020 7946 0018", "GB", "+442079460018"),
        ("+44 (0)20 7946 0018", None, "+442079460018"),
        ("07400 123456", "GB", "+447400123456"),
        ("00 44 7400 123456", None, "+447400123456"),
        # Germany.
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", None, "+49301234567"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("00 49 30 123456", "DE", "+4930123456"),
        # Belgium.
        ("02 555 12 12", "BE", "+3225551212"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("+32 470 12 34 56", "GB", "+32470123456"),
        # Brazil: mobiles carry the extra 9; landlines do not.
        ("(11) 91234-5678", "BR", "+5511912345678"),
        ("+55 11 91234-5678", None, "+5511912345678"),
        ("021 99876-5432", "BR", "+5521998765432"),
        ("0xx11 91234-5678", "BR", "+5511912345678"),
        ("11 3123-4567", "BR", "+551131234567"),
        # A country code wins over the region.
        ("+55 11 91234-5678", "US", "+5511912345678"),
        ("tel:+1-415-555-0132", "DE", "+14155550132"),
    ],
)
def test_country_cases(typed: str, region: str | None, expected: str) -> None:
    assert normalize_phone(typed, region) == phone(expected)


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("415 555 0132", None),  # no country code and no region
        ("(11) 8123-4567", "BR"),  # a Brazilian mobile missing its extra 9
        ("11 1234-5678", "BR"),
        ("12345", "US"),
        ("+999 1234 5678", None),  # no such country code
        ("call me maybe", "GB"),
        ("", "US"),
        ("+", None),
        ("07700 900123", "GB"),  # reserved for drama: not a real number
    ],
)
def test_invalid_numbers_are_kept_as_typed(typed: str, region: str | None) -> None:
    key = normalize_phone(f"  {typed} ", region)
    assert key == ContactKey("phone", typed, valid=False)


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("14155550132", None, "+14155550132"),  # as WhatsApp shows it: country code, no +
        ("5511912345678", "US", "+5511912345678"),
        ("447400123456", "BR", "+447400123456"),
        ("+1 415 555 0132", "GB", "+14155550132"),
        ("020 7946 0018", "GB", "+442079460018"),  # a national number is still national
        ("(11) 91234-5678", "BR", "+5511912345678"),
    ],
)
def test_whatsapp_numbers(typed: str, region: str | None, expected: str) -> None:
    assert normalize_phone(typed, region, whatsapp=True) == phone(expected)


def test_a_plain_phone_without_plus_is_read_nationally() -> None:
    assert not normalize_phone("14155550132", "BR").valid
    assert normalize_phone("14155550132", "US") == phone("+14155550132")


# properties -------------------------------------------------------------------------


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE]))
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = str(example.national_number)
    tail = draw(st.text("0123456789", min_size=3, max_size=3))
    number = phonenumbers.parse(f"+{example.country_code}{digits[:-3]}{tail}", None)
    assume(phonenumbers.is_valid_number(number) and region in _regions(number))
    return region, number


def _regions(number: phonenumbers.PhoneNumber) -> set[str | None]:
    assert number.country_code is not None
    return {
        phonenumbers.region_code_for_number(number),
        *phonenumbers.region_codes_for_country_code(number.country_code),
    }


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


SEPARATORS = st.sampled_from([" ", "-", ".", "/", "(", ")", "", "", ""])


@settings(max_examples=150, deadline=None)
@given(valid_numbers(), st.data())
def test_every_formatting_of_a_valid_number_gives_one_key(
    found: tuple[str, phonenumbers.PhoneNumber], data: st.DataObject
) -> None:
    region, number = found
    e164 = _e164(number)
    expected = phone(e164)
    spaced = "+" + "".join(digit + data.draw(SEPARATORS) for digit in e164[1:])
    variants = [
        (e164, None),
        (spaced, data.draw(st.sampled_from([None, *REGIONS]))),
        ("00" + e164[1:], None),
        (phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), None),
        (phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL), region),
        (phonenumbers.format_number(number, PhoneNumberFormat.RFC3966), "US"),
        (phonenumbers.format_out_of_country_calling_number(number, "US"), "US"),
        (phonenumbers.format_out_of_country_calling_number(number, "DE"), "DE"),
    ]
    for typed, read_in in variants:
        assert normalize_phone(typed, read_in) == expected, (typed, read_in)
    assert normalize_phone(e164[1:], data.draw(st.sampled_from(REGIONS)), whatsapp=True) == expected


@settings(max_examples=150, deadline=None)
@given(valid_numbers(), valid_numbers())
def test_numbers_from_different_countries_never_collide(
    first: tuple[str, phonenumbers.PhoneNumber], second: tuple[str, phonenumbers.PhoneNumber]
) -> None:
    (region_a, a), (region_b, b) = first, second
    assume(a.country_code != b.country_code)
    national = phonenumbers.format_number(a, PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region_a) != normalize_phone(
        phonenumbers.format_number(b, PhoneNumberFormat.NATIONAL), region_b
    )
    # The same digits read in another country are never the first country's number.
    assert normalize_phone(national, region_b) != phone(_e164(a))


TYPED = st.one_of(
    st.text(max_size=25),
    st.text("+0123456789 ()-./x", max_size=25),
    valid_numbers().map(lambda found: _e164(found[1])),
)


@settings(max_examples=300, deadline=None)
@given(TYPED, st.sampled_from([None, *REGIONS]), st.booleans())
def test_phone_normalization_is_idempotent(typed: str, region: str | None, whatsapp: bool) -> None:
    key = normalize_phone(typed, region, whatsapp=whatsapp)
    assert normalize_phone(key.key, region, whatsapp=whatsapp) == key
    if key.valid:
        assert key.key.startswith("+")
        assert normalize_phone(key.key, None) == key  # a key reads the same everywhere
    else:
        assert key.key == typed.strip()


# emails -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM ", "ada@example.com"),
        ("Ada Lovelace <ADA@example.com>", "ada@example.com"),
        ('"Lovelace, Ada" <ada@example.com>', "ada@example.com"),
        ("<ada@example.com>", "ada@example.com"),
        ("mailto:ada@example.com", "ada@example.com"),
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@BÜCHER.de", "ada@xn--bcher-kva.de"),
        ("Jörg@münchen.de", "Jörg@xn--mnchen-3ya.de"),  # a non-ASCII local part keeps its case
        ("a.b+tag@gmail.com", "a.b+tag@gmail.com"),  # no folding unless asked
        ("ada@example.com.", "ada@example.com"),
    ],
)
def test_email_cases(typed: str, expected: str) -> None:
    assert normalize_email(typed) == ContactKey("email", expected)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("A.B+tag@gmail.com", "ab@gmail.com"),
        ("a.b@googlemail.com", "ab@gmail.com"),
        ("a.b+x@example.com", "a.b+x@example.com"),  # only gmail folds
    ],
)
def test_gmail_folding_is_opt_in(typed: str, expected: str) -> None:
    assert normalize_email(typed, fold_gmail=True) == ContactKey("email", expected)


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_email_is_none(blank: str) -> None:
    assert normalize_email(blank) is None
    assert email_key(blank) is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ada@example.com, bob@example.com", "more than one email address"),
        ("ada@example.com bob@example.com", "more than one email address"),
        ("Ada <ada@example.com> <bob@example.com>", "more than one email address"),
        ("ada@b@example.com", "more than one email address"),
        ("ada", "is not an email address"),
        ("ada@", "is not an email address"),
        ("@example.com", "is not an email address"),
        ("Ada Lovelace", "is not an email address"),
        ("ada@exa mple.com", "is not an email address"),
        ("ada@example..com", "two periods in a row"),
    ],
)
def test_malformed_emails_are_errors_naming_them(typed: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as raised:
        normalize_email(typed)
    assert repr(typed.strip()) in str(raised.value)
    assert email_key(typed) == ContactKey("email", typed.strip(), valid=False)


# A dot-atom local part: dots only between other characters (email-validator's rule).
LOCAL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,5}(\.[A-Za-z0-9_+-]{1,6}){0,2}", fullmatch=True)
LABEL = st.one_of(
    st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True),
    st.sampled_from(["bücher", "münchen", "пример", "例え", "café"]),
)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "de", "org", "co.uk", "COM", "Br"]),
)
NAME = st.text(st.characters(blacklist_characters='"\\<>', codec="utf-8"), max_size=12)


def _swap_case(text: str, flips: list[bool]) -> str:
    return "".join(
        c.swapcase() if c.isascii() and flip else c
        for c, flip in zip(text, flips + [False] * len(text), strict=False)
    )


@settings(max_examples=200, deadline=None)
@given(LOCAL, DOMAIN, NAME, st.lists(st.booleans(), max_size=40), st.booleans())
def test_email_normalization_is_idempotent_and_ignores_case_and_names(
    local: str, domain: str, name: str, flips: list[bool], fold: bool
) -> None:
    address = f"{local}@{domain}"
    key = normalize_email(address, fold_gmail=fold)
    assert key is not None and key.valid
    assert normalize_email(key.key, fold_gmail=fold) == key
    assert key.key.isascii()
    assert normalize_email(_swap_case(address, flips), fold_gmail=fold) == key
    assert normalize_email(f'"{name}" <{address}>', fold_gmail=fold) == key


# customers --------------------------------------------------------------------------


def test_customer_keys_read_phones_in_the_customer_country_else_the_default() -> None:
    options = NormalizeOptions(default_region="US")
    british = Customer(name="B", phones=["020 7946 0018"], country="GB")
    american = Customer(name="A", phones=["415 555 0132"], whatsapp="14155550132")
    assert index_keys(british, options) == (phone("+442079460018"),)
    # The WhatsApp number is the same phone: one key.
    assert index_keys(american, options) == (phone("+14155550132"),)
    assert index_keys(american, NormalizeOptions()) == (phone("+14155550132"),)


def test_customer_keys_flag_invalid_entries_and_strict_mode_raises() -> None:
    customer = Customer(name="C", emails=["C <c@Example.com>", "not-an-email"], phones=["12"])
    keys = customer_keys(customer, NormalizeOptions(default_region="US"))
    assert keys == (
        ContactKey("email", "c@example.com"),
        ContactKey("email", "not-an-email", valid=False),
        ContactKey("phone", "12", valid=False),
    )
    assert index_keys(customer, NormalizeOptions()) == (ContactKey("email", "c@example.com"),)
    with pytest.raises(InvalidValue, match="'not-an-email' is not an email address"):
        customer_keys(customer, NormalizeOptions(), strict=True)


# agreement with the plain phonenumbers API ------------------------------------------------


def _reference(typed: str, region: str | None, whatsapp: bool) -> ContactKey:
    """What ``normalize_phone`` promises, spelled with nothing but the public phonenumbers API."""

    def read(text: str, in_region: str | None) -> str | None:
        try:
            number = phonenumbers.parse(text, in_region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        key = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return key + (f";ext={number.extension}" if number.extension else "")

    text = typed.strip()
    compact = "".join(c for c in text if c not in " \t.-()/")
    if compact.lstrip("+").isdigit() and compact.count("+") <= int(compact.startswith("+")):
        text = compact
    found = None
    if whatsapp and text[:1].isdigit() and not text.startswith("0"):
        found = read("+" + text, None)
    elif text.startswith("00") and text[2:].isascii() and text[2:].isdigit():
        # 00 goes first unless the region dials abroad with a longer prefix matching here.
        idd = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
        pattern = idd.international_prefix if idd else None
        if not pattern or pattern == "00" or not re.match(pattern, text):
            found = read("+" + text[2:], None)
    found = found or read(text, region)
    if found is None and text.startswith("00"):
        found = read("+" + text[2:], None)
    return ContactKey("phone", found) if found else ContactKey("phone", typed.strip(), False)


ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE]


@st.composite
def any_country_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(ALL_REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    if example is None:
        example = phonenumbers.example_number(region)
    assert example is not None
    national = phonenumbers.national_significant_number(example)
    tail = draw(st.text("0123456789", min_size=0, max_size=2))
    national = national[: len(national) - len(tail)] + tail
    style = draw(st.sampled_from(["+", "00", "", "national"]))
    if style == "national":
        return phonenumbers.format_number(
            phonenumbers.parse(f"+{example.country_code}{national}", None),
            PhoneNumberFormat.NATIONAL,
        )
    return f"{style}{example.country_code}{national}"


@settings(max_examples=int(os.environ.get("AGREE_EXAMPLES", "400")), deadline=None)
@given(
    st.one_of(any_country_numbers(), TYPED, st.from_regex(r"\+?[0-9]{1,16}", fullmatch=True)),
    st.sampled_from([None, *REGIONS, "CA", "IT", "MX", "AR", "JM", "RU", "KZ"]),
    st.booleans(),
)
def test_phone_keys_agree_with_plain_phonenumbers(
    typed: str, region: str | None, whatsapp: bool
) -> None:
    # The shortcuts (no full parse for +digits, the likely region tested first) change nothing.
    expected = _reference(typed, region, whatsapp)
    assert phone_with_extension(typed, region, whatsapp=whatsapp) == expected
    if expected.valid:
        expected = ContactKey("phone", expected.key.partition(";ext=")[0])
    assert normalize_phone(typed, region, whatsapp=whatsapp) == expected


EXTENSIONS = st.tuples(
    st.sampled_from([" ext. ", " Ext.", " ext ", " x", " x ", ";ext=", " extension ", " #", ","]),
    st.text("0123456789", min_size=1, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(valid_numbers(), EXTENSIONS, st.data())
def test_a_number_with_any_extension_has_the_key_of_the_number_without(
    found: tuple[str, phonenumbers.PhoneNumber], extension: tuple[str, str], data: st.DataObject
) -> None:
    region, number = found
    marker, digits = extension
    for style in (PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164):
        plain = phonenumbers.format_number(number, style)
        read_in = data.draw(st.sampled_from([None, region]))
        key = normalize_phone(plain, read_in)
        assert key.valid
        assert normalize_phone(plain + marker + digits, read_in) == key, (plain, marker, digits)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    assert normalize_phone(f"{national}{marker}{digits}", region) == normalize_phone(
        national, region
    )
    # The line as dialled keeps the extension, wherever the library reads one.
    dialled = phone_with_extension(
        phonenumbers.format_number(number, PhoneNumberFormat.E164) + f" ext. {digits}"
    )
    assert dialled.key == f"{_e164(number)};ext={digits}"


@given(
    st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,70}", fullmatch=True), min_size=1, max_size=4),
    st.from_regex(r"[a-z0-9.]{1,10}", fullmatch=True),
)
def test_ascii_addresses_read_as_email_validator_reads_them(labels: list[str], local: str) -> None:
    address = f"{local}@{'.'.join(labels)}"
    try:
        expected: str | None = email_validator.validate_email(
            address, check_deliverability=False, globally_deliverable=False
        ).ascii_email
    except email_validator.EmailNotValidError:
        expected = None
    if expected is None:
        with pytest.raises(InvalidValue):
            normalize_email(address)
        return
    found = normalize_email(address)
    assert found is not None and found.key == expected.lower()


def test_idna_2008_keeps_sharp_s_and_final_sigma_apart() -> None:
    def key(text: str) -> str:
        found = normalize_email(text)
        assert found is not None
        return found.key

    assert key("info@straße.de") == "info@xn--strae-oqa.de" != key("info@strasse.de")
    assert key("x@\u03c2.gr") != key("x@\u03c3.gr")  # final and medial sigma
    assert key("  Ann@Example.COM ") == "ann@example.com"  # trimmed, case-insensitive


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("ann\u200b@example.com", "ZERO WIDTH SPACE"),
        ("ann@exa\u200bmple.com", "ZERO WIDTH SPACE"),
        ("ann\u202e@example.com", "RIGHT-TO-LEFT OVERRIDE"),
        ("ann\x07@example.com", "U+0007"),
    ],
)
def test_invisible_and_control_characters_in_emails_are_refused(typed: str, named: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(named)):
        normalize_email(typed)


def test_a_japanese_00_number_is_read_in_japan_when_valid_there() -> None:
    freephone = normalize_phone("0066 33 123456", "JP")
    read = phonenumbers.parse("0066 33 123456", "JP")
    assert phonenumbers.is_valid_number(read)
    assert freephone.key == phonenumbers.format_number(read, PhoneNumberFormat.E164)
    assert freephone.key.startswith("+81")
    # A number Japan cannot read is still taken as international; where 00 is the
    # prefix (GB) or none is known, 00 is "+".
    assert normalize_phone("0044 20 7946 0018", "JP").key == "+442079460018"
    assert normalize_phone("0044 20 7946 0018", "US").key == "+442079460018"
    assert normalize_phone("0066 2 123 4567", None).key.startswith("+66")
