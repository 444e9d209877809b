"""The outbox and notifications as tables, JSON and CSV; moments in the workspace's zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TypedDict

import attrs

from pipeline_core.domain.events import Event
from pipeline_core.domain.outbox import Channel, Delivery, DeliveryState, Notification
from pipeline_core.render.common import Format, records_output
from pipeline_core.render.life import events_output
from pipeline_core.render.shapes import DateTimeText

DELIVERY_COLUMNS = (
    "id",
    "state",
    "channel",
    "target",
    "automation",
    "customer_id",
    "attempts",
    "next_attempt_at",
    "delivered_at",
    "last_error",
)
NOTIFICATION_COLUMNS = ("id", "created_at", "recipient", "customer_id", "message", "read")


class DeliveryRecord(TypedDict):
    """A delivery of the outbox as the log shows it (its body is not repeated)."""

    id: int
    state: DeliveryState
    channel: Channel
    target: str
    automation: str
    customer_id: int
    event_id: int | None
    attempts: int
    created_at: DateTimeText
    next_attempt_at: DateTimeText
    delivered_at: DateTimeText | None
    last_error: str


class NotificationRecord(TypedDict):
    """An in-app notification."""

    id: int
    recipient: str
    message: str
    customer_id: int
    automation: str
    event_id: int | None
    created_at: DateTimeText
    read: bool
    read_at: DateTimeText | None


def local(moment: datetime, zone: tzinfo | None) -> str:
    """A moment in the workspace's zone, ISO 8601 with its offset (seconds)."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if zone else moment.isoformat()


def _maybe(moment: datetime | None, zone: tzinfo | None) -> str | None:
    return None if moment is None else local(moment, zone)


def delivery_record(delivery: Delivery, zone: tzinfo | None = None) -> DeliveryRecord:
    """A delivery as its JSON object."""
    return {
        "id": delivery.id,
        "state": delivery.state,
        "channel": delivery.channel,
        "target": delivery.target,
        "automation": delivery.automation,
        "customer_id": delivery.customer_id,
        "event_id": delivery.event_id,
        "attempts": delivery.attempts,
        "created_at": local(delivery.created_at, zone),
        "next_attempt_at": local(delivery.next_attempt_at, zone),
        "delivered_at": _maybe(delivery.delivered_at, zone),
        "last_error": delivery.last_error,
    }


def deliveries_output(
    deliveries: Sequence[Delivery], fmt: Format, zone: tzinfo | None = None
) -> str:
    """The delivery log in the chosen format."""
    records = [dict(delivery_record(d, zone)) for d in deliveries]
    return records_output(records, DELIVERY_COLUMNS, fmt, none="No deliveries.\n")


def notification_record(
    notification: Notification, zone: tzinfo | None = None
) -> NotificationRecord:
    """A notification as its JSON object."""
    return {
        "id": notification.id,
        "recipient": notification.recipient,
        "message": notification.message,
        "customer_id": notification.customer_id,
        "automation": notification.automation,
        "event_id": notification.event_id,
        "created_at": local(notification.created_at, zone),
        "read": notification.read_at is not None,
        "read_at": _maybe(notification.read_at, zone),
    }


def notifications_output(
    notifications: Sequence[Notification], fmt: Format, zone: tzinfo | None = None
) -> str:
    """Notifications in the chosen format."""
    records = [dict(notification_record(n, zone)) for n in notifications]
    return records_output(records, NOTIFICATION_COLUMNS, fmt, none="No notifications.\n")


def fired_output(events: Sequence[Event], fmt: Format, zone: tzinfo | None = None) -> str:
    """The ``reminder_due`` and ``task_due`` events a run recorded, their moments in ``zone``."""
    if fmt == "table" and not events:
        return "Nothing due.\n"
    shown = [attrs.evolve(e, at=e.at.astimezone(zone)) for e in events] if zone else events
    return events_output(shown, fmt)
