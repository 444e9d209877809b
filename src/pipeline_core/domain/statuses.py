"""Status machines: which statuses exist, in what order, and which moves between them are allowed."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping

import attrs

from pipeline_core.customer import Outcome, outcome_or_none
from pipeline_core.errors import InvalidStatusMachine, InvalidValue, NotFound, TransitionNotAllowed


class EntryAction(enum.StrEnum):
    """Something that happens to a customer when it enters a status."""

    STAMP_CONVERTED_AT = "stamp_converted_at"
    """Set ``converted_at`` to now, once: a later entry never overwrites it."""


def _name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidStatusMachine("a status needs a non-blank name")
    return value.strip()


def _outcome(value: str | None) -> Outcome | None:
    try:
        return outcome_or_none(value)
    except InvalidValue as error:
        raise InvalidStatusMachine(str(error)) from None


def _actions(values: Iterable[EntryAction | str]) -> tuple[EntryAction, ...]:
    try:
        return tuple(EntryAction(value) for value in values)
    except ValueError as error:
        known = ", ".join(action.value for action in EntryAction)
        raise InvalidStatusMachine(f"{error}; known entry actions: {known}") from None


@attrs.frozen
class Status:
    """One status of a machine: its name, an optional won/lost marker and its entry actions."""

    name: str = attrs.field(converter=_name)
    outcome: Outcome | None = attrs.field(default=None, converter=_outcome)
    actions: tuple[EntryAction, ...] = attrs.field(default=(), converter=_actions)


def _statuses(values: Iterable[Status]) -> tuple[Status, ...]:
    return tuple(values)


def _transitions(value: Mapping[str, tuple[str, ...] | list[str]]) -> Mapping[str, tuple[str, ...]]:
    return {source: tuple(targets) for source, targets in value.items()}


@attrs.frozen
class StatusMachine:
    """Ordered statuses and the allowed transitions between them.

    Validated when built: duplicate names, a transition naming an unknown status,
    or a status that no transition reaches (other than the initial one) raise
    ``InvalidStatusMachine``.
    """

    statuses: tuple[Status, ...] = attrs.field(converter=_statuses)
    transitions: Mapping[str, tuple[str, ...]] = attrs.field(converter=_transitions)
    initial: str = ""
    name: str = "default"

    def __attrs_post_init__(self) -> None:
        names = [status.name for status in self.statuses]
        if not names:
            raise InvalidStatusMachine("a status machine needs at least one status")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidStatusMachine(f"status names repeat: {', '.join(repeated)}")
        if not self.initial:
            object.__setattr__(self, "initial", names[0])
        known = set(names)
        if self.initial not in known:
            raise InvalidStatusMachine(f"initial status {self.initial!r} is not a status")
        for source, targets in self.transitions.items():
            for status in (source, *targets):
                if status not in known:
                    raise InvalidStatusMachine(
                        f"transition {source!r} -> {targets!r} names unknown status {status!r}"
                    )
        reached = {target for targets in self.transitions.values() for target in targets}
        unreachable = [n for n in names if n != self.initial and n not in reached]
        if unreachable:
            raise InvalidStatusMachine(
                f"no transition reaches status(es): {', '.join(unreachable)}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """Status names in their defined order."""
        return tuple(status.name for status in self.statuses)

    def __iter__(self) -> Iterator[Status]:
        return iter(self.statuses)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def status(self, name: str) -> Status:
        """The status called ``name``; ``NotFound`` naming the known ones otherwise."""
        for status in self.statuses:
            if status.name == name:
                return status
        raise NotFound(f"unknown status {name!r}; known statuses: {', '.join(self.names)}")

    def allowed_from(self, name: str) -> tuple[str, ...]:
        """The statuses a customer in ``name`` may move to, in machine order."""
        self.status(name)
        targets = set(self.transitions.get(name, ()))
        return tuple(n for n in self.names if n in targets)

    def check(self, current: str, target: str) -> Status:
        """Return the target status if the move is allowed; raise ``TransitionNotAllowed`` if not.

        Moving to the current status is allowed (it is a no-op for the caller).
        """
        status = self.status(target)
        # The transitions name known statuses only (checked when built), so a target
        # listed there is one ``allowed_from`` would list; it is built (and an unknown
        # current status refused) only for the error. A move pays one dict look-up.
        if current != target and target not in self.transitions.get(current, ()):
            raise TransitionNotAllowed(current, target, self.allowed_from(current))
        return status


def default_status_machine() -> StatusMachine:
    """The lead pipeline: Lead -> Prospect -> Quoted -> Customer -> Inactive, with re-engagement."""
    return StatusMachine(
        name="default",
        statuses=(
            Status("Lead"),
            Status("Prospect"),
            Status("Quoted"),
            Status("Customer", outcome="won", actions=(EntryAction.STAMP_CONVERTED_AT,)),
            Status("Inactive"),
        ),
        transitions={
            "Lead": ("Prospect", "Quoted", "Customer", "Inactive"),
            "Prospect": ("Quoted", "Customer", "Inactive"),
            "Quoted": ("Customer", "Inactive"),
            "Customer": ("Inactive",),
            "Inactive": ("Lead", "Prospect"),
        },
    )
