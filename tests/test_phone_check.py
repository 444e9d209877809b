"""``phone_check`` answers exactly as phonenumbers' validity test, for every kind of number."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc, PhoneNumberType

from pipeline_core.domain import phone_check
from pipeline_core.domain.normalize import ContactKey, normalize_phone

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
NON_GEOGRAPHIC_CODES = sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
NUMBER_TYPES = [
    value for name, value in vars(PhoneNumberType).items() if name.isupper() and name != "UNKNOWN"
]
DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


def _examples() -> list[tuple[PhoneNumber, str]]:
    """Every example number phonenumbers has, of every type, with the region it belongs to."""
    found: dict[tuple[int | None, int | None, str], PhoneNumber] = {}
    for region in REGIONS:
        for kind in NUMBER_TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found[number.country_code, number.national_number, region] = number
    for code in NON_GEOGRAPHIC_CODES:
        metadata = PhoneMetadata.metadata_for_nongeo_region(code)
        for name in DESCS:
            desc = getattr(metadata, name)
            if desc is not None and desc.example_number:
                number = phonenumbers.parse(f"+{code}{desc.example_number}", None)
                found[code, number.national_number, phone_check.NON_GEOGRAPHIC] = number
    return [(number, key[2]) for key, number in found.items()]


EXAMPLES = _examples()

# Regions a number may be tested in: real ones (in either case), the non-geographic
# entity, codes phonenumbers does not know, and none.
ANY_REGION = st.one_of(
    st.sampled_from([*REGIONS, phone_check.NON_GEOGRAPHIC]),
    st.sampled_from(REGIONS).map(str.lower),
    st.sampled_from(["ZZ", "XX", "UN", None]),
)


def assert_agrees(number: PhoneNumber, region: str | None) -> None:
    """Both validity tests and the national significant number give the library's answers."""
    nsn = phonenumbers.national_significant_number(number)
    assert phone_check.national_significant_number(number) == nsn
    assert phone_check.is_valid_number(number) == phonenumbers.is_valid_number(number), number
    # The library's stub types no region as None; at run time None is simply invalid.
    expected = phonenumbers.is_valid_number_for_region(number, region)  # type: ignore[arg-type]
    assert phone_check.is_valid_number_for_region(number, region) == expected, (number, region)


@st.composite
def leading_zeros(draw: st.DrawFn, number: PhoneNumber) -> PhoneNumber:
    """The number, sometimes with an Italian leading zero (one, several or a count of 0)."""
    if draw(st.booleans()):
        number.italian_leading_zero = True
        number.number_of_leading_zeros = draw(st.sampled_from([None, 0, 1, 2, 3]))
    return number


@st.composite
def random_numbers(draw: st.DrawFn) -> PhoneNumber:
    """Any country code phonenumbers knows (or a few it does not) and 1 to 17 digits."""
    code = draw(st.one_of(st.sampled_from(CODES), st.sampled_from([0, 2, 999, 3883])))
    digits = draw(st.from_regex(r"[1-9][0-9]{0,16}", fullmatch=True))
    return draw(leading_zeros(PhoneNumber(country_code=code, national_number=int(digits))))


@st.composite
def perturbed(draw: st.DrawFn, digits: str, code: int) -> PhoneNumber:
    """The number ``+code digits`` with up to three digits changed, added or dropped.

    Random digits are almost never valid; these sit on the edge of the patterns.
    Now and then the country code is another one.
    """
    edited = list(digits)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.integers(0, len(edited)))
        digit = str(draw(st.integers(0, 9)))
        edit = draw(st.sampled_from(["change", "insert", "delete"]))
        if edit == "insert" or not edited:
            edited.insert(where, digit)
        elif edit == "change":
            edited[min(where, len(edited) - 1)] = digit
        else:
            del edited[min(where, len(edited) - 1)]
    joined = "".join(edited)
    text = joined.lstrip("0") or "0"
    zeros = max(len(joined) - len(text), 0)
    if draw(st.integers(0, 9)) == 0:
        code = draw(st.sampled_from(CODES))
    number = PhoneNumber(country_code=code, national_number=int(text))
    if zeros:
        # The leading zeros left, written as the parser writes them.
        number.italian_leading_zero = True
        number.number_of_leading_zeros = zeros if zeros > 1 else None
        return number
    return draw(leading_zeros(number))


@st.composite
def perturbed_examples(draw: st.DrawFn) -> tuple[PhoneNumber, str]:
    """An example number, perturbed, and the region it was the example of."""
    example, region = draw(st.sampled_from(EXAMPLES))
    nsn = phonenumbers.national_significant_number(example)
    return draw(perturbed(nsn, example.country_code or 0)), region


def _metadata(region: str) -> list[PhoneMetadata]:
    if region == phone_check.NON_GEOGRAPHIC:
        found = [PhoneMetadata.metadata_for_nongeo_region(code) for code in NON_GEOGRAPHIC_CODES]
    else:
        found = [PhoneMetadata.metadata_for_region(region)]
    return [metadata for metadata in found if metadata is not None]


