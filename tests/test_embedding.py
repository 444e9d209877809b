"""Embedding: threads sharing one workspace, PostgreSQL's pool, AsyncWorkspace, the FastAPI example."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import (
    AsyncWorkspace,
    Customer,
    NotFound,
    StoreError,
    Workspace,
)
from pipeline_core.storage import Store, Transaction, open_store
from pipeline_core.workspace import customers
from pipeline_core.workspace.aio import AsyncNoun, awaited, noun
from pipeline_core.workspace.session import Session

from .conftest import fresh_store_url
from .postgres_server import PostgresCluster, find_bin_dir, start_cluster
from .test_docs_examples import ROOT, read_blocks

NORTH = ["Ada Lovelace", "Alan Turing", "Barbara Liskov", "Donald Knuth", "Edsger Dijkstra"]
SOUTH = ["Grace Hopper", "Ken Thompson", "Margaret Hamilton"]


def populate(ws: Workspace) -> None:
    """Two teams, an agent in each, and customers of both."""
    ws.teams.add("North")
    ws.teams.add("South")
    ws.users.add("ann", "agent", ["North"])
    ws.users.add("bob", "agent", ["South"])
    for name in NORTH:
        ws.customers.add(Customer(name=name, team="North"))
    for name in SOUTH:
        ws.customers.add(Customer(name=name, team="South"))


SEEN_BY = {"ann": sorted(NORTH), "bob": sorted(SOUTH), "system": sorted(NORTH + SOUTH)}


class CountingStore:
    """A store that counts the transactions begun on it, and can hold the next one open."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.begun = 0
        self.hold: threading.Event | None = None  # the next transaction waits for it
        self.entered = threading.Event()  # set when a held transaction has begun
        self.barrier: threading.Barrier | None = None  # met before each transaction begins

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        if self.barrier is not None:
            self.barrier.wait()
        with self.inner.transaction() as tx:
            self.begun += 1
            hold, self.hold = self.hold, None
            if hold is not None:
                self.entered.set()
                hold.wait(10)
            yield tx

    def close(self) -> None:
        self.inner.close()


def store_url(kind: str, tmp_path: Path) -> str:
    """A new store of a kind: ``memory``, ``sqlite-memory``, ``sqlite`` (a file) or ``postgres``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if kind == "sqlite-memory":
        return "sqlite:///:memory:"
    return fresh_store_url(kind)


# one workspace, many threads ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite-memory", "sqlite", "postgres"])
def test_threads_sharing_one_workspace_each_see_their_own_team(kind: str, tmp_path: Path) -> None:
    with Workspace.open(store_url(kind, tmp_path)) as ws:
        populate(ws)
        added: list[str] = []

        def request(index: int) -> tuple[str, list[str]]:
            user = ("ann", "bob", "system")[index % 3]
            view = ws.as_user(user)
            if user == "system" and index % 2:  # writers among the readers; no team
                name = f"Walk-in {index}"
                view.customers.add(Customer(name=name))
                added.append(name)
            return user, [c.name for c in view.customers.list()]

        with ThreadPoolExecutor(8) as threads:
            answers = list(threads.map(request, range(60)))
        for user, names in answers:
            if user == "system":
                assert set(SEEN_BY[user]) <= set(names)
            else:
                assert sorted(names) == SEEN_BY[user]
        assert len(added) == 10
        assert ws.customers.count() == len(NORTH) + len(SOUTH) + len(added)


def test_a_view_touches_no_store_until_it_is_used() -> None:
    store = CountingStore(open_store("memory:"))
    ws = Workspace(store)
    populate(ws)
    before = store.begun
    nobody, ann = ws.as_user("nobody"), ws.as_user("ann")
    assert store.begun == before
    with pytest.raises(NotFound, match="unknown user 'nobody'"):
        nobody.customers.list()
    assert sorted(c.name for c in ann.customers.list()) == SEEN_BY["ann"]
    assert store.begun == before + 2


def hold_open_together(s: Session, barrier: threading.Barrier) -> int:
    """A use case that returns only when another thread's transaction is open at the same time."""
    barrier.wait()
    return customers.count(s)


