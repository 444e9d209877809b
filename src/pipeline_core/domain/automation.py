"""Declarative "when ... if ... then" automations (handlers and publishing are in the facade)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args
from urllib.parse import urlsplit

import attrs

from pipeline_core.domain.activity import Priority
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.parser import parse

ActionKind = Literal[
    "add_tag",
    "remove_tag",
    "set_folder",
    "move_status",
    "create_task",
    "schedule_follow_up",
    "webhook",
    "email",
    "notify",
]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
OUTBOUND: frozenset[ActionKind] = frozenset({"webhook", "email", "notify"})
"""Actions that leave the customer record: written to the outbox (or the notifications) in
the transaction of the event that triggered them, never after it."""
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

    Outbound actions: ``webhook`` POSTs to the URL in ``value``; ``email`` sends
    to the address in ``value`` (blank: the customer's first email) with the
    templates ``subject`` and ``body``; ``notify`` writes ``body`` as a
    notification for ``value`` (``user:NAME`` or ``team:NAME``). Templates use
    ``$name``, ``$email``, ``$due_at``... (``pipeline_core.domain.outbox.template_values``).
    """

    kind: ActionKind = attrs.field(converter=_kind)
    value: str = ""
    days: int = 0
    status: str | None = None
    reason: str | None = None
    worker: str | None = None
    priority: Priority = "normal"
    subject: str = ""
    body: str = ""

    def __attrs_post_init__(self) -> None:
        needs_value = self.kind not in ("schedule_follow_up", "email")
        if needs_value and not self.value.strip():
            raise InvalidValue(f"action {self.kind!r} needs a value")
        if self.days < 0:
            raise InvalidValue(f"action {self.kind!r}: days must be zero or more")
        if self.kind == "webhook" and urlsplit(self.value.strip()).scheme not in ("http", "https"):
            raise InvalidValue(
                f"webhook {self.value!r}: the URL must start with http:// or https://"
            )
        if self.kind == "notify":
            recipient_of(self.value)

    @property
    def outbound(self) -> bool:
        """Whether the action leaves the customer record (webhook, email, notify)."""
        return self.kind in OUTBOUND


def recipient_of(value: str) -> str:
    """A notify action's recipient as stored: ``user:NAME`` or ``team:NAME`` (bare: a user)."""
    kind, sep, name = value.strip().partition(":")
    if not sep:
        kind, name = "user", kind
    if kind not in ("user", "team") or not name.strip():
        raise InvalidValue(f"notify {value!r}: give user:NAME or team:NAME")
    return f"{kind}:{name.strip()}"


def _name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("an automation needs a non-blank name")
    return value.strip()


def _as_rule(value: Rule | str) -> Rule:
    # Rule text is parsed here, so a bad rule is refused with its position at once.
    return parse(value) if isinstance(value, str) else value


def _actions(values: Iterable[Action]) -> tuple[Action, ...]:
    result = tuple(values)
    if not result:
        raise InvalidValue("an automation needs at least one action")
    return result


@attrs.frozen(kw_only=True)
class Automation:
    """When an event of kind ``on`` happens to a customer matching ``rule``, run ``actions``.

    ``rule`` may be given as rule text (docs/rules.md). ``activity`` narrows ``external`` events to one activity kind (``order_paid``...).
    """

    name: str = attrs.field(converter=_name)
    on: EventKind = attrs.field(converter=EventKind)
    rule: Rule = attrs.field(default=MATCH_ALL, converter=_as_rule)
    actions: tuple[Action, ...] = attrs.field(converter=_actions)
    activity: str | None = None
    enabled: bool = True

    @property
    def outbound(self) -> tuple[Action, ...]:
        """The actions written to the outbox in the triggering event's transaction."""
        return tuple(action for action in self.actions if action.outbound)

    @property
    def in_process(self) -> tuple[Action, ...]:
        """The actions that change the customer, run after the triggering event commits."""
        return tuple(action for action in self.actions if not action.outbound)

    def triggered_by(self, event: Event) -> bool:
        """Whether ``event`` is of the kind (and activity) this automation waits for."""
        if not self.enabled or event.kind is not self.on:
            return False
        return self.activity is None or event.data.get("activity") == self.activity


def automations_from(data: JSONValue) -> dict[str, Automation]:
    """Automations from their stored setting (``SETTINGS_KEY``), by name."""
    if not isinstance(data, dict):
        return {}
    return {name: converter.structure(value, Automation) for name, value in data.items()}
