"""The exceptions pipeline_core raises: one base class, one subclass per thing a caller can act on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PipelineError(Exception):
    """Base class of every error pipeline_core raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take structured arguments, so pickle (multiprocessing) rebuilds
        # them from their message and attributes instead of calling __init__ again.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[PipelineError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InvalidValue(PipelineError, ValueError):
    """A value given by the caller is malformed (blank name, bad colour, unknown field...)."""


class NotFound(PipelineError, LookupError):
    """A customer, flow, column or status that does not exist."""


class TransitionNotAllowed(PipelineError):
    """The status machine refuses a move; names both statuses and the allowed targets."""

    def __init__(self, current: str, target: str, allowed: Sequence[str]) -> None:
        self.current = current
        self.target = target
        self.allowed = tuple(allowed)
        targets = ", ".join(self.allowed) if self.allowed else "none"
        super().__init__(
            f"cannot move from {current!r} to {target!r}; allowed from {current!r}: {targets}"
        )


class InvalidStatusMachine(InvalidValue):
    """A status machine definition that is inconsistent (unknown or unreachable statuses...)."""


class ConcurrencyError(PipelineError):
    """A write was based on a stale version of a record that someone else changed meanwhile."""

    def __init__(self, customer_id: int, expected: int, actual: int) -> None:
        self.customer_id = customer_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"customer {customer_id} was changed meanwhile "
            f"(expected version {expected}, found {actual}); reload and try again"
        )


class ContactKeyRace(ConcurrencyError):
    """Another writer added a customer with the same new phone or email at the same moment.

    Raised by stores that enforce key uniqueness themselves (PostgreSQL); the
    workspace re-runs the use case, which then sees the other customer and
    applies the duplicate policy.
    """

    def __init__(self, keys: str) -> None:
        PipelineError.__init__(
            self, f"another writer is adding a customer with {keys} right now; try again"
        )
        self.keys = keys
        self.customer_id = 0
        self.expected = 0
        self.actual = 0


class MergedMeanwhile(ConcurrencyError):
    """A write reached a customer that another writer had just merged into ``into``.

    Stores raise it instead of changing or locking a tombstone (what was merged
    is never changed again). The Session follows the old id to its primary
    when it locks a customer, and the workspace re-runs an unpinned write, so
    callers see it only when they pinned a version or call a store directly.
    """

    def __init__(self, customer_id: int, into: int) -> None:
        self.customer_id = customer_id
        self.into = into
        self.expected = 0
        self.actual = 0
        PipelineError.__init__(
            self,
            f"customer {customer_id} was merged into {into} meanwhile;"
            f" its id now leads to {into}: reload and try again",
        )


class StaleDefinition(ConcurrencyError):
    """A change to a definition (a custom field...) was based on a version someone changed meanwhile."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        self.what = what
        self.customer_id = 0
        self.expected = expected
        self.actual = actual
        PipelineError.__init__(
            self,
            f"{what} was changed meanwhile "
            f"(expected version {expected}, found {actual}); reload and try again",
        )


class StaleCard(ConcurrencyError):
    """A card dropped from a stale board: someone changed the customer since it was drawn.

    ``changed_by`` is who made the last change, ``change`` what it was (for a move,
    "moved from 'Lead' to 'Quoted'"); both None when the timeline does not say.
    """

    def __init__(
        self,
        customer_id: int,
        expected: int,
        actual: int,
        changed_by: str | None = None,
        change: str | None = None,
    ) -> None:
        self.customer_id = customer_id
        self.expected = expected
        self.actual = actual
        self.changed_by = changed_by
        self.change = change
        meanwhile = f" by {changed_by} ({change})" if changed_by and change else ""
        PipelineError.__init__(
            self,
            f"customer {customer_id} was changed meanwhile{meanwhile}: your board showed "
            f"version {expected}, it is now at version {actual}; reload the board and try again",
        )


class NotOnBoard(InvalidValue):
    """A card move on a flow's board for a customer who is not on that board."""