PATTERNS = [
    (metadata.country_code, desc.national_number_pattern.replace(r"\d", "[0-9]"), region)
    for region in [*REGIONS, phone_check.NON_GEOGRAPHIC]
    for metadata in _metadata(region)
    for desc in (getattr(metadata, name) for name in DESCS)
    if desc is not None and desc.national_number_pattern
]
"""(country code, pattern with ASCII digits only, region) of every description of the metadata."""


@st.composite
def pattern_numbers(draw: st.DrawFn) -> tuple[PhoneNumber, str]:
    """A number written from one of a region's patterns, perturbed, and that region.

    Examples are one number per type; the patterns reach every branch of them.
    """
    code, pattern, region = draw(st.sampled_from(PATTERNS))
    digits = draw(st.from_regex(pattern, fullmatch=True))
    return draw(perturbed(digits, code)), region


@settings(max_examples=300, deadline=None)
@given(random_numbers(), ANY_REGION)
def test_random_numbers_agree_with_phonenumbers(number: PhoneNumber, region: str | None) -> None:
    assert_agrees(number, region)


@settings(max_examples=300, deadline=None)
@given(random_numbers(), st.data())
def test_random_numbers_agree_in_their_own_regions(
    number: PhoneNumber, data: st.DataObject
) -> None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0, ("ZZ",))
    assert_agrees(number, data.draw(st.sampled_from(regions)))


@settings(max_examples=400, deadline=None)
@given(st.one_of(perturbed_examples(), pattern_numbers()), st.booleans(), ANY_REGION)
def test_perturbed_examples_agree_with_phonenumbers(
    example: tuple[PhoneNumber, str], own_region: bool, other: str | None
) -> None:
    number, region = example
    assert_agrees(number, region if own_region else other)


def test_every_example_number_agrees_everywhere_it_could_belong() -> None:
    # Each example in its own region, every region sharing its country code, and the
    # non-geographic entity; all disagreements are listed at once.
    wrong: list[tuple[PhoneNumber, str | None]] = []
    for number, region in EXAMPLES:
        nsn = phonenumbers.national_significant_number(number)
        shared = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[number.country_code or 0]
        if phone_check.is_valid_number(number) != phonenumbers.is_valid_number(number):
            wrong.append((number, None))
        for candidate in sorted({region, *shared, phone_check.NON_GEOGRAPHIC}):
            ours = phone_check.nsn_valid_for_region(number.country_code, nsn, candidate)
            if ours != phonenumbers.is_valid_number_for_region(number, candidate):
                wrong.append((number, candidate))
    assert wrong == []


def test_the_examples_cover_every_region_and_mostly_validate() -> None:
    # The exhaustive check above means something only if the examples span the metadata.
    regions = {region for _, region in EXAMPLES}
    assert regions == {*REGIONS, phone_check.NON_GEOGRAPHIC}
    valid = sum(phone_check.is_valid_number(number) for number, _ in EXAMPLES)
    assert valid > 0.95 * len(EXAMPLES)


def test_shared_country_codes_pick_the_region_by_leading_digits() -> None:
    # +1 684 is American Samoa by its leading digits, +44 1624 the Isle of Man: valid
    # for those regions and for the library's own choice, not for the US or GB.
    samoa = phonenumbers.parse("+1 684 733 1234", None)
    man = phonenumbers.parse("+44 1624 756789", None)
    assert phone_check.is_valid_number(samoa) and phone_check.is_valid_number(man)
    assert phone_check.is_valid_number_for_region(samoa, "AS")
    assert not phone_check.is_valid_number_for_region(samoa, "US")
    assert phone_check.is_valid_number_for_region(man, "IM")
    assert not phone_check.is_valid_number_for_region(man, "GB")


def test_italian_leading_zero_is_part_of_the_number() -> None:
    # Milan's 02 is kept as a leading zero; without it the number is invalid. And
    # Rome's 06 698 is the Vatican's: +39 is shared, and VA has leading digits.
    milan = phonenumbers.parse("+39 02 1234 5678", None)
    assert milan.italian_leading_zero
    assert phone_check.national_significant_number(milan) == "0212345678"
    assert phone_check.is_valid_number_for_region(milan, "IT")
    assert not phone_check.is_valid_number(PhoneNumber(country_code=39, national_number=212345678))
    vatican = phonenumbers.parse("+39 06 6982 1234", None)
    assert phone_check.is_valid_number(vatican)
    assert phone_check.is_valid_number_for_region(vatican, "VA")
    assert not phone_check.is_valid_number_for_region(vatican, "IT")


def test_non_geographic_numbers_are_valid_only_for_their_entity() -> None:
    freephone = phonenumbers.parse("+800 1234 5678", None)
    assert phone_check.is_valid_number(freephone)
    assert phone_check.is_valid_number_for_region(freephone, phone_check.NON_GEOGRAPHIC)
    assert not phone_check.is_valid_number_for_region(freephone, "US")
    us = phonenumbers.parse("+1 415 555 0132", None)
    assert not phone_check.is_valid_number_for_region(us, phone_check.NON_GEOGRAPHIC)


