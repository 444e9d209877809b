"""Stores of schema 6 migrate to 9: contact keys are recomputed with email-validator's domains
and the region's own reading of 00 numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.storage import SCHEMA_VERSION
from pipeline_core.storage.sql.common import META_TABLE

from .conftest import fresh_store_url
from .conftest import run_statements as _run


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_6_store_recomputes_email_and_phone_keys(backend: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else fresh_store_url(backend)
    with Workspace.open(url) as ws:
        ws.customers.add(Customer(name="Strauss", emails=("info@straße.de",)))
        ws.customers.add(Customer(name="Freephone", phones=("0066 33 123456",), country="JP"))
    # What schema 6 wrote: the IDNA 2003 codec folded ß to ss, and 00 was always "+".
    _run(
        backend,
        url,
        "UPDATE contact_keys SET key = 'info@strasse.de' WHERE customer_id = 1",
        "UPDATE contact_keys SET key = '+6633123456' WHERE customer_id = 2",
        f"UPDATE {META_TABLE} SET value = '6' WHERE key = 'schema_version'",
    )
    keys = "SELECT customer_id, kind, key FROM contact_keys ORDER BY customer_id"
    assert _run(backend, url, keys)[0] == (1, "email", "info@strasse.de")
    with Workspace.open(url) as ws:
        # Under the old key this was refused as a duplicate of a different company.
        added = ws.customers.add(Customer(name="Strasse", emails=("info@strasse.de",)))
        assert ws.customers.dupes() == []
    assert _run(backend, url, keys) == [
        (1, "email", "info@xn--strae-oqa.de"),
        (2, "phone", "+81006633123456"),
        (added.id, "email", "info@strasse.de"),
    ]
    version = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
    assert _run(backend, url, version) == [(str(SCHEMA_VERSION),)]
