"""phonenumbers' validity test, compiled once per region: the same answers, far fewer steps.

``phonenumbers.is_valid_number`` tests up to eleven number-type descriptions of a
region, compiling each one's pattern again on every call; it is most of the
cost of normalizing a phone. Here each region's metadata becomes one regular
expression per number length: the general description as a look-ahead, then
the alternation of the type descriptions whose possible lengths include that
length. A length no description allows has no expression and is invalid at once.

The rules are phonenumbers' own (version 9): a number is valid for a region when
the region's country code is the number's (any code for the non-geographic
entity ``"001"``, whose metadata is per code), its national significant number
(with an Italian leading zero) matches the general description by length and
whole pattern, and some type description matches by length and whole pattern.
A description without possible lengths accepts every length; mobile is skipped
when its pattern is the fixed-line one. ``is_valid_number`` first picks the
region of a shared country code by leading digits or, without them, by
validity, in the library's order. ``tests/test_phone_check.py`` proves the
answers equal the library's, on every region's example numbers; pyproject.toml
bounds phonenumbers to the release series that was verified (9.0.x).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata

NON_GEOGRAPHIC = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
"""The region code of numbers that belong to no country (``"001"``: +800, +882...)."""

# The type descriptions _number_type_helper tries; their order does not change validity.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

_Match = Callable[[str], object]
_Desc = tuple[frozenset[int], str]


class MetadataCheck:
    """The validity test of one region's metadata (callable on a national significant number).

    One compiled full match per number length, built on first use; ``code`` is
    the metadata's country code.
    """

    __slots__ = ("_by_length", "_general", "_types", "code")

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.code: int | None = metadata.country_code
        self._general = _desc(metadata.general_desc)
        names = _TYPES[:-1] if metadata.same_mobile_and_fixed_line_pattern else _TYPES
        found = (_desc(getattr(metadata, name)) for name in names)
        self._types = tuple(desc for desc in found if desc is not None)
        self._by_length: dict[int, _Match | None] = {}

    def __call__(self, nsn: str) -> bool:
        size = len(nsn)
        try:
            match = self._by_length[size]
        except KeyError:
            match = self._by_length[size] = self._compile(size)
        return match is not None and match(nsn) is not None

    def _compile(self, size: int) -> _Match | None:
        if self._general is None or not _allows(self._general[0], size):
            return None
        alternatives = [pattern for lengths, pattern in self._types if _allows(lengths, size)]
        if not alternatives:
            return None
        # Every alternative in its own group: fullmatch then succeeds exactly when one
        # of them matches the whole number, and the look-ahead requires the general one.
        either = "|".join(f"(?:{pattern})" for pattern in alternatives)
        return re.compile(f"(?=(?:{self._general[1]})\\Z)(?:{either})").fullmatch


def _desc(desc: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
    """A description's (possible lengths, pattern); None when it can match nothing."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), desc.national_number_pattern


def _allows(lengths: frozenset[int], size: int) -> bool:
    # No possible lengths means the description defers to the general one's.
    return not lengths or size in lengths


@lru_cache(maxsize=1024)
def _geographic(region: str) -> MetadataCheck | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    return None if metadata is None else MetadataCheck(metadata)


@lru_cache(maxsize=1024)
def _non_geographic(code: int) -> MetadataCheck | None:
    metadata = PhoneMetadata.metadata_for_nongeo_region(code, None)
    return None if metadata is None else MetadataCheck(metadata)


@lru_cache(maxsize=1024)
def _shared(code: int) -> tuple[tuple[str, _Match | None, MetadataCheck], ...]:
    """Each region of a shared country code: (region, leading-digits match, its checker)."""
    found = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        checker = _geographic(region)
        if metadata is None or checker is None:
            continue
        leading = metadata.leading_digits
        # A prefix match, as the library's re.match: not a full one.
        match = re.compile(leading).match if leading is not None else None
        found.append((region, match, checker))
    return tuple(found)


def national_significant_number(number: phonenumbers.PhoneNumber) -> str:
    """``phonenumbers.national_significant_number``: the national number with its leading zeros."""
    nsn = str(number.national_number)
    if number.italian_leading_zero:
        zeros = number.number_of_leading_zeros
        if zeros is None:
            zeros = 1
        if zeros > 0:
            nsn = "0" * zeros + nsn
    return nsn


def nsn_valid_for_region(code: int | None, nsn: str, region: str | None) -> bool:
    """Whether country code ``code`` and national significant number ``nsn`` are valid in ``region``."""
    if region is None:
        return False
    if region == NON_GEOGRAPHIC:
        checker = _non_geographic(code) if code is not None else None
    else:
        checker = _geographic(region)
        if checker is not None and checker.code != code:
            return False
    return checker is not None and checker(nsn)


def nsn_valid(code: int | None, nsn: str) -> bool:
    """Whether country code ``code`` and national significant number ``nsn`` form a valid number."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code) if code is not None else None
    if regions is None:
        return False
    if len(regions) == 1:
        return nsn_valid_for_region(code, nsn, regions[0])
    for region, leading, checker in _shared(code):
        if leading is not None:
            if leading(nsn) is not None:
                return nsn_valid_for_region(code, nsn, region)
        elif checker(nsn):
            # Valid in a region found by validity: the library's second test repeats the first
            # unless the region's country code differs from the number's.
            return checker.code == code
    return False


def is_valid_number_for_region(number: phonenumbers.PhoneNumber, region: str | None) -> bool:
    """``phonenumbers.is_valid_number_for_region``, with the same answer for every number."""
    if region is None:
        return False
    return nsn_valid_for_region(number.country_code, national_significant_number(number), region)


def is_valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``, with the same answer for every number."""
    return nsn_valid(number.country_code, national_significant_number(number))
