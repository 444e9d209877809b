"""A records import commits a transaction per batch of rows, so a large file streams; a run
killed in the middle of a batch, run again, lands every record exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pipeline_core import Customer, EventKind, Workspace
from pipeline_core.errors import InvalidValue

from .test_crash_safety import start

KILLED_IMPORT = """
import sys
import time
from pathlib import Path
from pipeline_core import Workspace
from pipeline_core.workspace import records

url, source = sys.argv[1:3]
real = records.import_rows
calls = []

def watched(s, file, rows):
    summary = real(s, file, rows)
    calls.append(len(rows))
    # The batch is written, not yet committed: say so and wait to be killed.
    print(len(calls), flush=True)
    if len(calls) == 4:
        time.sleep(120)
    return summary

records.import_rows = watched
with Workspace.open(url) as ws:
    ws.records.import_file(Path(source), batch_size=100)
"""


def _payments_file(path: Path, rows: int) -> Path:
    lines = [f"{1 + n % 3},payment,pay-{n:05d},{n}.50,EUR" for n in range(rows)]
    path.write_text("customer_id,kind,ref,amount,currency\n" + "\n".join(lines) + "\n")
    return path


def _seeded(url: str) -> None:
    with Workspace.open(url) as ws:
        for name in ("Ada", "Grace", "Edsger"):
            ws.customers.add(Customer(name=name))


def _added_events(ws: Workspace) -> int:
    return sum(
        1
        for customer_id in (1, 2, 3)
        for event in ws.customers.timeline(customer_id)
        if event.kind == EventKind.RECORD_ADDED
    )


def test_a_killed_import_run_again_lands_every_record_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _seeded(url)
    source = _payments_file(tmp_path / "payments.csv", 1000)
    process = start("-c", KILLED_IMPORT, url, str(source))
    try:
        assert process.stdout is not None
        for batch in (1, 2, 3, 4):
            assert process.stdout.readline().strip() == str(batch)
        process.send_signal(signal.SIGKILL)  # in the middle of the fourth batch
    finally:
        process.kill()
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    with Workspace.open(url) as ws:
        assert len(ws.records.list()) == 300  # three batches committed, the fourth undone
        again = ws.records.import_file(source, batch_size=100)
        assert (again.added, again.unchanged, again.updated, again.rejected) == (700, 300, 0, ())
        assert len(ws.records.list()) == 1000
        assert _added_events(ws) == 1000  # one event per record: none twice
        assert ws.records.import_file(source).unchanged == 1000


def test_bad_rows_of_every_batch_are_reported_with_their_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _seeded(url)
    source = _payments_file(tmp_path / "payments.csv", 25)
    text = (
        source.read_text()
        .replace("pay-00003,3.50", "pay-00003,lots")
        .replace("1,payment,pay-00021", "9,payment,pay-00021")
    )
    source.write_text(text)
    with Workspace.open(url) as ws:
        summary = ws.records.import_file(source, batch_size=10)
    assert (summary.added, len(summary.rejected)) == (23, 2)
    assert [(r.line, r.column) for r in summary.rejected] == [(5, "amount"), (23, "customer_id")]


def test_a_batch_holds_at_least_one_row(tmp_path: Path) -> None:
    source = _payments_file(tmp_path / "payments.csv", 2)
    with Workspace.open("memory:") as ws, pytest.raises(InvalidValue, match="at least one row"):
        ws.records.import_file(source, batch_size=0)
