"""The pools values are drawn from: small, full of traps, and printed as runnable code.

Rules and customers draw from the same small pools so that comparisons hit
and miss interestingly: mixed case, quotes, ``%`` and ``_``, text whose case
folding changes its length, blanks. Every strategy here is built so that a
value hypothesis prints in a failing example is the value's own ``repr``
(``datetime.datetime(2026, 1, 15, ...)``, ``Decimal('5000')``), never the
lambda that made it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from pipeline_core.customer import FieldValue

WORDS = (
    "Leads",
    "leads",
    "LEADS",
    "New Leads",
    "VIP",
    "vip",
    "Commercial",
    "100%",
    "a_b",
    "a%b",
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "Straße",
    "STRASSE",
    "İstanbul",
    "ǅemal",
    "ﬁle",
    "café",
    "CAFÉ",
    "ß",
    "ss",
    "SS",
    "ﬁ",
    "FI",
    "ǅ",
    "ǆ",
    "ς",
    "Σ",
    "google ads",
    "Google",
    "x",
)
"""Text that customers and rules share, so that comparisons hit and miss interestingly."""

STATUSES = ("Lead", "Prospect", "Quoted", "Customer", "Inactive")
"""The statuses drawn when no vocabulary names any (the default status machine's)."""

FIELD_KEYS = ("plan", "score", "vip", "renewal", "colours", "Policy Value")
"""Custom field keys drawn when no vocabulary names any."""

COUNTRIES = ("US", "GB", "DE", "TR", "IN", "BR", "JP", "NO")
"""Real ISO 3166 codes (Turkey for its dotted and dotless i, Norway for Ø)."""

CURRENCIES = ("USD", "EUR", "GBP", "TRY", "JPY", "INR", "CHF")
"""Real ISO 4217 codes."""

EMAILS = ("ada@example.com", "ADA@example.com", "b_c@x.org")
PHONES = ("+14155550100", "+442079460000")
ORDER_IDS = ("A-1001", "a-1001", "1001", "#1001", "ORD_1%")

DAY = date(2026, 1, 15)
"""The day the pools of dates cluster around (and the default ``today`` of rules tests)."""

ZONES: tuple[timezone, ...] = tuple(
    UTC if quarter == 0 else timezone(timedelta(minutes=15 * quarter))
    for quarter in sorted(range(-12 * 4, 14 * 4 + 1), key=abs)
)
"""Every offset from UTC-12 to UTC+14 in quarter hours, UTC first (hypothesis shrinks to it)."""

# NUL cannot travel through SQLite's JSON functions (nor be stored by PostgreSQL at all).
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=8,
)


@st.composite
def _piece(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(WORDS))
    start, end = sorted(draw(st.tuples(st.integers(0, len(word)), st.integers(0, len(word)))))
    return word[start:end]


def texts() -> st.SearchStrategy[str]:
    """Mostly words from ``WORDS`` (and pieces of them), sometimes arbitrary unicode."""
    return st.one_of(st.sampled_from(WORDS), _piece(), _TEXT)


def nonblank() -> st.SearchStrategy[str]:
    """``texts()`` that are not blank (what a name, folder or source may be)."""
    return texts().filter(lambda text: bool(text.strip()))


def known_or(known: tuple[str, ...], traps: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """One of the ``known`` words about half the time, else a trap (just traps if none known)."""
    return st.one_of(st.sampled_from(known), traps) if known else traps


@st.composite
def _day(draw: st.DrawFn, around: tuple[date, ...]) -> date:
    centre = draw(st.sampled_from(around))
    return centre + timedelta(days=draw(st.integers(-40, 40)))


def days(around: tuple[date, ...] = ()) -> st.SearchStrategy[date]:
    """Days within a few weeks of ``DAY`` (or of the days ``around``, when given)."""
    return _day(around or (DAY,))


@st.composite
def _moment(draw: st.DrawFn, around: tuple[date, ...]) -> datetime:
    centre = draw(st.sampled_from(around))
    midnight = datetime(centre.year, centre.month, centre.day, tzinfo=UTC)
    # Whole seconds, so that a printed example stays short; the zone moves the local day.
    seconds = draw(st.integers(-40 * 86400, 40 * 86400))
    return (midnight + timedelta(seconds=seconds)).astimezone(draw(st.sampled_from(ZONES)))


def moments(around: tuple[date, ...] = ()) -> st.SearchStrategy[datetime]:
    """Aware timestamps near ``DAY`` (or the days ``around``), in zones from UTC-12 to UTC+14."""
    return _moment(around or (DAY,))


AMOUNTS = tuple(Decimal(v) for v in ("0", "1000", "5000", "999.99", "-1", "0.1"))


def numbers(known: tuple[Decimal, ...] = ()) -> st.SearchStrategy[Decimal]:
    """Decimal amounts, some with fractions, some negative (and the ``known`` ones)."""
    return st.one_of(
        st.sampled_from(known + AMOUNTS),
        st.decimals(-(10**6), 10**6, allow_nan=False, allow_infinity=False, places=2),
    )


@st.composite
def _tuple_of(draw: st.DrawFn, items: st.SearchStrategy[str], max_size: int) -> tuple[str, ...]:
    return tuple(draw(st.lists(items, max_size=max_size)))


def text_tuples(
    items: st.SearchStrategy[str], max_size: int = 3
) -> st.SearchStrategy[tuple[str, ...]]:
    """Tuples of text (multi-select values), printed as tuples."""
    return _tuple_of(items, max_size)


def field_values() -> st.SearchStrategy[FieldValue]:
    """Custom field values of every kind: text, int, float, decimal, bool, date, datetime, list."""
    return st.one_of(
        texts(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        numbers(),
        st.booleans(),
        days(),
        moments(),
        text_tuples(texts()),
    )
