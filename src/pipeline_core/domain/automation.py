"""Automation: event handlers run after commit, and declarative "when ... if ... then" automations."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import attrs

from pipeline_core.domain.activity import Priority
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL, Rule

if TYPE_CHECKING:
    from pipeline_core.workspace.facade import Workspace

log = logging.getLogger("pipeline_core.domain.automation")

Handler = Callable[[Event, "Workspace"], object]
"""A subscriber: gets each committed event of its kind and the workspace."""

ActionKind = Literal[
    "add_tag", "remove_tag", "set_folder", "move_status", "create_task", "schedule_follow_up"
]
ACTION_KINDS: tuple[ActionKind, ...] = (
    "add_tag",
    "remove_tag",
    "set_folder",
    "move_status",
    "create_task",
    "schedule_follow_up",
)
SETTINGS_KEY = "automations"
"""The key under which automations live in the store's settings."""

MAX_DEPTH = 8
"""How deep events may cascade (a handler's change triggering handlers...) before we stop."""


def _kind(value: str) -> ActionKind:
    for kind in ACTION_KINDS:
        if value == kind:
            return kind
    raise InvalidValue(f"unknown action {value!r}; known actions: {', '.join(ACTION_KINDS)}")


@attrs.frozen(kw_only=True)
class Action:
    """One thing an automation does to the customer.

    ``value`` is the tag, folder, status, task title or follow-up note; ``days``
    puts a task's due date or a follow-up that many days after today; ``status``
    is the target status for ``set_folder`` when the folder's machine needs one;
    ``reason`` is the lost reason when the move goes to a lost status.
    """

    kind: ActionKind = attrs.field(converter=_kind)
    value: str = ""
    days: int = 0
    status: str | None = None
    reason: str | None = None
    worker: str | None = None
    priority: Priority = "normal"

    def __attrs_post_init__(self) -> None:
        needs_value = self.kind != "schedule_follow_up"
        if needs_value and not self.value.strip():
            raise InvalidValue(f"action {self.kind!r} needs a value")
        if self.days < 0:
            raise InvalidValue(f"action {self.kind!r}: days must be zero or more")


def _name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("an automation needs a non-blank name")
    return value.strip()


def _actions(values: Iterable[Action]) -> tuple[Action, ...]:
    result = tuple(values)
    if not result:
        raise InvalidValue("an automation needs at least one action")
    return result


@attrs.frozen(kw_only=True)
class Automation:
    """When an event of kind ``on`` happens to a customer matching ``rule``, run ``actions``.

    ``activity`` narrows ``external`` events to one activity kind (``order_paid``...).
    """

    name: str = attrs.field(converter=_name)
    on: EventKind = attrs.field(converter=EventKind)
    rule: Rule = MATCH_ALL
    actions: tuple[Action, ...] = attrs.field(converter=_actions)
    activity: str | None = None
    enabled: bool = True

    def triggered_by(self, event: Event) -> bool:
        """Whether ``event`` is of the kind (and activity) this automation waits for."""
        if not self.enabled or event.kind is not self.on:
            return False
        return self.activity is None or event.data.get("activity") == self.activity


@attrs.frozen
class HandlerFailure:
    """A handler or automation that raised: the event, who failed, and the error text."""

    event: Event
    handler: str
    error: str


@attrs.define
class Hooks:
    """The workspace's subscribers, the failures they reported, and the cascade guard."""

    handlers: dict[EventKind, list[Handler]] = attrs.Factory(dict)
    failures: list[HandlerFailure] = attrs.Factory(list)
    _local: threading.local = attrs.Factory(threading.local)

    def on(self, kind: EventKind, handler: Handler) -> None:
        """Subscribe ``handler`` to committed events of ``kind``."""
        self.handlers.setdefault(EventKind(kind), []).append(handler)

    @property
    def running(self) -> tuple[str, ...]:
        """Names of the automations running right now on this thread, outermost first."""
        stack: tuple[str, ...] = getattr(self._local, "running", ())
        return stack

    @contextmanager
    def running_automation(self, name: str) -> Iterator[None]:
        """Mark ``name`` as running, so that the events it causes cannot trigger it again."""
        before = self.running
        self._local.running = (*before, name)
        try:
            yield
        finally:
            self._local.running = before

    def publish(
        self,
        events: Iterable[Event],
        workspace: Workspace,
        automations: Callable[[Event], None],
    ) -> None:
        """Give each event to its handlers, then to the declarative automations.

        A handler that raises is recorded in ``failures`` and logged; the others still run.
        """
        depth: int = getattr(self._local, "depth", 0)
        if depth >= MAX_DEPTH:
            for event in events:
                self.report(event, "publish", f"events cascaded deeper than {MAX_DEPTH}; stopped")
            return
        self._local.depth = depth + 1
        try:
            for event in events:
                for handler in list(self.handlers.get(event.kind, ())):
                    try:
                        handler(event, workspace)
                    except Exception as error:
                        self.report(event, getattr(handler, "__name__", repr(handler)), error)
                try:
                    automations(event)
                except Exception as error:
                    self.report(event, "automations", error)
        finally:
            self._local.depth = depth

    def report(self, event: Event, handler: str, error: Exception | str) -> None:
        """Record and log that ``handler`` failed on ``event``."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.failures.append(HandlerFailure(event, handler, text))
        log.warning(
            "handler %s failed on %s event of customer %s: %s",
            handler,
            event.kind.value,
            event.customer_id,
            text,
        )