@pytest.mark.parametrize(
    ("kind", "query", "side_by_side"),
    [
        ("postgres", "pool_size=2", True),
        ("postgres", "pool_size=1&pool_timeout=5", False),
        ("sqlite", "", False),  # one connection behind a lock, by design (docs/embedding.md)
    ],
)
def test_pooled_transactions_run_side_by_side(
    kind: str, query: str, side_by_side: bool, tmp_path: Path
) -> None:
    url = store_url(kind, tmp_path)
    url += ("&" if "?" in url else "?") + query if query else ""
    with Workspace.open(url) as ws:
        barrier = threading.Barrier(2, timeout=2)
        with ThreadPoolExecutor(2) as threads:
            futures = [threads.submit(ws.run, hold_open_together, barrier) for _ in range(2)]
            outcomes = [future.exception() or future.result() for future in futures]
    if side_by_side:
        assert outcomes == [0, 0]
    else:
        assert all(isinstance(outcome, threading.BrokenBarrierError) for outcome in outcomes)


# PostgreSQL's pool --------------------------------------------------------------------------


def test_pool_parameters_come_out_of_the_url() -> None:
    from pipeline_core.storage.postgres import POOL_SIZE, POOL_TIMEOUT, pool_settings

    base = "postgresql://crm:secret@db.internal:5432/crm"
    plain = f"{base}?options=-csearch_path%3Dcrm&application_name=web"
    assert pool_settings(plain).conninfo == plain  # nothing to take out: untouched
    assert (pool_settings(plain).size, pool_settings(plain).timeout) == (POOL_SIZE, POOL_TIMEOUT)
    given_url = f"{base}?pool_size=12&options=-csearch_path%3Dcrm&pool_timeout=2.5"
    settings = pool_settings(given_url)
    assert (settings.size, settings.timeout) == (12, 2.5)
    assert settings.conninfo == f"{base}?options=-csearch_path%3Dcrm"
    assert pool_settings(given_url, pool_size=3, pool_timeout=9).size == 3  # keywords win
    for bad in ("pool_size=0", "pool_size=many", "pool_size=2.5", "pool_timeout=-1"):
        key, value = bad.split("=")
        with pytest.raises(StoreError, match=rf"{key} in the store URL .* not '{value}'"):
            pool_settings(f"{base}?{bad}")


@given(
    st.lists(
        st.tuples(
            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
                lambda key: not key.startswith("pool_")
            ),
            st.text(max_size=20),
        ),
        max_size=4,
    ),
    st.integers(1, 500),
)
def test_only_the_pool_parameters_are_taken_out(pairs: list[tuple[str, str]], size: int) -> None:
    from urllib.parse import urlencode

    from pipeline_core.storage.postgres import pool_settings

    url = f"postgresql://u@h/db?{urlencode([*pairs, ('pool_size', str(size))])}"
    settings = pool_settings(url)
    assert settings.size == size
    assert parse_qsl(urlsplit(settings.conninfo).query, keep_blank_values=True) == pairs


def postgres_admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.split("?")[0], autocommit=True)


def test_every_pooled_connection_is_set_up(tmp_path: Path) -> None:
    from pipeline_core.storage.postgres import PostgresStore

    url = fresh_store_url("postgres")
    schema = url.rsplit("%3D", 1)[1]
    store = PostgresStore(url, pool_size=3)
    try:
        with ExitStack() as held:
            connections = [held.enter_context(store.connection()) for _ in range(3)]
            seen: list[tuple[Any, ...]] = [
                db.execute(
                    "SELECT pg_backend_pid(), current_setting('TimeZone'),"
                    " current_schema(), pg_temp.pc_casefold('STRASSE Straße')"
                ).fetchall()[0]
                for db in connections
            ]
        assert len({row[0] for row in seen}) == 3  # three connections of the pool at once
        assert {row[1:] for row in seen} == {("UTC", schema, "strasse strasse")}
    finally:
        store.close()


def app_url(name: str) -> str:
    return f"{fresh_store_url('postgres')}&application_name={name}&pool_size=4"


def backends(admin: Any, name: str) -> set[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
    ).fetchall()
    return {row[0] for row in rows}


