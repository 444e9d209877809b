"""Shared fixtures: every backend the contract suite runs against, and a fixed clock."""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

from pipeline_core import FixedClock, Workspace
from pipeline_core.storage import Store, open_store

from .postgres_server import PostgresCluster, find_bin_dir, start_cluster

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

BACKENDS = ("memory", "sqlite", "postgres")

StoreFactory = Callable[[], Store]

NO_POSTGRES = (
    "NO POSTGRESQL BINARIES FOUND (initdb/pg_ctl): every PostgreSQL test is SKIPPED. "
    "Install PostgreSQL (e.g. apt-get install postgresql) or set PIPELINE_PG_BIN."
)


def pytest_report_header() -> str:
    """Say up front whether the PostgreSQL tests will run."""
    bin_dir = find_bin_dir()
    return f"postgresql: {bin_dir}" if bin_dir else f"postgresql: {NO_POSTGRES}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the warning at the end, where nobody can miss it."""
    if find_bin_dir() is None:
        terminalreporter.section("PostgreSQL", sep="!", red=True, bold=True)
        terminalreporter.line(NO_POSTGRES, red=True, bold=True)


_cluster: PostgresCluster | None = None


def shared_cluster() -> PostgresCluster:
    """The run's one throwaway PostgreSQL cluster, started on first use (skips without one)."""
    global _cluster
    if find_bin_dir() is None:
        pytest.skip(NO_POSTGRES)
    if _cluster is None:
        _cluster = start_cluster()
    return _cluster


def pytest_sessionfinish() -> None:
    """Stop the cluster, if one was started."""
    if _cluster is not None:
        _cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> PostgresCluster:
    """The throwaway PostgreSQL cluster, stopped at the end of the run."""
    return shared_cluster()


def fresh_store_url(backend: str) -> str:
    """A URL of a new, empty store of the given backend (usable inside hypothesis tests)."""
    if backend == "memory":
        return "memory:"
    if backend == "sqlite":
        return "sqlite:///:memory:"
    return new_postgres_database(shared_cluster())


_databases = itertools.count()


def new_postgres_database(cluster: PostgresCluster) -> str:
    """A URL of an empty store in the cluster: its own schema, first on the search path.

    A schema costs milliseconds where a database costs a few hundred, and the
    store sees exactly the same thing: nothing in its current schema.
    """
    import psycopg

    name = f"store_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    return f"{cluster.url()}?options=-csearch_path%3D{name}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend kind in turn."""
    name: str = request.param
    return name


@pytest.fixture
def make_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[StoreFactory]:
    """Open fresh stores of the current backend; all are closed at the end."""
    opened: list[Store] = []
    cluster = request.getfixturevalue("postgres_cluster") if backend == "postgres" else None

    def factory() -> Store:
        if cluster is not None:
            url = new_postgres_database(cluster)
        elif backend == "memory":
            url = "memory:"
        else:
            url = f"sqlite:///{tmp_path / f'store-{len(opened)}.db'}"
        store = open_store(url)
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


def load_script(path: Path) -> ModuleType:
    """A script of scripts/ imported as a module, so that a test can call its functions."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_statements(backend: str, url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on the store's database directly; the last one's rows."""
    rows: list[tuple[object, ...]] = []
    if backend == "sqlite":
        import sqlite3

        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        for statement in statements:
            rows = db.execute(statement).fetchall()
        db.commit()
        db.close()
        return rows
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        for statement in statements:
            cursor = pg.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
    return rows
