"""Case- and accent-insensitive contains (``~``), the same in Python and in SQL.

``fold`` is Python's ``str.casefold`` followed by dropping accents: a character
whose canonical decomposition carries combining marks becomes its base letters
("é" is "e", "Ǆ" is "dž" then "dz"), and a lone combining mark disappears.
Each character folds on its own, so SQL can do the same with a table.

SQLite's lower() and LIKE fold ASCII only, and PostgreSQL's lower() neither
expands "ß" to "ss" nor depends only on Unicode (it follows the database's
locale). So each SQL backend gets a function that folds as ``fold`` does:
SQLite registers ``casefold_contains`` on its connection; PostgreSQL creates
``pg_temp.pc_casefold`` in each session from the running Python's own tables,
so the two can never disagree.
"""

from __future__ import annotations

import functools
import sys
import unicodedata


def _strip(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Only accents go: a character that decomposes without marks (Hangul) stays whole.
    return bare if bare != decomposed else char


def fold_char(char: str) -> str:
    """One character as ``~`` compares it: case folded, accents dropped."""
    return "".join(_strip(c) for c in char.casefold())


_fold_cached = functools.lru_cache(maxsize=8192)(fold_char)


def fold(text: str) -> str:
    """Text as ``~`` compares it: ``str.casefold`` with accents dropped ("José" is "jose")."""
    if text.isascii():
        return text.lower()  # ASCII casefolds to its lower case and has no accents
    return "".join(_fold_cached(char) for char in text)


def casefold_contains(value: object, needle: object) -> int:
    """``needle in fold(value)`` as 0 or 1 (0 for NULL); the needle comes folded."""
    if not isinstance(value, str) or not isinstance(needle, str):
        return 0
    return int(needle in fold(value))


def _unicode_literal(text: str) -> str:
    # U&'' escapes keep the statement ASCII and immune to client encodings.
    out = []
    for char in text:
        code = ord(char)
        if char.isascii() and char.isalnum():
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\{code:04X}")
        else:
            out.append(f"\\+{code:06X}")
    return "U&'" + "".join(out) + "'"


@functools.lru_cache(maxsize=1)
def postgres_casefold_function() -> str:
    """``CREATE FUNCTION pg_temp.pc_casefold(text)``: ``fold`` as PostgreSQL SQL.

    ``fold`` maps each character on its own, so one replace() per character that
    folds to several, then one translate() for those that fold to one (and, past
    the end of its target list, those that fold to nothing) reproduce it exactly:
    what a character folds to is already folded (tests/test_rules_postgres.py).
    """
    singles: dict[str, str] = {}
    multis: dict[str, str] = {}
    dropped: list[str] = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = fold_char(char)
        if folded == char:
            continue
        if not folded:
            dropped.append(char)
        else:
            (singles if len(folded) == 1 else multis)[char] = folded
    expression = "$1"
    for char, folded in multis.items():
        expression = f"replace({expression}, {_unicode_literal(char)}, {_unicode_literal(folded)})"
    sources = _unicode_literal("".join(singles) + "".join(dropped))
    targets = _unicode_literal("".join(singles.values()))
    return (
        "CREATE OR REPLACE FUNCTION pg_temp.pc_casefold(text) RETURNS text"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
        f" AS $fold$ SELECT translate({expression}, {sources}, {targets}) $fold$"
    )
