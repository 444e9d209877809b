"""A customer's side tables (tags, custom fields, contact keys) and merges, shared by SQL backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pipeline_core.customer import Customer, FieldValue
from pipeline_core.domain.normalize import ContactKey, contact_keys, index_keys
from pipeline_core.errors import InvalidValue, MergedMeanwhile
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.storage.sql.base import SqlBackend
from pipeline_core.storage.sql.common import field_rows


class CustomerQueries(SqlBackend):
    """The SQL of a new customer's rows, its tags, fields and contact keys, and merging it."""

    HOLDERS: ClassVar[str]
    """An aggregate of ``k.customer_id`` into one value: the holders of a shared key."""

    def _insert_customer_row(self, customer: Customer) -> int:
        """Insert the customers row of ``customer`` (version 1); its new id."""
        raise NotImplementedError

    def _holder_ids(self, holders: Any) -> tuple[int, ...]:
        """The ascending customer ids of a ``HOLDERS`` value."""
        raise NotImplementedError

    def insert_customer(self, customer: Customer) -> Customer:
        customer_id = self._insert_customer_row(customer)
        self._write_tags(customer_id, customer.tags, replace=False)
        self._write_fields(customer_id, dict(customer.fields), replace=False)
        self._write_keys(customer_id, index_keys(customer, self._normalize_options()))
        stored = self.get_customer(customer_id)
        self._write_terms(stored, replace=False)
        return stored

    def _write_tags(self, customer_id: int, tags: Sequence[str], *, replace: bool) -> None:
        if replace:
            self._db.execute(
                self._sql("DELETE FROM customer_tags WHERE customer_id = ?"), (customer_id,)
            )
        self._executemany(
            self._sql("INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)"),
            [(customer_id, tag) for tag in tags],
        )

    def _write_fields(
        self, customer_id: int, fields: dict[str, FieldValue], *, replace: bool
    ) -> None:
        if replace:
            self._db.execute(
                self._sql("DELETE FROM customer_fields WHERE customer_id = ?"), (customer_id,)
            )
        self._executemany(
            self._sql(
                "INSERT INTO customer_fields (customer_id, key, kind, text_value, num_value)"
                " VALUES (?, ?, ?, ?, ?)"
            ),
            field_rows(customer_id, fields),
        )

    # contact keys ----------------------------------------------------------------

    def contact_keys(self, customer_id: int) -> list[ContactKey]:
        rows = self._db.execute(
            self._sql("SELECT kind, key FROM contact_keys WHERE customer_id = ?"), (customer_id,)
        )
        return [ContactKey(kind, key) for kind, key in rows]

    def rebuild_contact_keys(self) -> None:
        options = self._normalize_options()
        self._db.execute("DELETE FROM contact_keys")
        rows = self._db.execute(
            "SELECT id, emails, phones, whatsapp, country FROM customers"
            " WHERE merged_into IS NULL ORDER BY id"
        )
        batch: list[tuple[str, str, int]] = []
        for customer_id, emails, phones, whatsapp, country in rows:
            keys = contact_keys(
                self._json_in(emails), self._json_in(phones), whatsapp, country, options
            )
            batch.extend((key.kind, key.key, customer_id) for key in keys if key.valid)
            if len(batch) >= 10_000:
                self._insert_keys(batch)
        self._insert_keys(batch)

    def duplicate_groups(
        self, *, scope: Rule = MATCH_ALL
    ) -> list[tuple[ContactKey, tuple[int, ...]]]:
        # Find the shared keys with the plain GROUP BY (an index scan, no sort), then
        # collect each one's holders by a primary-key look-up: cheaper than aggregating
        # the ids of every group when almost every key is held once.
        visible, params = self._customer_ids_in(scope)
        held, _ = self._customer_ids_in(scope, "k.customer_id")
        rows = self._db.execute(
            f"SELECT s.kind, s.key, (SELECT {self.HOLDERS} FROM contact_keys k"
            f" WHERE k.kind = s.kind AND k.key = s.key{held})"
            f" FROM (SELECT kind, key FROM contact_keys WHERE {self.TRUE}{visible}"
            " GROUP BY kind, key HAVING COUNT(*) > 1) AS s ORDER BY s.kind, s.key",
            [*params, *params],
        )
        return [(ContactKey(kind, key), self._holder_ids(ids)) for kind, key, ids in rows]

    # merges ----------------------------------------------------------------------

    def mark_merged(self, customer_id: int, into: int) -> None:
        self.get_customer(customer_id)
        self.get_customer(into)
        if into == customer_id:
            raise InvalidValue(f"cannot merge customer {customer_id} into itself")
        target = self._scalar("SELECT merged_into FROM customers WHERE id = ?", (into,))
        if target is not None:
            raise InvalidValue(f"cannot merge into customer {into}: it was merged into {target}")
        # The guard is in the UPDATE itself: of two transactions merging one customer,
        # the second waits for the first's row lock, then finds it merged and changes nothing.
        marked = self._db.execute(
            self._sql("UPDATE customers SET merged_into = ? WHERE id = ? AND merged_into IS NULL"),
            (into, customer_id),
        ).rowcount
        if not marked:
            merged = self._scalar("SELECT merged_into FROM customers WHERE id = ?", (customer_id,))
            raise MergedMeanwhile(customer_id, merged)
        self._db.execute(
            self._sql("DELETE FROM contact_keys WHERE customer_id = ?"), (customer_id,)
        )
        self._db.execute(
            self._sql("UPDATE customers SET merged_into = ? WHERE merged_into = ?"),
            (into, customer_id),
        )
