"""A streaming reader of one JSON array of objects: elements one at a time, in flat memory.

``json.JSONDecoder.raw_decode`` decodes one element from a text buffer; the buffer
is refilled chunk by chunk, so a file of any size is read with one element (and
one chunk) in memory. No third-party parser needed for this one shape of JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from pipeline_core.errors import ImportFileError

CHUNK = 1 << 16

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


class ElementError(Exception):
    """The array is malformed at ``line``; nothing after it can be read."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def json_array(stream: TextIO, name: str) -> Iterator[tuple[int, Any]]:
    """``(line, element)`` for each element of the array ``stream`` holds.

    ``ImportFileError`` if the text is not an array at all; ``ElementError`` where an
    element cannot be decoded or the array is cut short.
    """
    reader = _Buffer(stream)
    reader.skip_space()
    first = reader.peek()
    if first != "[":
        what = "is empty" if first == "" else f"starts with {first!r}"
        hint = ""
        if first == "{":
            hint = "; for JSON Lines (one object per line) use --nl"
        elif first.isalnum() or first == '"':
            hint = "; if it is CSV, use --input-format csv"
        raise ImportFileError(f"{name}: not a JSON array of objects (it {what}){hint}")
    reader.pos += 1
    started = False
    while True:
        reader.skip_space()
        char = reader.peek()
        if char == "":
            raise ElementError(reader.line(), "the JSON array ends early (truncated file?)")
        if char == "]":
            reader.pos += 1
            reader.skip_space()
            if reader.peek() != "":
                raise ElementError(reader.line(), "text after the end of the JSON array")
            return
        if started:
            if char != ",":
                raise ElementError(
                    reader.line(), f"expected ',' or ']' in the array, found {char!r}"
                )
            reader.pos += 1
            reader.skip_space()
            if reader.peek() in ("]", ""):
                raise ElementError(reader.line(), "a comma before the end of the array")
        yield reader.line(), reader.element()
        started = True


class _Buffer:
    """Text read so far but not yet consumed, and how many lines the consumed part held."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.lines_before = 1
        self.eof = False

    def _more(self, size: int = CHUNK) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(size)
        if not chunk:
            self.eof = True
            return False
        # Drop what is consumed, counting its lines, before growing the buffer.
        self.lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        while self.pos >= len(self.text):
            if not self._more():
                return ""
        return self.text[self.pos]

    def skip_space(self) -> None:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text) or not self._more():
                return

    def line(self) -> int:
        return self.lines_before + self.text.count("\n", 0, self.pos)

    def element(self) -> Any:
        size = CHUNK
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                # Incomplete (cut by the chunk) or invalid: read more; at the end, invalid.
                if self._more(size):
                    size *= 2  # a huge element: grow geometrically, not quadratically
                    continue
                where = self.lines_before + self.text.count("\n", 0, error.pos)
                if error.pos >= len(self.text.rstrip()):
                    raise ElementError(where, "the JSON ends early (truncated file?)") from None
                raise ElementError(where, f"invalid JSON: {error.msg}") from None
            # A number at the very end of the buffer may continue in the next chunk.
            at_end = end == len(self.text) and not self.eof
            if at_end and not isinstance(value, dict | list | str) and self._more(size):
                continue
            self.pos = end
            return value