# Hand-made metadata: today's real metadata never shows some of the rules (a type's own
# possible lengths narrower than its pattern, a mobile pattern equal to the fixed-line one
# with other lengths, a type pattern wider than the general one), so they are proven here.
SMALL_PATTERNS = [
    "[0-9]{3,8}",
    "1[0-9]{3,5}",
    "[2-5][0-9]{4,6}",
    "9[0-9]{5}|8[0-9]{3}",
    "0[0-9]{2,7}",
]


@st.composite
def descs(draw: st.DrawFn) -> PhoneNumberDesc | None:
    """A description: none, or a pattern (possibly empty) with possible lengths (possibly none)."""
    if draw(st.integers(0, 3)) == 0:
        return None
    pattern = draw(st.sampled_from(["", *SMALL_PATTERNS]))
    lengths = draw(st.lists(st.integers(2, 9), max_size=4, unique=True).map(sorted))
    return PhoneNumberDesc(national_number_pattern=pattern or None, possible_length=tuple(lengths))


@st.composite
def metadata(draw: st.DrawFn) -> PhoneMetadata:
    """Metadata of a made-up region, never registered with phonenumbers."""
    fixed_line = draw(descs())
    mobile = draw(descs())
    if draw(st.booleans()) and fixed_line is not None:
        # The same mobile pattern as the fixed line's, maybe with other lengths.
        lengths = draw(st.lists(st.integers(2, 9), max_size=4, unique=True).map(sorted))
        pattern = fixed_line.national_number_pattern
        mobile = PhoneNumberDesc(national_number_pattern=pattern, possible_length=tuple(lengths))
    return PhoneMetadata(
        id="XX",
        country_code=999,
        general_desc=draw(descs()),
        fixed_line=fixed_line,
        mobile=mobile,
        toll_free=draw(descs()),
        premium_rate=draw(descs()),
        shared_cost=draw(descs()),
        personal_number=draw(descs()),
        voip=draw(descs()),
        pager=draw(descs()),
        uan=draw(descs()),
        voicemail=draw(descs()),
        register=False,
    )


@settings(max_examples=300, deadline=None)
@given(metadata(), st.from_regex(r"[0-9]{1,10}", fullmatch=True))
def test_any_metadata_is_read_as_phonenumbers_reads_it(made: PhoneMetadata, nsn: str) -> None:
    reference = getattr(phonenumbers.phonenumberutil, "_number_type_helper")  # noqa: B009
    expected = reference(nsn, made) != PhoneNumberType.UNKNOWN
    assert phone_check.MetadataCheck(made)(nsn) == expected


# normalize_phone reads plain national digits without the parser where it can prove the
# parser's answer: with or without a national prefix, valid or not.


def _national_digits(number: PhoneNumber) -> str:
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(c for c in national if c.isdigit())


GEOGRAPHIC_EXAMPLES = [
    (number, region) for number, region in EXAMPLES if region != phone_check.NON_GEOGRAPHIC
]


@st.composite
def national_digits(draw: st.DrawFn) -> tuple[str, str]:
    """Digits as typed in a region: an example nationally, bare, with its country code, or any."""
    example, region = draw(st.sampled_from(GEOGRAPHIC_EXAMPLES))
    region = draw(st.one_of(st.just(region), st.sampled_from(REGIONS)))
    nsn = phonenumbers.national_significant_number(example)
    digits = draw(
        st.sampled_from(
            [_national_digits(example), nsn, f"{example.country_code}{nsn}", nsn[1:], nsn + "5"]
        )
        | st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True)
    )
    if draw(st.booleans()) and digits:
        where = draw(st.integers(0, len(digits) - 1))
        digits = digits[:where] + str(draw(st.integers(0, 9))) + digits[where + 1 :]
    return digits, region


@settings(max_examples=400, deadline=None)
@given(national_digits())
def test_national_digits_read_as_the_parser_reads_them(typed: tuple[str, str]) -> None:
    digits, region = typed
    if digits.startswith("00"):
        digits = digits[2:] or "1"  # 00 is read as an international prefix first
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        expected = ContactKey("phone", key)
    else:
        expected = ContactKey("phone", digits, False)
    assert normalize_phone(digits, region) == expected


def test_the_installed_phonenumbers_is_within_the_verified_range() -> None:
    # The tests above verify phone_check against the installed phonenumbers; the bound in
    # pyproject.toml must name a range that includes it (and so was verified).
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    (requirement,) = [
        Requirement(text) for text in dependencies if Requirement(text).name == "phonenumbers"
    ]
    assert requirement.specifier.contains(version("phonenumbers"))
    assert "<" in str(requirement.specifier)  # an upper bound: metadata formats change