def fill_pool(ws: Workspace, threads: int = 4) -> None:
    """Make the pool open several connections: transactions held open together."""
    barrier = threading.Barrier(threads, timeout=10)
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(ws.run, hold_open_together, barrier) for _ in range(threads)]:
            future.result()


def test_connections_cut_between_transactions_are_replaced_unnoticed() -> None:
    name = f"cut-{uuid.uuid4().hex[:8]}"
    url = app_url(name)
    with Workspace.open(url) as ws, postgres_admin(url) as admin:
        populate(ws)
        fill_pool(ws)
        cut = backends(admin, name)
        assert len(cut) == 4
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
        # The first call finds a dead connection at BEGIN and begins again on a new one.
        assert ws.customers.count() == len(NORTH) + len(SOUTH)
        assert sorted(c.name for c in ws.as_user("bob").customers.list()) == SEEN_BY["bob"]
        fill_pool(ws)
        assert backends(admin, name).isdisjoint(cut)


def test_a_connection_cut_during_a_transaction_is_a_store_error_and_nothing_commits() -> None:
    name = f"cut-{uuid.uuid4().hex[:8]}"
    url = app_url(name)
    with Workspace.open(url) as ws, postgres_admin(url) as admin:
        populate(ws)
        lost = "during a transaction, which was rolled back"
        with pytest.raises(StoreError, match=lost), ws.session() as s:
            customers.add(s, Customer(name="Half-way"))
            pid = cast(Any, s.unscoped)._db.info.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            customers.count(s)
        assert ws.customers.search("Half-way") == []
        assert ws.customers.count() == len(NORTH) + len(SOUTH)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this module's own, restarted by its tests without disturbing others."""
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL binaries")
    cluster = start_cluster()
    yield cluster
    cluster.stop()


def test_a_pooled_workspace_works_again_after_the_server_restarts(
    own_cluster: PostgresCluster,
) -> None:
    url = f"{own_cluster.url()}?pool_size=4"
    started = "SELECT pg_postmaster_start_time()"
    ws = Workspace.open(url)
    aws = AsyncWorkspace(ws)  # closes ws when it is closed
    try:
        populate(ws)
        fill_pool(ws)
        with postgres_admin(url) as admin:
            before = admin.execute(started).fetchone()
        own_cluster.restart()
        with postgres_admin(url) as admin:
            assert admin.execute(started).fetchone() != before  # it really restarted
        # Every connection the pool held is dead; the calls work all the same.
        moved = ws.customers.move(1, "Prospect")
        assert moved.status == "Prospect"
        assert sorted(c.name for c in ws.as_user("ann").customers.list()) == SEEN_BY["ann"]
        fill_pool(ws)
        own_cluster.restart()

        async def after_restart() -> list[str]:
            return [c.name for c in await aws.as_user("bob").customers.list()]

        assert asyncio.run(after_restart()) == SEEN_BY["bob"]
    finally:
        asyncio.run(aws.aclose())


def test_a_server_that_is_down_is_a_store_error_after_the_pool_timeout_then_works_again(
    own_cluster: PostgresCluster,
) -> None:
    url = f"{own_cluster.url()}?pool_size=2&pool_timeout=2"
    with Workspace.open(url) as ws:
        ws.customers.add(Customer(name="Patient"))
        own_cluster.halt()
        try:
            began = time.monotonic()
            with pytest.raises(StoreError, match=r"no connection to .* within 2 s"):
                ws.customers.count()
            assert 2 <= time.monotonic() - began < 10
            time.sleep(6)  # long enough for psycopg_pool alone to wait 8 s before its next try
        finally:
            own_cluster.resume()
        # The pool finds the server again within a second or so: within the pool timeout.
        assert [c.name for c in ws.customers.search("Patient")] == ["Patient"]


