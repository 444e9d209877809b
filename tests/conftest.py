"""Shared fixtures: every backend the contract suite runs against, and a fixed clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pipeline_core import FixedClock, Workspace
from pipeline_core.storage import Store, open_store

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

BACKENDS = ("memory", "sqlite")

StoreFactory = Callable[[], Store]


def store_url(backend: str, directory: Path) -> str:
    """A fresh store URL of the given backend kind inside ``directory``."""
    if backend == "memory":
        return "memory:"
    if backend == "sqlite":
        existing = len(list(directory.glob("store-*.db")))
        return f"sqlite:///{directory / f'store-{existing}.db'}"
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend kind in turn."""
    name: str = request.param
    return name


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """Open fresh stores of the current backend; all are closed at the end."""
    opened: list[Store] = []

    def factory() -> Store:
        store = open_store(store_url(backend, tmp_path))
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def clock() -> FixedClock:
    """A clock that only moves when told to."""
    return FixedClock()


@pytest.fixture
def workspace(make_store: StoreFactory, clock: FixedClock) -> Workspace:
    """A fresh workspace on the current backend with a fixed clock."""
    return Workspace(make_store(), clock=clock)
