"""``ws.records``: linked records other modules attach to customers (docs/records.md)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from pipeline_core.domain.records import (
    LinkedRecord,
    RecordImportSummary,
    RecordKind,
    combined,
)
from pipeline_core.importing.records import records_csv, records_file_batches, records_jsonl
from pipeline_core.workspace import records
from pipeline_core.workspace.session import SessionOpener

IMPORT_BATCH = 1000
"""Rows of a records file imported per transaction."""


class Records:
    """Orders, payments, invoices, appointments, files, conversations, subscriptions..."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(self, record: LinkedRecord) -> LinkedRecord:
        """Attach a record to its customer, or update the one held with its kind and ref."""
        return self._opener.write(None, records.add, record)

    def upsert(
        self, batch: Sequence[LinkedRecord]
    ) -> builtins.list[tuple[LinkedRecord, records.Outcome]]:
        """``add`` for many records in one transaction; each stored record and what was done."""
        return self._opener.write(None, records.upsert, batch)

    def show(self, record_id: int) -> LinkedRecord:
        """The record with that id."""
        return self._opener.run(records.show, record_id)

    def list(
        self,
        customer_id: int | None = None,
        *,
        kinds: Iterable[str] = (),
        states: Iterable[str] = (),
    ) -> builtins.list[LinkedRecord]:
        """Records of one customer (None: all the actor sees), by moment then id."""
        return self._opener.run(
            records.list_records, customer_id, kinds=tuple(kinds), states=tuple(states)
        )

    def set_state(self, record_id: int, state: str) -> LinkedRecord:
        """Move a record to another state of its kind."""
        return self._opener.write(None, records.set_state, record_id, state)

    def kinds(self) -> builtins.list[RecordKind]:
        """Every kind of record: the built-in ones, then the workspace's own."""
        return self._opener.run(records.kinds)

    def define_kind(self, name: str, states: Iterable[str], *, description: str = "") -> RecordKind:
        """Define a kind of record of the workspace's own, with its states (admins)."""
        return self._opener.write(
            None, records.define_kind, name, tuple(states), description=description
        )

    def import_file(
        self, path: str | Path, *, encoding: str = "utf-8", batch_size: int = IMPORT_BATCH
    ) -> RecordImportSummary:
        """Upsert the records of a CSV or JSON Lines file, a transaction per ``batch_size`` rows.

        The file is read as it goes, so a large one streams. Rows are keyed by
        customer, kind and reference: a re-run changes nothing, and a run that was
        interrupted, run again, adds what its unfinished batches had not. Bad rows
        are reported (line, column, reason) and the good ones still land.
        """
        name = str(path)
        batches = records_file_batches(Path(path), batch_size, name=name, encoding=encoding)
        summaries = [
            self._opener.write(None, records.import_rows, name, batch) for batch in batches
        ]
        return combined(name, summaries)

    def export(
        self,
        customer_id: int | None = None,
        *,
        kinds: Iterable[str] = (),
        format: Literal["csv", "jsonl"] = "csv",
    ) -> Iterator[str]:
        """The records (of one customer, of some kinds) as CSV or JSON Lines text, in chunks.

        What ``import_file`` reads back to the same records.
        """
        found = self.list(customer_id, kinds=kinds)
        return records_csv(found) if format == "csv" else records_jsonl(found)