# AsyncWorkspace -----------------------------------------------------------------------------


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_noun_and_verb_of_workspace_is_awaited_on_async_workspace() -> None:
    ws = Workspace.open("memory:")
    aws = AsyncWorkspace(ws)
    nouns = {n for n, v in vars(Workspace).items() if isinstance(v, cached_property)}
    async_nouns = {n for n, v in vars(AsyncWorkspace).items() if isinstance(v, noun)}
    assert nouns == async_nouns and len(nouns) == 22
    for part in sorted(nouns):
        sync_type, async_noun = type(getattr(ws, part)), getattr(aws, part)
        assert isinstance(async_noun, AsyncNoun) and getattr(aws, part) is async_noun
        assert async_noun._noun is getattr(ws, part)  # the workspace's own noun, awaited
        verbs = {n: v for n, v in vars(type(async_noun)).items() if isinstance(v, awaited)}
        # An iterator is not awaited whole: it is an async iterator reading page by page.
        streamed = {"iter", "listing"} if part == "customers" else set()
        assert set(verbs) | streamed == public(sync_type), part
        for name, verb in verbs.items():
            assert verb.method is getattr(sync_type, name), f"{part}.{name}"
    # What the async facade leaves out on purpose (docs/embedding.md says why).
    assert public(Workspace) - public(AsyncWorkspace) == {
        "close",  # aclose()
        "session",  # a session is one thread's transaction: await aws.run(use_case)
        "write",
        "write_tracked",  # what the nouns use inside
    }


def test_async_calls_run_in_worker_threads_and_raise_what_the_call_raised() -> None:
    async def scenario() -> tuple[int, int, set[int]]:
        async with await AsyncWorkspace.open("memory:", max_workers=3) as aws:
            populate(aws.workspace)
            ident = await aws.run(lambda s: threading.get_ident())
            with pytest.raises(NotFound, match="no customer with id 99"):
                await aws.customers.get(99)
            with pytest.raises(NotFound, match="unknown user 'zed'"):
                await aws.as_user("zed").customers.list()
            counting = CountingStore(aws.workspace.store)
            aws.workspace.store = counting
            # Three calls at once, each in its own thread: they meet before their transactions.
            counting.barrier = threading.Barrier(3, timeout=5)
            idents = await asyncio.gather(
                *(aws.run(lambda s: threading.get_ident()) for _ in range(3))
            )
            return threading.get_ident(), ident, set(idents)

    loop_thread, worker, workers = asyncio.run(scenario())
    assert worker != loop_thread
    assert len(workers) == 3 and loop_thread not in workers


def test_an_async_view_closes_nothing_and_a_closed_workspace_refuses_calls() -> None:
    async def scenario() -> None:
        aws = await AsyncWorkspace.open("memory:")
        populate(aws.workspace)
        ann = aws.as_user("ann")
        await ann.aclose()
        assert sorted(c.name for c in await ann.customers.list()) == SEEN_BY["ann"]
        assert (await ann.whoami()).name == "ann"
        await aws.aclose()
        with pytest.raises(StoreError, match="closed"):
            await aws.customers.count()

    asyncio.run(scenario())


# The FastAPI example of docs/embedding.md ---------------------------------------------------


def docs_app(monkeypatch: pytest.MonkeyPatch, url: str) -> Any:
    """The FastAPI app of docs/embedding.md, imported as the reader would, serving ``url``."""
    path = ROOT / "docs" / "embedding.md"
    blocks, _ = read_blocks(path.read_text(encoding="utf-8"), "docs/embedding.md")
    [block] = [b for b in blocks if b.language == "python" and "FastAPI(" in b.code]
    monkeypatch.setenv("CRM_STORE", url)
    namespace: dict[str, Any] = {"__name__": "app"}
    exec(compile(block.code, block.name, "exec"), namespace)
    return namespace["app"]


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[Any]:
    """The app started (its lifespan), and an HTTP client talking to it in process."""
    import httpx

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://crm") as client:
            yield client


