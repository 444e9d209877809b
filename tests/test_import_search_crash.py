"""A SQLite import killed (SIGKILL) mid-run and run again leaves the text index exact.

Each batch writes its customers' FTS5 rows in the batch's own transaction (see "1M
rows" in docs/performance.md), so whatever moment the writer dies at, the index
holds one row per live customer, no more and no fewer, and a re-run that resumes
after the last committed line ends with the same searches as an import nothing
interrupted. These tests kill a real import process (with its drafting worker) at
several points and compare with a clean import of the same file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions

from .test_crash_safety import kill, larger, start, wait_for

ROWS = 2400
BATCH = 40

IMPORT = """
import sys
from pathlib import Path
from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions

url, source, rejects, batch, workers = sys.argv[1:6]
with Workspace.open(url) as ws:
    options = ImportOptions(batch_size=int(batch), workers=int(workers), rejects=Path(rejects))
    ws.customers.import_file(Path(source), options)
"""


def source_file(folder: Path) -> Path:
    """ROWS rows: every 9th a bad email (a reject, the kill trigger), every 13th a duplicate."""
    lines = ["name,email,phone,tags"]
    for n in range(ROWS):
        if n % 13 == 12:
            # The same customer as row n - 1, typed differently: skipped as a duplicate.
            lines.append(f"PERSON {n - 1},P{n - 1}@EXAMPLE.COM,,dup")
            continue
        email = "not-mail" if n % 9 == 0 else f"p{n}@example.com"
        lines.append(f"Person {n},{email},+1 415 555 {n % 10000:04d},t{n % 5}")
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def index_rows(path: Path) -> tuple[list[int], list[int]]:
    """The text index's rowids and the live customers' ids, each sorted, read directly."""
    db = sqlite3.connect(path)
    try:
        indexed = [row[0] for row in db.execute("SELECT rowid FROM search_index ORDER BY rowid")]
        live = [
            row[0]
            for row in db.execute("SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id")
        ]
    finally:
        db.close()
    return indexed, live


def searched(url: str) -> dict[str, list[str]]:
    """Per customer: the names its email, its name and its tag find (what a reader sees)."""
    with Workspace.open(url) as ws:
        customers = ws.customers.list()
        found: dict[str, list[str]] = {}
        for customer in customers:
            for query in (*customer.emails, customer.name):
                found[query] = sorted(c.name for c in ws.customers.search(query))
        for tag in ("t0", "t3"):
            found[tag] = sorted(c.name for c in ws.customers.search(tag, limit=10_000))
        return found


@pytest.mark.parametrize("workers", [0, 1])
def test_an_import_killed_three_times_ends_with_every_customer_indexed_once(
    tmp_path: Path, workers: int
) -> None:
    source = source_file(tmp_path)
    clean_path = tmp_path / "clean.db"
    with Workspace.open(f"sqlite:///{clean_path}") as ws:
        ws.customers.import_file(
            source, ImportOptions(batch_size=BATCH, workers=0, rejects=tmp_path / "clean.csv")
        )
    written = (tmp_path / "clean.csv").read_bytes()
    path = tmp_path / "killed.db"
    url = f"sqlite:///{path}"
    Workspace.open(url).close()
    rejects = tmp_path / "rejects.csv"
    for quarter in (1, 2, 3):  # killed when a quarter, a half, three quarters are rejected
        process = start("-c", IMPORT, url, str(source), str(rejects), str(BATCH), str(workers))
        size = len(written) * quarter // 4
        wait_for(larger(rejects, size), process, f"the rejects file passed {size} bytes")
        kill(process)
        indexed, live = index_rows(path)
        # Between runs, too: what committed is indexed, and nothing else is.
        assert indexed == live
        assert 0 < len(live) < ROWS
    with Workspace.open(url) as ws:
        ws.customers.import_file(
            source, ImportOptions(batch_size=BATCH, workers=workers, rejects=rejects)
        )
    indexed, live = index_rows(path)
    clean_indexed, clean_live = index_rows(clean_path)
    assert indexed == live
    assert len(live) == len(clean_live) == len(clean_indexed)
    assert searched(url) == searched(f"sqlite:///{clean_path}")
    assert rejects.read_bytes() == written
