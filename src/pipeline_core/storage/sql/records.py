"""Linked records and new-activity marks in the SQL backends (migration 10's tables)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pipeline_core.domain.records import (
    PROFILE_LISTED,
    PROFILE_TOTALS,
    LinkedRecord,
    ProfileParts,
    amount_e4,
    check_same_key,
    replaced,
    stored_record,
    with_id,
)
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.storage.sql.base import SqlBackend

CHUNK = 500
"""References looked up per statement: well under every engine's limit of bound values."""

_COLUMNS = "id, customer_id, body"


def _listed() -> tuple[str, list[str]]:
    """The condition (and its values) of the records a profile lists (``PROFILE_LISTED``)."""
    parts: list[str] = []
    params: list[str] = []
    for kind, states in PROFILE_LISTED.items():
        if states is None:
            parts.append("kind = ?")
            params.append(kind)
        else:
            parts.append(f"(kind = ? AND state IN ({', '.join('?' * len(states))}))")
            params.extend((kind, *states))
    return " OR ".join(parts), params


def _sum(total: Any, places: Any) -> Decimal:
    """A sum of ``amount_e4`` as the Decimal the same amounts add up to in Python."""
    exact = Decimal(int(total)).scaleb(-4)
    return exact.quantize(Decimal(1).scaleb(-max(0, int(places or 0))))