def served_store(kind: str, tmp_path: Path) -> str:
    url = store_url(kind, tmp_path)
    with Workspace.open(url) as ws:
        populate(ws)
    return url


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_fastapi_example_serves_concurrent_users_their_own_teams(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = docs_app(monkeypatch, served_store(kind, tmp_path))

    async def scenario() -> list[tuple[str, int, Any]]:
        async with serving(app) as client:
            users = ["ann", "bob", "nobody", "ann", "bob"] * 8

            async def get(user: str) -> tuple[str, int, Any]:
                answer = await client.get("/customers", headers={"x-user": user})
                return user, answer.status_code, answer.json()

            answers = await asyncio.gather(*(get(user) for user in users))
            searched = await client.get("/customers?q=hopper", headers={"x-user": "ann"})
            assert searched.status_code == 200 and searched.json() == []
            found = await client.get("/customers?q=hopper", headers={"x-user": "bob"})
            assert [c["name"] for c in found.json()] == ["Grace Hopper"]
            return answers

    answers = asyncio.run(scenario())
    assert len(answers) == 40
    for user, status, body in answers:
        if user == "nobody":
            assert status == 404 and "unknown user 'nobody'" in body["error"]
        else:
            assert status == 200
            assert sorted(c["name"] for c in body) == SEEN_BY[user]
            assert {c["team"] for c in body} == {"North" if user == "ann" else "South"}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_fastapi_example_keeps_the_event_loop_free_while_a_report_runs(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = docs_app(monkeypatch, served_store(kind, tmp_path))
    stall, health_first, report = run_with_app(app, "/reports/team")
    assert report == {"North": len(NORTH)}  # ann's scope: her team only
    assert health_first
    assert stall < 0.5


def test_a_blocking_call_in_an_async_endpoint_stalls_the_loop_and_the_test_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import Header

    app = docs_app(monkeypatch, served_store("sqlite", tmp_path))

    @app.get("/blocking-report/{by}")  # type: ignore[untyped-decorator]
    async def blocking(by: str, x_user: str = Header()) -> dict[str, int]:
        # What the async facade is for: the synchronous call here holds the loop.
        crm: AsyncWorkspace = app.state.crm
        grouped = crm.workspace.as_user(x_user).reports.group(by)
        return {row.label: row.total for row in grouped.rows}

    stall, _, report = run_with_app(app, "/blocking-report/team")
    assert report == {"North": len(NORTH)}
    assert stall > 0.8


def run_with_app(app: Any, path: str) -> tuple[float, bool, dict[str, int]]:
    """Hold the transaction of a report at ``path`` open for a second: the longest the
    event loop stalled meanwhile, whether /health answered before the report did, and
    the report."""

    async def scenario() -> tuple[float, bool, dict[str, int]]:
        async with serving(app) as client:
            crm: AsyncWorkspace = app.state.crm
            store = CountingStore(crm.workspace.store)
            crm.workspace.store = store  # views made from now on use it
            gate = store.hold = threading.Event()
            stop, gaps = asyncio.Event(), [0.0]

            async def ticker() -> None:
                last = time.monotonic()
                while not stop.is_set():
                    await asyncio.sleep(0.01)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

            ticking = asyncio.create_task(ticker())
            # A thread ends the report after a second, however the event loop fares.
            release = threading.Timer(1.0, gate.set)
            release.start()
            report = asyncio.create_task(client.get(path, headers={"x-user": "ann"}))
            await asyncio.to_thread(store.entered.wait, 10)
            health = await client.get("/health")
            health_first = health.status_code == 200 and not report.done()
            answer = await report
            stop.set()
            await ticking
            release.join()
            return max(gaps), health_first, answer.json()

    return asyncio.run(scenario())


def test_a_copy_from_postgresql_gives_its_connections_back_clean(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Workspace.open(fresh_store_url("postgres")) as ws, caplog.at_level("INFO", "psycopg.pool"):
        populate(ws)
        report = ws.migrate(f"sqlite:///{tmp_path / 'copy.db'}")
        assert report.rows["customers"] == len(NORTH) + len(SOUTH)
        assert ws.customers.count() == len(NORTH) + len(SOUTH)  # the pool still serves
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_the_async_iterator_reads_every_customer_in_pages() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        async with await AsyncWorkspace.open("memory:", max_workers=2) as aws:
            for index in range(7):
                await aws.customers.add(Customer(name=f"C{index}"))
            streamed = [c.name async for c in aws.customers.iter(page=3)]
            whole = [c.name for c in await aws.customers.list()]
        return streamed, whole

    streamed, whole = asyncio.run(scenario())
    assert streamed == whole and len(whole) == 7
