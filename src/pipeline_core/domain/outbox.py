"""The outbox: deliveries that leave the process (webhooks, email) and in-app notifications.

A delivery is written in the same transaction as the event that caused it and
sent afterwards by a runner (``ws.deliveries.run()``); the pure parts live here:
the rows, the retry schedule, the webhook signature and body, the templates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.events import Event, JSONValue
from pipeline_core.errors import InvalidValue

Channel = Literal["webhook", "email"]
DeliveryState = Literal["pending", "delivered", "failed"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "delivered", "failed")

SIGNATURE_HEADER = "X-Pipeline-Signature"
"""The header carrying ``sha256=HEX``: HMAC-SHA256 of the exact body bytes with the secret."""
DELIVERY_HEADER = "X-Pipeline-Delivery"
"""The header carrying the delivery id: the same on every retry, so receivers can de-duplicate."""

SETTINGS_KEY = "deliveries"
"""The key of the delivery settings (webhook secret, SMTP, retries) in the store's settings."""


def _state(value: str) -> DeliveryState:
    if value not in DELIVERY_STATES:
        raise InvalidValue(f"unknown delivery state {value!r}; known: {', '.join(DELIVERY_STATES)}")
    return value


@attrs.frozen(kw_only=True)
class Delivery:
    """One message to send: where (``channel``, ``target``), what (``payload``), and how it went.

    ``payload`` is the webhook body without its ``delivery`` id, or an email's
    ``subject`` and ``body``. ``lease_until`` is set while a runner holds it: a
    runner killed half-way leaves a lease that runs out, and the delivery is
    claimed again.
    """

    channel: Channel
    target: str
    payload: Mapping[str, JSONValue]
    automation: str
    customer_id: int
    event_id: int | None
    created_at: datetime
    next_attempt_at: datetime
    id: int = 0
    state: DeliveryState = attrs.field(default="pending", converter=_state)
    attempts: int = 0
    lease_until: datetime | None = None
    last_error: str = ""
    delivered_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Notification:
    """An in-app notification for a user (``user:ann``) or a team (``team:North``)."""

    recipient: str
    message: str
    customer_id: int
    automation: str
    event_id: int | None
    created_at: datetime
    id: int = 0
    read_at: datetime | None = None


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidValue(f"{attribute.name} must be a number above zero, not {value!r}")


@attrs.frozen(kw_only=True)
class DeliverySettings:
    """Where and how deliveries are sent.

    ``webhook_secret`` signs webhook bodies (never printed). The SMTP password
    is not stored: ``smtp_user_env`` and ``smtp_password_env`` name the
    environment variables the runner reads it from.
    """

    webhook_secret: str = attrs.field(default="", repr=False)
    timeout: float = attrs.field(default=10.0, validator=_positive)
    max_attempts: int = attrs.field(default=8, validator=_positive)
    backoff: float = attrs.field(default=30.0, validator=_positive)
    max_backoff: float = attrs.field(default=6 * 3600.0, validator=_positive)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user_env: str = ""
    smtp_password_env: str = ""
    sender: str = "pipeline@localhost"

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed tries; None once they are used up.

        The wait doubles from ``backoff`` seconds (30 s, 1 min, 2 min...), capped at
        ``max_backoff``.
        """
        if attempts >= self.max_attempts:
            return None
        wait = min(self.backoff * 2 ** (attempts - 1), self.max_backoff)
        return now + timedelta(seconds=wait)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Pipeline-Signature`` value of ``body``: ``sha256=`` and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant time): what a receiver checks."""
    return hmac.compare_digest(signature(secret, body), header)


def webhook_body(delivery: Delivery) -> bytes:
    """The exact bytes POSTed: the payload with the delivery id, compact JSON, keys sorted."""
    data = {"delivery": delivery.id, **delivery.payload}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def local_iso(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as a person of the workspace reads it: ISO 8601 with the zone's offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def template_values(customer: Customer, event: Event | None, zone: ZoneInfo) -> dict[str, str]:
    """What ``$name`` and friends stand for in subjects, bodies and notification messages.

    The customer's fields (``$name``, ``$email``, ``$phone``, ``$status``,
    ``$folder``, ``$team``, ``$next_follow_up``, ``$id``), each custom field by
    its key, and the event (``$event``, ``$at`` and ``$due_at`` in the
    workspace's zone).
    """
    values = {key: str(value) for key, value in customer.fields.items()}
    values.update(
        id=str(customer.id),
        name=customer.name,
        email=customer.emails[0] if customer.emails else "",
        phone=customer.phones[0] if customer.phones else "",
        status=customer.status,
        folder=customer.folder or "",
        team=customer.team or "",
        next_follow_up=(
            "" if customer.next_follow_up is None else customer.next_follow_up.isoformat()
        ),
    )
    if event is not None:
        values["event"] = event.kind.value
        values["at"] = local_iso(event.at, zone)
        due_at = event.data.get("due_at")
        values["due_at"] = due_at if isinstance(due_at, str) else ""
    return values


def render(template: str, values: Mapping[str, str]) -> str:
    """``template`` with ``$key`` replaced; unknown keys are left as written.

    ``string.Template``, not ``str.format``: a template typed by a user cannot
    reach attributes of the values.
    """
    return string.Template(template).safe_substitute(values)


def customer_json(customer: Customer, zone: ZoneInfo) -> dict[str, JSONValue]:
    """The customer as a webhook body shows it (moments in the workspace's zone)."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else local_iso(value, zone)

    return {
        "id": customer.id,
        "name": customer.name,
        "status": customer.status,
        "folder": customer.folder,
        "team": customer.team,
        "emails": list(customer.emails),
        "phones": list(customer.phones),
        "tags": list(customer.tags),
        "workers": list(customer.workers),
        "next_follow_up": (
            None if customer.next_follow_up is None else customer.next_follow_up.isoformat()
        ),
        "created_at": moment(customer.created_at),
        "updated_at": moment(customer.updated_at),
    }


def event_json(event: Event, zone: ZoneInfo) -> dict[str, JSONValue]:
    """An event as a webhook body shows it."""
    return {
        "id": event.id,
        "kind": event.kind.value,
        "at": local_iso(event.at, zone),
        "actor": event.actor,
        "data": dict(event.data),
    }
