"""Case-insensitive contains (``~``) in SQL, folding exactly like Python's ``str.casefold``.

SQLite's lower() and LIKE fold ASCII only, and PostgreSQL's lower() neither
expands "ß" to "ss" nor depends only on Unicode (it follows the database's
locale). So each SQL backend gets a function that folds as Python does:
SQLite registers ``casefold_contains`` on its connection; PostgreSQL creates
``pg_temp.pc_casefold`` in each session from the running Python's own case
folding table, so the two can never disagree.
"""

from __future__ import annotations

import functools
import sys


def casefold_contains(value: object, needle: object) -> int:
    """``needle in casefold(value)`` as 0 or 1 (0 for NULL); the needle comes casefolded."""
    if not isinstance(value, str) or not isinstance(needle, str):
        return 0
    return int(needle in value.casefold())


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
    """``CREATE FUNCTION pg_temp.pc_casefold(text)``: Python's casefold as PostgreSQL SQL.

    Case folding maps each character on its own, so one translate() for the
    characters that fold to one character and one replace() per character
    that folds to several reproduce it exactly.
    """
    singles: dict[str, str] = {}
    multis: dict[str, str] = {}
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = char.casefold()
        if folded != char:
            (singles if len(folded) == 1 else multis)[char] = folded
    expression = "$1"
    for char, folded in multis.items():
        expression = f"replace({expression}, {_unicode_literal(char)}, {_unicode_literal(folded)})"
    sources = _unicode_literal("".join(singles))
    targets = _unicode_literal("".join(singles.values()))
    return (
        "CREATE OR REPLACE FUNCTION pg_temp.pc_casefold(text) RETURNS text"
        " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
        f" AS $fold$ SELECT translate({expression}, {sources}, {targets}) $fold$"
    )
