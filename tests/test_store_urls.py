"""Store URLs are checked, and only ``init`` and ``demo`` create a store that does not exist."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline_core import Customer, StoreError, Workspace
from pipeline_core.cli import cli
from pipeline_core.storage import open_store, register_backend
from pipeline_core.storage.memory import MemoryStore
from pipeline_core.storage.sqlite import SqliteStore, sqlite_path

from .conftest import fresh_store_url

FORMS = "sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:///:memory:"


@pytest.fixture
def at_root() -> Iterator[str]:
    """A file name that no test run has used, to check nothing appears at the filesystem root."""
    name = f"pipeline-core-test-{uuid.uuid4().hex}.db"
    yield name
    assert not Path("/", name).exists(), f"/{name} was created"


def cli_run(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, *args])


# the forms a sqlite: URL may take ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///shop.db", "shop.db"),
        ("sqlite:///data/shop.db", "data/shop.db"),
        ("sqlite:////srv/crm/shop.db", "/srv/crm/shop.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
        ("sqlite:", ":memory:"),
    ],
)
def test_accepted_sqlite_urls_name_their_file(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    ("template", "hint"),
    [
        ("sqlite://{}", "did you mean sqlite:///{}?"),  # two slashes: a host, not a path
        ("sqlite:/{}", "did you mean sqlite:///{}?"),
        ("sqlite:{}", "did you mean sqlite:///{}?"),
        ("sqlite://localhost/{}", "did you mean sqlite:///localhost/{}?"),
        ("sqlite:///", ""),
        ("sqlite:////", ""),
    ],
)
def test_malformed_sqlite_urls_list_the_accepted_forms(
    template: str, hint: str, at_root: str
) -> None:
    url = template.format(at_root)
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert f"malformed SQLite URL {url!r}" in message and FORMS in message
    assert hint.format(at_root) in message
    result = cli_run(url, "init")
    assert result.exit_code == 1 and FORMS in result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output


def test_relative_and_absolute_urls_open_where_they_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    with Workspace.open("sqlite:///data/relative.db") as ws:
        ws.customers.add(Customer(name="Ada"))
    absolute = tmp_path / "absolute.db"
    with Workspace.open(f"sqlite:///{absolute}") as ws:  # "sqlite:///" + "/tmp/..."
        ws.customers.add(Customer(name="Grace"))
    assert (tmp_path / "data" / "relative.db").is_file() and absolute.is_file()
    with Workspace.open("sqlite:///data/relative.db", create=False) as ws:
        assert [c.name for c in ws.customers.list()] == ["Ada"]


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        StoreError, match=re.escape(f"directory {tmp_path / 'nowhere'} does not exist")
    ):
        open_store(f"sqlite:///{tmp_path / 'nowhere' / 'shop.db'}")


# creating or not ------------------------------------------------------------------------


def test_the_library_creates_by_default_and_refuses_with_create_false(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError) as caught:
        Workspace.open(f"sqlite:///{missing}", create=False)
    assert str(caught.value) == f"no workspace at {missing}; run 'pipeline init' to create one"
    assert not missing.exists()
    with Workspace.open(f"sqlite:///{missing}") as ws:  # the default: create
        ws.customers.add(Customer(name="Ada"))
    with Workspace.open(f"sqlite:///{missing}", create=False) as ws:
        assert ws.customers.count() == 1


def test_an_empty_file_is_no_workspace(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreError, match=re.escape(f"no workspace at {empty}")):
        open_store(f"sqlite:///{empty}", create=False)
    assert empty.stat().st_size == 0  # left as it was, not made a store
    store = open_store(f"sqlite:///{empty}")
    store.close()
    assert empty.stat().st_size > 0


@pytest.mark.parametrize("url", ["memory:", "sqlite:///:memory:", "sqlite://"])
def test_in_memory_stores_are_always_new(url: str) -> None:
    store = open_store(url, create=False)
    assert isinstance(store, MemoryStore | SqliteStore)
    store.close()


@pytest.mark.postgres
def test_an_empty_postgres_database_is_no_workspace() -> None:
    url = fresh_store_url("postgres")
    with pytest.raises(StoreError, match=r"no workspace at postgresql://.*run 'pipeline init'"):
        open_store(url, create=False)
    with Workspace.open(url) as ws:
        ws.customers.add(Customer(name="Ada"))
    with Workspace.open(url, create=False) as ws:
        assert ws.customers.count() == 1


def test_third_party_backends_are_asked_not_to_create_when_they_can_be() -> None:
    calls: list[tuple[str, bool]] = []

    def plain(url: str) -> MemoryStore:
        calls.append((url, True))
        return MemoryStore(url)

    def careful(url: str, *, create: bool = True) -> MemoryStore:
        calls.append((url, create))
        return MemoryStore(url)

    register_backend("plainurl", plain)
    register_backend("carefulurl", careful)
    open_store("plainurl:x", create=False)  # written before the keyword: opened as ever
    open_store("carefulurl:x", create=False)
    open_store("carefulurl:y")
    assert calls == [("plainurl:x", True), ("carefulurl:x", False), ("carefulurl:y", True)]


# the command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("customers", "list"),
        ("customers", "add", "Ada"),
        ("board", "Sales"),
        ("statuses", "show"),
        ("settings", "duplicates"),
        ("teams", "add", "North"),
        ("whoami",),
    ],
)
def test_commands_other_than_init_and_demo_refuse_a_missing_store(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    typo = tmp_path / "shpo.db"
    result = cli_run(f"sqlite:///{typo}", *args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: no workspace at {typo}; run 'pipeline init' to create one\n"
    assert not typo.exists()


def test_init_creates_the_store_then_other_commands_use_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    result = cli_run(url, "init")
    assert result.exit_code == 0 and (tmp_path / "shop.db").is_file()
    assert cli_run(url, "customers", "add", "Ada").exit_code == 0
    assert "Ada" in cli_run(url, "customers", "list").output


def test_demo_creates_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert cli_run(url, "demo", "--customers", "10").exit_code == 0
    assert cli_run(url, "board", "Sales").output.startswith("Sales: 10 customer(s)")


def test_two_slashes_on_the_command_line_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at_root: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (f"sqlite://{at_root}", f"sqlite:/{at_root}"):
        result = cli_run(url, "demo", "--customers", "5")
        assert result.exit_code == 1
        assert f"did you mean sqlite:///{at_root}?" in result.stderr
    assert list(tmp_path.iterdir()) == []