class RecordQueries(SqlBackend):
    """The SQL of linked records and of who saw which customer's activity."""

    def _record(self, row: Sequence[Any]) -> LinkedRecord:
        # The row holds the id and customer (what merges move); the body the rest.
        return stored_record(self._json_in(row[2]), row[0], row[1])

    def _record_values(self, record: LinkedRecord) -> list[Any]:
        return [
            record.state,
            amount_e4(record.amount),
            record.currency,
            self._moment_out(record.moment),
            self._day_out(record.due),
            record.channel,
            self._json_out(converter.unstructure(replaced(record, id=0))),
        ]

    def _held(self, records: Sequence[LinkedRecord]) -> None:
        """Refuse records whose customer already holds their kind and reference."""
        by_kind: dict[str, list[str]] = {}
        for record in records:
            by_kind.setdefault(record.kind, []).append(record.ref)
        wanted = {(r.customer_id, r.kind, r.ref) for r in records}
        if len(wanted) < len(records):
            raise InvalidValue("the same record (customer, kind and reference) is given twice")
        for kind, refs in by_kind.items():
            unique = sorted(set(refs))
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start : start + CHUNK]
                # Only the keys: parsing whole records here would double an import's cost.
                rows = self._rows(
                    "SELECT id, customer_id, ref FROM linked_records"
                    f" WHERE kind = ? AND ref IN ({', '.join('?' * len(chunk))})",
                    [kind, *chunk],
                )
                for record_id, customer_id, ref in rows:
                    if (customer_id, kind, ref) in wanted:
                        raise InvalidValue(
                            f"customer {customer_id} already holds {kind} {ref!r}"
                            f" (record {record_id})"
                        )

    def insert_records(self, records: Sequence[LinkedRecord]) -> list[LinkedRecord]:
        if not records:
            return []
        for customer_id in sorted({r.customer_id for r in records}):
            self.get_customer(customer_id)
        self._held(records)
        stored = []
        for record in records:
            record_id = self._insert_id(
                "INSERT INTO linked_records (customer_id, kind, ref, state, amount_e4,"
                " currency, moment, due, channel, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [record.customer_id, record.kind, record.ref, *self._record_values(record)],
            )
            stored.append(with_id(record, record_id))
        return stored

    def update_record(self, record: LinkedRecord) -> LinkedRecord:
        check_same_key(self.get_record(record.id), record)
        self._db.execute(
            self._sql(
                "UPDATE linked_records SET state = ?, amount_e4 = ?, currency = ?, moment = ?,"
                " due = ?, channel = ?, body = ? WHERE id = ?"
            ),
            [*self._record_values(record), record.id],
        )
        return record

    def get_record(self, record_id: int, *, scope: Rule = MATCH_ALL) -> LinkedRecord:
        visible, params = self._customer_ids_in(scope)
        row = self._one(
            f"SELECT {_COLUMNS} FROM linked_records WHERE id = ?{visible}",
            [record_id, *params],
        )
        if row is None:
            raise NotFound(f"no linked record with id {record_id}")
        return self._record(row)

    def records_by_ref(self, kind: str, refs: Sequence[str]) -> list[LinkedRecord]:
        unique = sorted(set(refs))
        found: list[LinkedRecord] = []
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT {_COLUMNS} FROM linked_records WHERE kind = ? AND ref IN ({marks})",
                [kind, *chunk],
            )
            found.extend(self._record(row) for row in rows)
        return sorted(found, key=lambda r: r.id)

    def find_records(
        self,
        *,
        customer_id: int | None = None,
        kinds: Sequence[str] = (),
        states: Sequence[str] = (),
        scope: Rule = MATCH_ALL,
    ) -> list[LinkedRecord]:
        where, params = self._equal(customer_id=customer_id)
        for column, values in (("kind", kinds), ("state", states)):
            if values:
                where += f" AND {column} IN ({', '.join('?' * len(values))})"
                params.extend(values)
        visible, scope_params = self._customer_ids_in(scope)
        rows = self._db.execute(
            f"{self._sql(f'SELECT {_COLUMNS} FROM linked_records WHERE {where}')}{visible}"
            " ORDER BY moment, id",
            [*params, *scope_params],
        )
        return [self._record(row) for row in rows]

    def record_profile(self, customer_id: int) -> ProfileParts:
        listed_where, listed_params = _listed()
        listed = self._rows(
            f"SELECT {_COLUMNS} FROM linked_records WHERE customer_id = ? AND ({listed_where})"
            " ORDER BY moment, id",
            [customer_id, *listed_params],
        )
        # One row per channel comes back, not every conversation (the window runs in the store).
        latest = self._rows(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, row_number() OVER"
            " (PARTITION BY channel ORDER BY moment DESC, id DESC) AS n FROM linked_records"
            " WHERE customer_id = ? AND kind = 'conversation' AND channel IS NOT NULL) t"
            " WHERE n = 1",
            [customer_id],
        )
        summed = " OR ".join("(kind = ? AND state = ?)" for _ in PROFILE_TOTALS)
        sums = self._rows(
            f"SELECT kind, state, currency, SUM(amount_e4), MAX({self._places()})"
            " FROM linked_records WHERE customer_id = ? AND amount_e4 IS NOT NULL"
            f" AND currency IS NOT NULL AND ({summed}) GROUP BY kind, state, currency",
            [customer_id, *(value for pair in PROFILE_TOTALS for value in pair)],
        )
        counts = self._rows(
            "SELECT kind, count(*) FROM linked_records WHERE customer_id = ? GROUP BY kind",
            [customer_id],
        )
        latest_records = [self._record(row) for row in latest]
        return ProfileParts(
            listed=tuple(self._record(row) for row in listed),
            latest={r.channel: r for r in latest_records if r.channel is not None},
            sums={
                (kind, state, currency): _sum(total, places)
                for kind, state, currency, total, places in sums
            },
            counts={kind: int(count) for kind, count in counts},
        )

    def _places(self) -> str:
        """The decimal places of a record's amount as its body spells it (``1200.00``: 2).

        A Decimal sum keeps the most places of its terms, so a total read from
        ``amount_e4`` is given them back to read as the same Decimal as today's sum.
        """
        if self._dialect.name == "postgresql":
            text, find = "(body->>'amount')", "strpos({text}, {part})"
        else:
            text, find = "json_extract(body, '$.amount')", "instr({text}, {part})"
        dot = find.format(text=text, part="'.'")
        exponent = find.format(text=text, part="'E-'")
        big_e = "'E'"
        # str(Decimal) writes E only for positive exponents (no places) and for zeros
        # such as 0E-7 (the places after 'E-').
        return (
            f"CASE WHEN {exponent} > 0 THEN CAST(substr({text}, {exponent} + 2) AS INTEGER)"
            f" WHEN {find.format(text=text, part=big_e)} > 0 THEN 0"
            f" WHEN {dot} > 0 THEN length({text}) - {dot} ELSE 0 END"
        )

    def move_records(self, from_id: int, to_id: int) -> tuple[list[int], list[tuple[int, int]]]:
        self.get_customer(to_id)
        rows = self._rows(
            "SELECT f.id, t.id FROM linked_records f LEFT JOIN linked_records t"
            " ON t.customer_id = ? AND t.kind = f.kind AND t.ref = f.ref"
            " WHERE f.customer_id = ? ORDER BY f.id",
            [to_id, from_id],
        )
        moved = [row[0] for row in rows if row[1] is None]
        conflicts = [(row[1], row[0]) for row in rows if row[1] is not None]
        for start in range(0, len(moved), CHUNK):
            chunk = moved[start : start + CHUNK]
            self._db.execute(
                self._sql(
                    f"UPDATE linked_records SET customer_id = ?"
                    f" WHERE id IN ({', '.join('?' * len(chunk))})"
                ),
                [to_id, *chunk],
            )
        return moved, conflicts

    def mark_seen(self, user: str, customer_id: int, event_id: int) -> None:
        self._db.execute(
            self._sql(
                "INSERT INTO customer_seen (user_name, customer_id, event_id) VALUES (?, ?, ?)"
                " ON CONFLICT (user_name, customer_id) DO UPDATE SET event_id ="
                " CASE WHEN excluded.event_id > customer_seen.event_id"
                " THEN excluded.event_id ELSE customer_seen.event_id END"
            ),
            [user, customer_id, event_id],
        )

    def new_activity(self, user: str, customer_ids: Sequence[int]) -> dict[int, int]:
        unique = sorted(set(customer_ids))
        counts: dict[int, int] = {}
        for start in range(0, len(unique), CHUNK):
            chunk = unique[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._rows(
                "SELECT e.customer_id, count(*) FROM events e LEFT JOIN customer_seen s"
                " ON s.user_name = ? AND s.customer_id = e.customer_id"
                f" WHERE e.customer_id IN ({marks}) AND e.actor <> ?"
                " AND e.id > COALESCE(s.event_id, 0) GROUP BY e.customer_id",
                [user, *chunk, user],
            )
            counts.update((row[0], row[1]) for row in rows)
        return counts
