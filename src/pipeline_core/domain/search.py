"""Quick search: the terms a customer is found by, and what a typed query asks for.

Names, emails and tags are indexed as words folded to lower-case ASCII
(``domain.folding``: "José" is "jose", "Łukasz" is "lukasz"), searched by prefix
("jo" finds "José"); the words of emails are a kind of term of their own, so
that a search can leave contact data out (for an actor it is hidden from).
Phones and WhatsApp are indexed as their digits reversed, so that a query's
digits, reversed, are a prefix: any suffix of at least ``MIN_PHONE_DIGITS``
digits finds the number, however either was punctuated. Every backend ranks
with the same weights (``score``).

The SQL backends keep one row per customer in the database's own text index
(SQLite FTS5, PostgreSQL ``tsvector`` under a GIN index): the ``SearchDocument``
of a customer, four columns of index tokens. A token is a term spelled so that
any tokenizer keeps it whole (``index_token``); prefix and equality of tokens are
those of the terms, so the engines' prefix queries answer exactly what ``score``
asks here.
"""

from __future__ import annotations

import functools
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
MAX_TERM_CHARS = 200
"""Terms (and the words of a query) are cut to this many characters: PostgreSQL refuses
index tokens over 2 KB, and a word this long is found by its beginning anyway."""


def words(text: str) -> list[str]:
    """The folded words of ``text`` (letters and digits)."""
    return [word[:MAX_TERM_CHARS] for word in _WORD.findall(fold(text))]


def phone_key(text: str) -> str | None:
    """A phone's digits reversed (None if it has none)."""
    return _NOT_DIGIT.sub("", text)[::-1][:MAX_TERM_CHARS] or None


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
        whole = fold(value.strip())[:MAX_TERM_CHARS]
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
        return SearchQuery(stripped, ((TEXT, fold(stripped)[:MAX_TERM_CHARS]),), contacts)
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


# the databases' text indexes -------------------------------------------------------

NAMES, EMAILS, TAGS, PHONES = "names", "emails", "tags", "phones"
"""The columns of a customer's row in a SQL backend's text index, in this order."""

INDEX_COLUMNS = (NAMES, EMAILS, TAGS, PHONES)

SearchDocument = tuple[str, str, str, str]
"""A customer's row of the text index: the space-separated tokens of each of ``INDEX_COLUMNS``."""

_COLUMNS_OF = {TEXT: ((NAMES, NAME_WEIGHT), (TAGS, TAG_WEIGHT)), EMAIL: ((EMAILS, EMAIL_WEIGHT),)}
_COLUMNS_OF[PHONE] = ((PHONES, PHONE_WEIGHT),)

_ESCAPE = "\ue000"
"""Starts the spelling of a character that is not [a-z0-9] in a token: a private-use
character, which folding never produces (it has no spelling and is no letter) and
tokenizers keep inside a word (FTS5's unicode61 counts category Co as a token
character; ``tsvector`` input splits on spaces only)."""


class _Tokens(dict[int, str]):
    """``str.translate``'s table to tokens: [a-z0-9] as is, anything else escaped."""

    def __missing__(self, code: int) -> str:
        # Fixed width after the escape: no spelling is the beginning of another, so
        # one token begins with another exactly when their terms do.
        spelled = self[code] = f"{_ESCAPE}{code:06x}"
        return spelled


_TOKENS = _Tokens({ord(c): c for c in "abcdefghijklmnopqrstuvwxyz0123456789"})


def index_token(term: str) -> str:
    """``term`` as one token of the text index, whatever its characters.

    ``index_token(a).startswith(index_token(b))`` exactly when ``a.startswith(b)``,
    and tokens are equal exactly when terms are.
    """
    if term.isascii() and term.isalnum() and (term.islower() or term.isdigit()):
        return term  # a plain word: most terms, spelled as they are
    return term.translate(_TOKENS)


def _column(terms: list[str]) -> str:
    """Terms as one column of the index: their tokens, separated by spaces."""
    text = " ".join(terms)
    # One scan of the whole column: most columns need no escape at all (a term with
    # a space of its own, a whole tag of two words, does).
    if _PLAIN_COLUMN.fullmatch(text) and text.count(" ") == len(terms) - 1:
        return text
    return " ".join(map(index_token, terms))


_PLAIN_COLUMN = re.compile(r"[a-z0-9 ]*")


@functools.lru_cache(maxsize=4096)
def _values_column(values: tuple[str, ...]) -> str:
    """The column of whole values and their words (tags): a file repeats a few tag sets."""
    terms: dict[str, int] = {}
    _add_values(terms, values, 0)
    return _column(list(terms))


def search_document(customer: Customer) -> SearchDocument:
    """The row of ``customer`` in a text index: its terms as tokens, by column.

    The same terms as ``term_rows``: names' words; tags and emails whole and by
    word; phones' reversed digits. A word of both a name and a tag is in both
    columns, which scores as ``term_rows``' one term of the higher weight.
    """
    emails: dict[str, int] = {}
    if customer.emails:
        _add_values(emails, customer.emails, 0)
    numbers = (*customer.phones, *((customer.whatsapp,) if customer.whatsapp else ()))
    return (
        _column(list(dict.fromkeys(words(customer.name)))),
        _column(list(emails)),
        _values_column(customer.tags) if customer.tags else "",
        " ".join(dict.fromkeys(key for key in map(phone_key, numbers) if key)),
    )


@attrs.frozen
class IndexCheck:
    """One test of a query part against the index: a column, whole or prefix, and its points."""

    column: str
    token: str
    whole: bool
    points: int


def index_parts(query: SearchQuery) -> list[tuple[tuple[str, ...], str, list[IndexCheck]]]:
    """Per part of ``query``: the columns it may match, its token, and its scoring checks.

    The checks are in falling order of points: a part scores the points of the
    first check its customer passes (the best term of ``score``). The last check
    is a prefix match in some column, which every customer matching the part passes.
    """
    result = []
    for kind, prefix in query.parts:
        columns = [pair for k in query.kinds(kind) for pair in _COLUMNS_OF[k]]
        token = index_token(prefix)
        checks = [
            IndexCheck(column, token, whole, weight * (2 if whole else 1))
            for column, weight in columns
            for whole in (True, False)
        ]
        checks.sort(key=lambda check: -check.points)  # stable: ties keep column order
        result.append((tuple(column for column, _ in columns), token, checks))
    return result
