"""Use cases of the outbox: writing deliveries and notifications with their cause, claiming
and recording deliveries, retrying by hand, and reading notifications.

Sending itself happens outside any transaction (``pipeline_core.workspace.transport``),
between a ``claim`` session and a ``record`` session, run by ``ws.deliveries.run()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.automation import Action, Automation, recipient_of
from pipeline_core.domain.events import Event
from pipeline_core.domain.outbox import SETTINGS_KEY as DELIVERIES_KEY
from pipeline_core.domain.outbox import (
    Delivery,
    DeliverySettings,
    DeliveryState,
    Notification,
    customer_json,
    event_json,
    render,
    template_values,
)
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.workspace import records
from pipeline_core.workspace.definitions import lifecycle
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session

DEFAULT_SUBJECT = "$event: $name"
DEFAULT_BODY = "$event for $name (customer $id) at $at."


@attrs.frozen
class Outcome:
    """How one attempt went: delivered, or the error and whether trying again can help."""

    ok: bool
    error: str = ""
    permanent: bool = False


# settings ---------------------------------------------------------------------------


def delivery_settings(s: Session) -> DeliverySettings:
    """The webhook secret, SMTP settings and retry schedule in force."""
    data = s.get_setting(DELIVERIES_KEY)
    return DeliverySettings() if data is None else converter.structure(data, DeliverySettings)


def configure(s: Session, /, **changes: Any) -> DeliverySettings:
    """Change some delivery settings (``DeliverySettings`` attribute names); the rest stay."""
    require_admin(s, "change delivery settings")
    known = {a.name for a in attrs.fields(DeliverySettings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidValue(f"unknown delivery settings: {', '.join(unknown)}")
    updated = attrs.evolve(delivery_settings(s), **changes)
    s.put_setting(DELIVERIES_KEY, converter.unstructure(updated))
    return updated


# writing: in the transaction of the event that caused it --------------------------------


def enqueue(s: Session, automations: Iterable[Automation], events: Sequence[Event]) -> int:
    """Write the outbound actions of the automations these events trigger; how many rows.

    Runs inside the session whose events they are, before it commits: a delivery
    exists exactly when its cause does. Automations run with the system's rights,
    so the customer is read unscoped; one whose run this session is part of is
    not triggered again.
    """
    wanted = [a for a in automations if a.outbound and a.name not in s.automations]
    if not wanted:
        return 0
    zone = lifecycle(s).zone
    # One predicate per automation, evaluated as ``automations.apply`` evaluates it (the
    # store's day and clock, the customer's linked records), and one read per event.
    rules = [(automation, records.predicate(s, automation.rule)) for automation in wanted]
    written = 0
    for event in events:
        customer: Customer | None = None
        for automation, holds in rules:
            if not automation.triggered_by(event):
                continue
            if customer is None:
                customer = s.unscoped.get_customer(event.customer_id)
            if holds(customer):
                written += write_actions(s, automation, automation.outbound, customer, event, zone)
    return written


def write_actions(
    s: Session,
    automation: Automation,
    actions: Iterable[Action],
    customer: Customer,
    event: Event | None,
    zone: ZoneInfo,
) -> int:
    """Write one automation's outbound actions for one customer; how many rows."""
    now = s.now()
    values = template_values(customer, event, zone)
    deliveries: list[Delivery] = []
    notifications: list[Notification] = []
    for action in actions:
        common: dict[str, Any] = {
            "automation": automation.name,
            "customer_id": customer.id,
            "event_id": None if event is None else event.id,
            "created_at": now,
        }
        match action.kind:
            case "webhook":
                payload: dict[str, Any] = {
                    "automation": automation.name,
                    "customer": customer_json(customer, zone),
                    "event": None if event is None else event_json(event, zone),
                }
                deliveries.append(
                    Delivery(
                        channel="webhook",
                        target=action.value.strip(),
                        payload=payload,
                        next_attempt_at=now,
                        **common,
                    )
                )
            case "email":
                to = render(action.value.strip(), values) or values["email"]
                mail = {
                    "subject": render(action.subject or DEFAULT_SUBJECT, values),
                    "body": render(action.body or DEFAULT_BODY, values),
                }
                # Kept, failed with its reason, so that it shows in the delivery list.
                missing = "" if to else f"customer {customer.id} has no email address"
                deliveries.append(
                    Delivery(
                        channel="email",
                        target=to,
                        payload=mail,
                        next_attempt_at=now,
                        state="failed" if missing else "pending",
                        last_error=missing,
                        **common,
                    )
                )
            case "notify":
                notifications.append(
                    Notification(
                        recipient=recipient_of(action.value),
                        message=render(action.body or DEFAULT_BODY, values),
                        **common,
                    )
                )
    s.insert_deliveries(deliveries)
    s.insert_notifications(notifications)
    return len(deliveries) + len(notifications)


