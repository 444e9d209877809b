"""Finding backends by URL scheme, including third-party ones."""

from __future__ import annotations

import pytest

from pipeline_core import StoreError
from pipeline_core.storage import known_schemes, open_store, register_backend
from pipeline_core.storage.memory import MemoryStore
from pipeline_core.storage.sqlite import SqliteStore


def test_builtin_schemes() -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    store = open_store("sqlite://")
    assert isinstance(store, SqliteStore)
    store.close()
    assert {"memory", "sqlite"} <= set(known_schemes())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mongodb://x", "unknown store URL scheme 'mongodb'.*known: .*memory.*sqlite"),
        ("pipeline.db", "has no scheme"),
        ("", "has no scheme"),
    ],
)
def test_bad_urls_name_the_problem(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(url)


def test_registered_backend_is_used() -> None:
    opened: list[str] = []

    def opener(url: str) -> MemoryStore:
        opened.append(url)
        return MemoryStore(url)

    register_backend("testmem", opener)
    store = open_store("testmem://anything")
    assert isinstance(store, MemoryStore) and opened == ["testmem://anything"]
    assert "testmem" in known_schemes()


def test_installed_entry_points_name_the_builtins() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="pipeline_core.storage")}
    assert {"memory", "sqlite"} <= names
