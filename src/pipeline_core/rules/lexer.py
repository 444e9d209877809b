"""The rule tokenizer: rule text to a list of tokens, each knowing where it starts."""

from __future__ import annotations

import re
from typing import Literal

import attrs

from pipeline_core.errors import RuleSyntaxError

TokenKind = Literal["string", "number", "moment", "date", "word", "op", "end"]

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "any",
        "all",
        "none",
        "has",
        "within",
        "next",
        "day",
        "days",
        "hour",
        "hours",
        "minute",
        "minutes",
        "today",
        "before",
        "after",
        "on",
        "true",
        "false",
    }
)
"""Words with a meaning of their own (matched case-insensitively)."""

_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}

_SPACE = re.compile(r"\s+")
_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})(?![\w.])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w.])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"[^\W\d]\w*")
_OPS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">", "~", "(", ")", ",", ".", "+", "-")


@attrs.frozen
class Token:
    """One token: its kind, its text (a string's value unescaped), and its offset in the rule."""

    kind: TokenKind
    text: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        """Whether this is one of the given words (case-insensitive)."""
        return self.kind == "word" and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        """Whether this is one of the given operators or punctuation marks."""
        return self.kind == "op" and self.text in ops


def position(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of an offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def error_at(
    text: str,
    offset: int,
    message: str,
    *,
    expected: str = "",
    found: str = "",
    hint: str | None = None,
) -> RuleSyntaxError:
    """A RuleSyntaxError pointing at ``offset`` of ``text``."""
    line, column = position(text, offset)
    return RuleSyntaxError(
        message, text, line, column, expected=expected, found=found, hint=hint, offset=offset
    )


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return "".join(out), index + 1
        if "\ud800" <= char <= "\udfff":
            raise error_at(text, index, "a lone surrogate is not a character", expected="text")
        if char == "\\":
            if index + 1 >= len(text):
                break
            code = text[index + 1]
            if code == "u":
                digits = text[index + 2 : index + 6]
                if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise error_at(
                        text, index, "bad \\u escape", expected="four hex digits after \\u"
                    )
                if 0xD800 <= int(digits, 16) <= 0xDFFF:
                    raise error_at(
                        text,
                        index,
                        f"\\u{digits} is a lone surrogate, not a character",
                        expected="a character outside D800-DFFF",
                    )
                out.append(chr(int(digits, 16)))
                index += 6
                continue
            if code not in _ESCAPES:
                raise error_at(
                    text,
                    index,
                    f"unknown escape \\{code}",
                    expected="one of \\\\ \\' \\\" \\n \\t \\r \\0 \\uXXXX",
                    found="\\" + code,
                )
            out.append(_ESCAPES[code])
            index += 2
            continue
        out.append(char)
        index += 1
    raise error_at(text, start, "text is not closed", expected=f"a closing {quote}", found=quote)


def tokenize(text: str) -> list[Token]:
    """Split rule text into tokens, ending with an ``end`` token."""
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        space = _SPACE.match(text, index)
        if space:
            index = space.end()
            continue
        char = text[index]
        if char in "'\"":
            value, end = _string(text, index)
            tokens.append(Token("string", value, index, end))
            index = end
            continue
        patterns = (("moment", _MOMENT), ("date", _DATE), ("number", _NUMBER), ("word", _WORD))
        for kind, pattern in patterns:
            match = pattern.match(text, index)
            if match:
                tokens.append(Token(kind, match.group(), index, match.end()))  # type: ignore[arg-type]
                index = match.end()
                break
        else:
            for op in _OPS:
                if text.startswith(op, index):
                    tokens.append(Token("op", op, index, index + len(op)))
                    index += len(op)
                    break
            else:
                found = text[index : index + 10].split()[0] if text[index:].split() else char
                raise error_at(
                    text,
                    index,
                    f"unexpected character {char!r}",
                    expected="a field, a value, an operator or a parenthesis",
                    found=found,
                )
    tokens.append(Token("end", "", len(text), len(text)))
    return tokens
