"""``ws.deliveries`` and ``ws.notifications``: the outbox and in-app notifications."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from pipeline_core.domain.outbox import Delivery, DeliverySettings, DeliveryState, Notification
from pipeline_core.workspace import outbox, runner, transport
from pipeline_core.workspace.runner import RunReport, Sender
from pipeline_core.workspace.session import SessionOpener


class Deliveries:
    """Webhooks and emails written with their cause and sent by a runner."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def run(
        self,
        *,
        limit: int | None = None,
        lease: timedelta = runner.DEFAULT_LEASE,
        send: Sender = transport.send,
        env: Mapping[str, str] | None = None,
    ) -> RunReport:
        """Send every due delivery (at most ``limit``), retrying later what failed."""
        return runner.run_deliveries(self._opener, limit=limit, lease=lease, send=send, env=env)

    def list(
        self, *, state: DeliveryState | None = None, limit: int | None = None
    ) -> builtins.list[Delivery]:
        """The delivery log, newest first (one state, or all)."""
        return self._opener.run(outbox.list_deliveries, state, limit)

    def retry(self, delivery_id: int) -> Delivery:
        """Send a failed (or pending) delivery again at the next run."""
        return self._opener.run(outbox.retry, delivery_id)

    def settings(self) -> DeliverySettings:
        """The webhook secret, SMTP settings and retry schedule."""
        return self._opener.run(outbox.delivery_settings)

    def configure(self, /, **changes: Any) -> DeliverySettings:
        """Change some delivery settings (``DeliverySettings`` attribute names)."""
        return self._opener.run(outbox.configure, **changes)


class Notifications:
    """Notifications for the acting user and their teams."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def list(self, *, unread: bool = False) -> builtins.list[Notification]:
        """The acting user's and their teams' notifications, newest first (system: all)."""
        return self._opener.run(outbox.notifications, unread)

    def read(self, ids: Sequence[int]) -> builtins.list[int]:
        """Mark notifications read; the ids that were unread."""
        return self._opener.run(outbox.mark_read, ids)
