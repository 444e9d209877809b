"""Quick search: the terms a customer is found by, and what a typed query asks for.

Names, emails and tags are indexed as words folded to lower-case ASCII
(``domain.folding``: "José" is "jose", "Łukasz" is "lukasz"), searched by prefix
("jo" finds "José"); the words of emails are a kind of term of their own, so
that a search can leave contact data out (for an actor it is hidden from).
Phones and WhatsApp are indexed as their digits reversed, so that a query's
digits, reversed, are a prefix: any suffix of at least ``MIN_PHONE_DIGITS``
digits finds the number, however either was punctuated. Every backend stores
the same terms (``search_terms``) and ranks with the same weights (``score``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.folding import fold as fold  # re-exported: what terms are made of
from pipeline_core.errors import InvalidValue

MIN_PHONE_DIGITS = 4
"""A query of at least this many digits (and phone punctuation only) searches phones."""

TEXT, EMAIL, PHONE = "t", "e", "p"
"""Term kinds: words of names and tags; words of emails (and each address whole); reversed
phone digits."""

NAME_WEIGHT, EMAIL_WEIGHT, TAG_WEIGHT, PHONE_WEIGHT = 4, 3, 1, 4
"""How much a match on each kind of term counts; an exact (whole-term) match counts double."""

DEFAULT_LIMIT = 50

_WORD = re.compile(r"[^\W_]+")
_NOT_DIGIT = re.compile(r"[^0-9]")  # ASCII digits only: other scripts' digits are not dialled
_PHONE_QUERY = re.compile(r"^[\d\s+().\-/]+$")
PREFIX_END = "\U0010ffff"
"""Appended to a prefix: every term starting with the prefix sorts below the result."""


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits)."""
    return _WORD.findall(fold(text))


def phone_key(text: str) -> str | None:
    """A phone's digits reversed (None if it has none)."""
    return _NOT_DIGIT.sub("", text)[::-1] or None


@attrs.frozen
class Term:
    """One index entry of a customer: its kind, the folded text and its weight."""

    kind: str
    text: str
    weight: int


def search_terms(customer: Customer) -> list[Term]:
    """Every term ``customer`` can be found by (no repeats of a kind; the highest weight kept)."""
    return [Term(kind, text, weight) for kind, text, weight in term_rows(customer)]


TermRow = tuple[str, str, int]
"""A search term as stores write it: (kind, text, weight)."""


def term_rows(customer: Customer) -> list[TermRow]:
    """``search_terms`` as plain (kind, text, weight) tuples, sorted: what stores write in bulk."""
    # Names, then tags: weights fall in that order, so the first time a word is
    # seen gives its highest weight. Emails are terms of their own kind: a word in
    # a name and an email is both, and a search that matches both kinds scores the
    # better one, as if they were one term.
    texts: dict[str, int] = {}
    for word in words(customer.name):
        texts.setdefault(word, NAME_WEIGHT)
    _add_values(texts, customer.tags, TAG_WEIGHT)
    addresses: dict[str, int] = {}
    _add_values(addresses, customer.emails, EMAIL_WEIGHT)
    numbers = (*customer.phones, *((customer.whatsapp,) if customer.whatsapp else ()))
    phones = {key for key in map(phone_key, numbers) if key}
    # In (kind, text) order, as the stores' primary key sorts them.
    rows = [(EMAIL, text, weight) for text, weight in sorted(addresses.items())]
    rows += [(PHONE, key, PHONE_WEIGHT) for key in sorted(phones)]
    rows += [(TEXT, text, weight) for text, weight in sorted(texts.items())]
    return rows


def _add_values(terms: dict[str, int], values: Iterable[str], weight: int) -> None:
    """Each value whole (folded) and each of its words, unless already there."""
    for value in values:
        whole = fold(value.strip())
        if whole:
            terms.setdefault(whole, weight)
        for word in words(value):
            terms.setdefault(word, weight)


@attrs.frozen
class SearchQuery:
    """What a typed query asks: every one of ``parts`` (kind, prefix) must match a term.

    A ``TEXT`` part matches the words of names and tags, and those of emails
    unless ``contacts`` is false (contact data hidden from the actor).
    """

    text: str
    parts: tuple[tuple[str, str], ...]
    contacts: bool = True

    def kinds(self, kind: str) -> tuple[str, ...]:
        """The kinds of term a part of ``kind`` matches."""
        if kind == TEXT:
            return (TEXT, EMAIL) if self.contacts else (TEXT,)
        return (kind,)


def parse_query(text: str, *, contacts: bool = True) -> SearchQuery:
    """Read a search query: a phone number (or its last digits), or words.

    An email typed whole is also looked up whole, so ``ana@x.org`` ranks the
    exact address first. Without ``contacts``, words match names and tags only
    (a phone query is still read as one: the caller refuses it).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidValue("a search needs some text")
    stripped = text.strip()
    key = phone_key(stripped)
    if _PHONE_QUERY.match(stripped) and key is not None:
        if len(key) < MIN_PHONE_DIGITS:
            raise InvalidValue(
                f"search for at least {MIN_PHONE_DIGITS} digits of a phone number, not {stripped!r}"
            )
        # A national number's leading trunk zeros are not in the international form.
        trimmed = key.rstrip("0")
        return SearchQuery(
            stripped, ((PHONE, trimmed if len(trimmed) >= MIN_PHONE_DIGITS else key),), contacts
        )
    found = words(stripped)
    if "@" in stripped and " " not in stripped:
        return SearchQuery(stripped, ((TEXT, fold(stripped)),), contacts)
    if not found:
        raise InvalidValue(f"search for letters or digits, not {stripped!r}")
    return SearchQuery(stripped, tuple((TEXT, word) for word in dict.fromkeys(found)), contacts)


def score(terms: Iterable[Term], query: SearchQuery) -> int | None:
    """How well terms match the query (higher is better); None if a part matches nothing.

    Each part counts its best term: the term's weight, doubled when whole.
    """
    terms = list(terms)
    total = 0
    for kind, prefix in query.parts:
        kinds = query.kinds(kind)
        best = max(
            (
                term.weight * (2 if term.text == prefix else 1)
                for term in terms
                if term.kind in kinds and term.text.startswith(prefix)
            ),
            default=None,
        )
        if best is None:
            return None
        total += best
    return total
