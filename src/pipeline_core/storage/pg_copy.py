"""PostgreSQL's COPY text format, written by hand for bulk inserts.

``copy.write_row`` adapts every value through psycopg's type machinery, which is
most of a bulk import's client time; rows of plain text and integers need only
the format's escapes (backslash, newline, carriage return, tab) and ``\\N`` for
NULL, so a batch becomes one string sent with ``copy.write``. Columns of other
types take their text input form (ISO timestamps, JSON text for jsonb).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

CopyValue = str | int | float | None
"""What a COPY text field can be made from here."""

_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_SPECIAL = re.compile(r"[\\\n\r\t]")


def field(value: CopyValue) -> str:
    """One field of a COPY text row."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        # Most text has nothing to escape: one scan instead of a translation.
        return value.translate(_ESCAPES) if _SPECIAL.search(value) else value
    if isinstance(value, bool):  # an int, but PostgreSQL reads booleans as t/f
        return "t" if value else "f"
    return repr(value) if isinstance(value, float) else str(value)


def copy_text(rows: Iterable[Sequence[CopyValue]]) -> str:
    """Rows as COPY text: tab-separated fields, one line per row."""
    return "".join("\t".join([field(value) for value in row]) + "\n" for row in rows)
