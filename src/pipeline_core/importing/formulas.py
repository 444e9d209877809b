"""Cells a spreadsheet would run as a formula, and how CSV exports keep them text.

A spreadsheet opening a CSV file runs any cell that starts with ``=``, ``+``,
``-``, ``@``, TAB or CR as a formula (CSV injection). An export writes such a
cell with one apostrophe in front, which spreadsheets show as text and hide; an
import of CSV or TSV takes one apostrophe off again, so that an export imports
back into the same values. A cell that already starts with apostrophes before
such a character gets one more, which keeps the two exact inverses.
"""

from __future__ import annotations

import re

_ACTIVE = re.compile(r"'*[=+\-@\t\r]")
_PROTECTED = re.compile(r"'+[=+\-@\t\r]")


def neutralized(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows instead of running."""
    return "'" + text if _ACTIVE.match(text) else text


def restored(text: str) -> str:
    """The value ``neutralized`` turned into ``text``."""
    return text[1:] if _PROTECTED.match(text) else text
