"""Folding text for search and report grouping: transliterated to ASCII, in lower case.

"Łukasz", "Øyvind", "Đorđe" and "Æsa" are found by "lukasz", "oyvind", "dorde"
and "aesa" (and the Turkish dotless i by "i"): letters that are not an accented
Latin letter (Ł, Ø, Đ, Æ, ß) have no combining mark to drop, so removing accents
alone leaves them apart. Each character is spelled in ASCII by anyascii, a maintained
transliteration table covering practically all of Unicode (Cyrillic "Иван" is
"ivan", Greek, Arabic, CJK...). A letter it has no spelling for (rare CJK
extensions, cuneiform) is kept, case-folded, so that it can still be searched for.
Terms stored with one folding do not match queries folded by another: see ``FOLDING``.

This is not the rules' ``~`` operator, which is Python's ``str.casefold`` in both
the Python evaluation and SQL (see ``pipeline_core.rules.casefold``); folding here
happens in Python only, before terms are stored and queries are compared.
"""

from __future__ import annotations

import unicodedata

from anyascii import __version__ as anyascii_version
from anyascii import anyascii

FOLDING = f"fold 1, anyascii {anyascii_version}"
"""Names the folding that search terms are made with. Stores record it beside the terms
and index every customer again when they are opened with another (a new anyascii may
spell a character differently); a change to ``fold`` itself bumps the number."""


def _fold_char(char: str) -> str:
    spelled = anyascii(char)
    if spelled:
        return spelled.lower()
    if not char.isalnum():
        return ""  # a mark, a joiner, an unassigned code point: nothing to search by
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.casefold())


class _Table(dict[int, str]):
    """``str.translate``'s table, filled with each character's folding on first sight."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_TABLE = _Table({code: chr(code).lower() for code in range(128)})


def fold(text: str) -> str:
    """``text`` for comparing: case-folded, each character transliterated to ASCII, lower case.

    Idempotent: ``fold(fold(text)) == fold(text)``.
    """
    if text.isascii():
        return text.lower()  # the same result, without the table
    # Unicode's full case folding first, so that both cases of a letter whose case
    # mapping adds a character ("ῲ", "ῼ") spell alike.
    return text.casefold().translate(_TABLE)
