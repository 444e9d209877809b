"""The outbox in the SQL backends: fired-reminder keys, deliveries and notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from pipeline_core.domain.outbox import Delivery, DeliveryState, Notification
from pipeline_core.errors import NotFound
from pipeline_core.storage.sql.base import SqlBackend

DELIVERY_COLUMNS = (
    "id, channel, target, payload, automation, customer_id, event_id, created_at,"
    " next_attempt_at, state, attempts, lease_until, last_error, delivered_at"
)
NOTIFICATION_COLUMNS = (
    "id, recipient, message, customer_id, automation, event_id, created_at, read_at"
)


class OutboxQueries(SqlBackend):
    """The SQL of fired reminders, deliveries and notifications."""

    SKIP_LOCKED: ClassVar[str] = ""
    """How a claim's sub-select skips rows another claim holds (PostgreSQL's row locks)."""

    def _maybe_moment(self, stored: Any) -> datetime | None:
        return None if stored is None else self._moment_in(stored)

    def mark_fired(self, keys: Sequence[str], at: datetime) -> list[str]:
        sql = self._sql("INSERT INTO fired (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
        stamp = self._moment_out(at)
        # One statement per key: on PostgreSQL a key another transaction holds waits for
        # it, and the row count says which were new.
        return [key for key in dict.fromkeys(keys) if self._db.execute(sql, (key, stamp)).rowcount]

    def _delivery(self, row: Sequence[Any]) -> Delivery:
        return Delivery(
            id=row[0],
            channel=row[1],
            target=row[2],
            payload=self._json_in(row[3]),
            automation=row[4],
            customer_id=row[5],
            event_id=row[6],
            created_at=self._moment_in(row[7]),
            next_attempt_at=self._moment_in(row[8]),
            state=row[9],
            attempts=row[10],
            lease_until=self._maybe_moment(row[11]),
            last_error=row[12],
            delivered_at=self._maybe_moment(row[13]),
        )

    def insert_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        stored = []
        for d in deliveries:
            new_id = self._insert_id(
                "INSERT INTO deliveries (channel, target, payload, automation, customer_id,"
                " event_id, created_at, next_attempt_at, state, attempts, lease_until,"
                " last_error, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    d.channel,
                    d.target,
                    self._json_out(dict(d.payload)),
                    d.automation,
                    d.customer_id,
                    d.event_id,
                    self._moment_out(d.created_at),
                    self._moment_out(d.next_attempt_at),
                    d.state,
                    d.attempts,
                    self._moment_out(d.lease_until),
                    d.last_error,
                    self._moment_out(d.delivered_at),
                ],
            )
            stored.append(self.get_delivery(new_id))
        return stored

    def claim_deliveries(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        moment = self._moment_out(now)
        rows = self._rows(
            "UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT id FROM deliveries"
            " WHERE state = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until <= ?)"
            f" ORDER BY next_attempt_at, id LIMIT ?{self.SKIP_LOCKED}) RETURNING {DELIVERY_COLUMNS}",
            [self._moment_out(lease_until), moment, moment, limit],
        )
        claimed = [self._delivery(row) for row in rows]
        return sorted(claimed, key=lambda d: (d.next_attempt_at, d.id))

    def get_delivery(self, delivery_id: int) -> Delivery:
        row = self._one(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", [delivery_id])
        if row is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        return self._delivery(row)

    def finish_delivery(self, delivery: Delivery, *, claimed: datetime | None) -> bool:
        lease = "lease_until IS NULL" if claimed is None else "lease_until = ?"
        params: list[Any] = [
            delivery.state,
            delivery.attempts,
            self._moment_out(delivery.next_attempt_at),
            delivery.last_error,
            self._moment_out(delivery.delivered_at),
            self._moment_out(delivery.lease_until),
            delivery.id,
        ]
        if claimed is not None:
            params.append(self._moment_out(claimed))
        cursor = self._db.execute(
            self._sql(
                "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
                f" last_error = ?, delivered_at = ?, lease_until = ? WHERE id = ? AND {lease}"
            ),
            params,
        )
        return bool(cursor.rowcount)

    def list_deliveries(
        self, *, state: DeliveryState | None = None, limit: int | None = None
    ) -> list[Delivery]:
        where, params = self._equal(state=state)
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._delivery(row) for row in self._rows(sql, params)]

    def _notification(self, row: Sequence[Any]) -> Notification:
        return Notification(
            id=row[0],
            recipient=row[1],
            message=row[2],
            customer_id=row[3],
            automation=row[4],
            event_id=row[5],
            created_at=self._moment_in(row[6]),
            read_at=self._maybe_moment(row[7]),
        )

    def insert_notifications(self, notifications: Sequence[Notification]) -> list[Notification]:
        stored = []
        for n in notifications:
            new_id = self._insert_id(
                "INSERT INTO notifications (recipient, message, customer_id, automation,"
                " event_id, created_at, read_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    n.recipient,
                    n.message,
                    n.customer_id,
                    n.automation,
                    n.event_id,
                    self._moment_out(n.created_at),
                    self._moment_out(n.read_at),
                ],
            )
            row = self._one(
                f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?", [new_id]
            )
            stored.append(self._notification(row))
        return stored

    def _recipients(self, recipients: Sequence[str] | None) -> tuple[str, list[Any]]:
        if recipients is None:
            return self.TRUE, []
        if not recipients:
            return "1 = 0", []
        marks = ", ".join("?" for _ in recipients)
        return f"recipient IN ({marks})", list(recipients)

    def list_notifications(
        self, recipients: Sequence[str] | None, *, unread_only: bool = False
    ) -> list[Notification]:
        where, params = self._recipients(recipients)
        if unread_only:
            where += " AND read_at IS NULL"
        rows = self._rows(
            f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {where} ORDER BY id DESC",
            params,
        )
        return [self._notification(row) for row in rows]

    def mark_read(
        self, ids: Sequence[int], recipients: Sequence[str] | None, at: datetime
    ) -> list[int]:
        if not ids:
            return []
        where, params = self._recipients(recipients)
        marks = ", ".join("?" for _ in ids)
        rows = self._rows(
            f"UPDATE notifications SET read_at = ? WHERE id IN ({marks}) AND read_at IS NULL"
            f" AND {where} RETURNING id",
            [self._moment_out(at), *ids, *params],
        )
        return sorted(row[0] for row in rows)
