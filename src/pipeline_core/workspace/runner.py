"""The delivery runner and the watch loop: sessions around the sends, never a send inside one.

A run claims a batch of due deliveries in one session (a lease, so that a runner
killed half-way leaves them to the next), sends each outside any transaction,
and records each outcome in a session of its own at once: a delivery a
receiver accepted with a 2xx is marked delivered before the next one is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import attrs

from pipeline_core.domain.outbox import Delivery, DeliverySettings
from pipeline_core.workspace import firing, outbox, transport
from pipeline_core.workspace.firing import Fired
from pipeline_core.workspace.outbox import Outcome
from pipeline_core.workspace.session import SessionOpener

Sender = Callable[[Delivery, DeliverySettings, Mapping[str, str]], Outcome]

DEFAULT_LEASE = timedelta(minutes=5)
BATCH = 20
"""Deliveries claimed at once: with a 10 s timeout each, well inside the 5-minute lease."""


@attrs.frozen
class RunReport:
    """What one delivery run did: how many were delivered, will be retried, failed for good."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def __add__(self, other: RunReport) -> RunReport:
        return RunReport(
            self.delivered + other.delivered,
            self.retried + other.retried,
            self.failed + other.failed,
        )


def run_deliveries(
    opener: SessionOpener,
    *,
    limit: int | None = None,
    lease: timedelta = DEFAULT_LEASE,
    batch: int = BATCH,
    send: Sender = transport.send,
    env: Mapping[str, str] | None = None,
) -> RunReport:
    """Send every delivery that is due (at most ``limit``); what happened to them."""
    environment = transport.environment() if env is None else env
    report = RunReport()
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        claimed, settings, until = opener.run(outbox.claim, size, lease)
        if not claimed:
            break
        for delivery in claimed:
            outcome = send(delivery, settings, environment)
            stored = opener.run(outbox.record, delivery, until, outcome, settings)
            report += RunReport(
                delivered=int(stored.state == "delivered"),
                retried=int(stored.state == "pending"),
                failed=int(stored.state == "failed"),
            )
        done += len(claimed)
    return report


def watch(
    opener: SessionOpener,
    *,
    interval: float,
    stop: threading.Event,
    on_round: Callable[[Fired, RunReport], object] = lambda fired, report: None,
    at: Callable[[], datetime | None] = lambda: None,
) -> int:
    """Fire reminders and run deliveries every ``interval`` seconds until ``stop`` is set.

    Returns how many rounds ran. A round in progress finishes before the loop
    ends: nothing is left half-done by a stop.
    """
    rounds = 0
    while not stop.is_set():
        fired = opener.run(firing.fire, at())
        report = run_deliveries(opener)
        on_round(fired, report)
        rounds += 1
        stop.wait(interval)
    return rounds