class AlreadyConverted(InvalidValue):
    """Converting a customer to an order a second time without forcing it."""


class DuplicateCustomer(PipelineError):
    """Creating or editing would duplicate existing customers; carries them and the matched keys.

    ``existing`` holds the matching ``Customer`` records the actor may see and
    ``keys`` the ``ContactKey`` values they share. (Typed loosely: this module is
    the bottom of the import graph and knows no domain type.)
    """

    def __init__(self, existing: Sequence[Any], message: str, keys: Sequence[Any] = ()) -> None:
        self.existing = tuple(existing)
        self.keys = tuple(keys)
        super().__init__(message)


class RuleSyntaxError(InvalidValue):
    """A rule that does not parse or type-check.

    Carries the rule ``text``, the 1-based ``line`` and ``column`` (and 0-based
    ``offset``) of the problem, what was ``expected``, what was ``found``, and
    a ``hint`` ("did you mean ...") when a near miss is known.
    """

    def __init__(
        self,
        message: str,
        text: str = "",
        line: int = 1,
        column: int = 1,
        *,
        expected: str = "",
        found: str = "",
        hint: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.text = text
        self.line = line
        self.column = column
        self.reason = message
        self.expected = expected
        self.found = found
        self.hint = hint
        self.offset = offset
        where = f" at line {line}, column {column}" if text else ""
        parts = [f"{message}{where}"]
        if expected:
            parts.append(f"expected {expected}")
        if hint:
            parts.append(f"did you mean {hint!r}?")
        super().__init__("; ".join(parts))

    def pointer(self) -> str:
        """The offending line of the rule with a caret under the position (empty if no text)."""
        if not self.text:
            return ""
        lines = self.text.split("\n")
        line = lines[min(self.line, len(lines)) - 1]
        # Tabs keep their width so that the caret lines up under the character.
        pad = "".join(c if c == "\t" else " " for c in line[: self.column - 1])
        return f"{line}\n{pad}^"


class ImportRowError(InvalidValue):
    """One row of an import file is invalid; names the file, line, column and reason."""

    def __init__(self, file: str, line: int, column: str | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
        where = f"{file}, line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {reason}")


class ImportFileError(InvalidValue):
    """A whole import (or export) file is unusable: missing, empty, binary, badly encoded...

    Raised before anything is written; names the file and the problem.
    """


class StoreError(PipelineError):
    """The store cannot be opened or used: unknown URL scheme, not a pipeline store, too new."""


class PermissionDenied(PipelineError):
    """The acting user may not do this (edit, move, configure); nothing was changed."""


class ImportInterrupted(KeyboardInterrupt):
    """An import stopped by Ctrl-C, with what it had committed: run it again to carry on.

    A ``KeyboardInterrupt`` still (code that does not know this class ends as it
    did), raised from the one the import was interrupted by. ``line`` is the last
    line of the file committed (0: none yet; None when the import was stopped
    before it knew: while it hashed the file), ``rows`` the rows of the file the run
    has committed so far, over every time it was resumed (imported, skipped or
    rejected). Running the same import again resumes after ``line``, exactly once.
    A dry run (``dry_run``) writes nothing, and an ``on_error="abort"`` import
    commits only at its end, so neither leaves anything new to resume from.
    """

    def __init__(self, file: str, line: int | None, rows: int, *, dry_run: bool = False) -> None:
        self.file = file
        self.line = line
        self.rows = rows
        self.dry_run = dry_run
        if dry_run:
            text = f"the dry run of {file} was interrupted; it wrote nothing"
        elif line is None:
            text = f"the import of {file} was interrupted before it read any row"
        else:
            text = (
                f"the import of {file} was interrupted after line {line}"
                f" ({rows:,} rows committed); run it again to resume after that line"
            )
        super().__init__(text)