# the runner's two sessions around a send ----------------------------------------------------


def claim(
    s: Session, limit: int, lease: timedelta
) -> tuple[list[Delivery], DeliverySettings, datetime]:
    """Lease up to ``limit`` due deliveries; them, the settings to send them with, the lease."""
    require_admin(s, "run deliveries")
    now = s.now()
    claimed = s.claim_deliveries(now, now + lease, limit)
    return claimed, delivery_settings(s), now + lease


def record(
    s: Session,
    delivery: Delivery,
    claimed: datetime,
    outcome: Outcome,
    settings: DeliverySettings,
) -> Delivery:
    """Store how an attempt went: delivered, retried later (backing off), or failed for good.

    Stored only if this runner's lease still holds; the delivery as stored then.
    """
    now = s.now()
    attempts = delivery.attempts + 1
    if outcome.ok:
        updated = attrs.evolve(
            delivery,
            state="delivered",
            attempts=attempts,
            delivered_at=now,
            lease_until=None,
            last_error="",
        )
    else:
        again = None if outcome.permanent else settings.retry_at(attempts, now)
        updated = attrs.evolve(
            delivery,
            state="failed" if again is None else "pending",
            attempts=attempts,
            next_attempt_at=again or delivery.next_attempt_at,
            lease_until=None,
            last_error=outcome.error,
        )
    s.finish_delivery(updated, claimed=claimed)
    return updated


def list_deliveries(
    s: Session, state: DeliveryState | None = None, limit: int | None = None
) -> list[Delivery]:
    """The delivery log, newest first (one state, or all)."""
    require_admin(s, "read the delivery log")
    return s.list_deliveries(state=state, limit=limit)


def retry(s: Session, delivery_id: int) -> Delivery:
    """Send a failed delivery again at the next run, with a fresh count of attempts."""
    require_admin(s, "retry deliveries")
    found = s.get_delivery(delivery_id)
    if found.state == "delivered":
        raise InvalidValue(f"delivery {delivery_id} was delivered; it is never sent again")
    updated = attrs.evolve(
        found, state="pending", attempts=0, next_attempt_at=s.now(), lease_until=None
    )
    s.finish_delivery(updated, claimed=found.lease_until)
    return updated


# notifications ---------------------------------------------------------------------------


def _recipients(s: Session) -> list[str] | None:
    user = s.principal.user
    if user is None:
        return None  # the system actor reads everyone's
    return [f"user:{user.name}", *(f"team:{team}" for team in user.teams)]


def notifications(s: Session, unread: bool = False) -> list[Notification]:
    """The acting user's notifications and their teams', newest first (system: all)."""
    return s.list_notifications(_recipients(s), unread_only=unread)


def mark_read(s: Session, ids: Sequence[int]) -> list[int]:
    """Mark notifications read; the ids changed. Another person's are ``NotFound``."""
    mine = {n.id for n in s.list_notifications(_recipients(s))}
    for notification_id in ids:
        if notification_id not in mine:
            raise NotFound(f"no notification with id {notification_id}")
    return s.mark_read(list(ids), _recipients(s), s.now())
