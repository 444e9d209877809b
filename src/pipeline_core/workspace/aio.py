"""The async facade: ``AsyncWorkspace``, for asyncio apps (FastAPI, Starlette, aiohttp...).

The same nouns and verbs as ``Workspace`` (``await aws.customers.add(...)``,
``await aws.flows.board("Sales")``), each awaited: the call runs the
``Workspace``'s own method in a worker thread of a bounded executor, in a
session of its own, so the event loop never waits for the store. Nothing here
re-implements a use case.

Each noun class lists its verbs as one line apiece, ``add = awaited(Customers.add)``:
``awaited`` takes the synchronous method's whole signature (a ``ParamSpec``), so
mypy checks every argument of ``await aws.customers.add(...)`` and knows what it
returns, without a signature copied by hand. tests/test_embedding.py checks that
each async noun has every verb of its synchronous noun, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from pipeline_core.customer import Customer
from pipeline_core.domain.access import SYSTEM
from pipeline_core.domain.clock import Clock
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.view import ListedCustomer
from pipeline_core.errors import StoreError
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace.api.access import Access, Filters, Teams, Users
from pipeline_core.workspace.api.customers import Customers
from pipeline_core.workspace.api.flows import Columns, Flows, Rules, Statuses
from pipeline_core.workspace.api.life import Notes, Reminders, Tasks, Time, Workers
from pipeline_core.workspace.api.outbox import Deliveries, Notifications
from pipeline_core.workspace.api.records import Records
from pipeline_core.workspace.api.reports import Reports
from pipeline_core.workspace.api.setup import Automations, Fields, Folders, Settings
from pipeline_core.workspace.facade import DEFAULT_STORE_URL, Handler, Workspace
from pipeline_core.workspace.paging import EXPORT_PAGE
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import Session

N = TypeVar("N")
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_WORKERS = 8
"""Worker threads of an ``AsyncWorkspace`` (and its views) unless told: calls beyond
that many at once wait in the executor's queue, never in the event loop."""


class Runner:
    """A bounded pool of worker threads that blocking calls are awaited in."""

    def __init__(self, max_workers: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers, thread_name_prefix="pipeline_core")
        self.closed = False

    async def __call__(self, call: Callable[[], T]) -> T:
        """Run ``call()`` in a worker thread (with the caller's context variables); its result."""
        if self.closed:
            raise StoreError("the AsyncWorkspace is closed")
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self.executor, context.run, call)


class AsyncNoun(Generic[N]):
    """A noun of the workspace (``Customers``, ``Flows``...) whose verbs are awaited."""

    def __init__(self, noun: N, runner: Runner) -> None:
        self._noun = noun
        self._runner = runner


class awaited(Generic[N, P, T]):  # noqa: N801 - used like a decorator, named like one
    """A verb of an ``AsyncNoun``: the synchronous noun's method, run in a worker thread.

    ``add = awaited(Customers.add)`` in an ``AsyncNoun[Customers]`` makes
    ``await noun.add(customer, on_duplicate="merge")``, with ``Customers.add``'s
    parameters and result as its types.
    """

    def __init__(self, method: Callable[Concatenate[N, P], T]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, noun: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, noun: AsyncNoun[N], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(
        self, noun: AsyncNoun[N] | None, owner: type[Any]
    ) -> Self | Callable[P, Coroutine[Any, Any, T]]:
        if noun is None:
            return self
        method, target, runner = self.method, noun._noun, noun._runner

        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return await runner(lambda: method(target, *args, **kwargs))

        call.__name__ = call.__qualname__ = method.__name__
        call.__doc__ = method.__doc__
        return call


A = TypeVar("A", bound=AsyncNoun[Any])


class noun(Generic[A]):  # noqa: N801 - used like cached_property, named like it
    """An async noun of ``AsyncWorkspace``, made on first use around the workspace's own.

    ``customers = noun(AsyncCustomers)`` makes ``aws.customers`` an
    ``AsyncCustomers`` wrapping ``aws.workspace.customers``, kept on the instance.
    """

    def __init__(self, kind: type[A]) -> None:
        self.kind = kind
        self.name = ""
        self.__doc__ = kind.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, workspace: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, workspace: AsyncNoun[Any], owner: type[Any]) -> A: ...

    def __get__(self, workspace: AsyncNoun[Any] | None, owner: type[Any]) -> Self | A:
        if workspace is None:
            return self
        made = self.kind(getattr(workspace._noun, self.name), workspace._runner)
        workspace.__dict__[self.name] = made  # found before this descriptor from now on
        return made


# The nouns, in the order of workspace/api/ ---------------------------------------------------


class AsyncUsers(AsyncNoun[Users]):
    """Users and their roles (``Workspace.users``), awaited."""

    add = awaited(Users.add)
    list = awaited(Users.list)
    get = awaited(Users.get)
    role = awaited(Users.role)


class AsyncTeams(AsyncNoun[Teams]):
    """Teams and memberships (``Workspace.teams``), awaited."""

    add = awaited(Teams.add)
    list = awaited(Teams.list)
    join = awaited(Teams.join)
    leave = awaited(Teams.leave)


class AsyncAccess(AsyncNoun[Access]):
    """Access settings (``Workspace.access``), awaited."""

    show = awaited(Access.show)
    set = awaited(Access.set)


class AsyncFilters(AsyncNoun[Filters]):
    """Saved filters (``Workspace.filters``), awaited."""

    save = awaited(Filters.save)
    list = awaited(Filters.list)
    get = awaited(Filters.get)
    delete = awaited(Filters.delete)


class AsyncCustomers(AsyncNoun[Customers]):
    """Customer records (``Workspace.customers``), awaited."""

    add = awaited(Customers.add)
    get = awaited(Customers.get)
    show = awaited(Customers.show)
    list = awaited(Customers.list)
    count = awaited(Customers.count)
    search = awaited(Customers.search)
    edit = awaited(Customers.edit)
    move = awaited(Customers.move)
    timeline = awaited(Customers.timeline)
    contact = awaited(Customers.contact)
    follow_up = awaited(Customers.follow_up)
    follow_up_done = awaited(Customers.follow_up_done)
    deal = awaited(Customers.deal)
    convert = awaited(Customers.convert)
    parent = awaited(Customers.parent)
    children = awaited(Customers.children)
    tree = awaited(Customers.tree)
    folder = awaited(Customers.folder)
    activity = awaited(Customers.activity)
    dupes = awaited(Customers.dupes)
    merge = awaited(Customers.merge)
    merge_many = awaited(Customers.merge_many)
    import_file = awaited(Customers.import_file)
    export = awaited(Customers.export)
    import_profiles = awaited(Customers.import_profiles)
    save_import_profile = awaited(Customers.save_import_profile)
    template = awaited(Customers.template)
    unreadable_phones = awaited(Customers.unreadable_phones)

    async def iter(
        self,
        where: RuleLike = MATCH_ALL,
        *,
        page: int = EXPORT_PAGE,
        limit: int | None = None,
        offset: int = 0,
    ) -> AsyncIterator[Customer]:
        """``Customers.iter`` as an async iterator: each page is read in a worker thread."""
        found = await self._runner(
            lambda: self._noun.iter(where, page=page, limit=limit, offset=offset)
        )
        while chunk := await self._runner(lambda: list(itertools.islice(found, page))):
            for customer in chunk:
                yield customer

    badges = awaited(Customers.badges)

    async def listing(
        self,
        where: RuleLike = MATCH_ALL,
        *,
        unseen: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> AsyncIterator[ListedCustomer]:
        """``Customers.listing`` as an async iterator: each page is read in a worker thread."""
        found = await self._runner(
            lambda: self._noun.listing(where, unseen=unseen, limit=limit, offset=offset)
        )
        while chunk := await self._runner(lambda: list(itertools.islice(found, EXPORT_PAGE))):
            for item in chunk:
                yield item


class AsyncRecords(AsyncNoun[Records]):
    """Linked records (``Workspace.records``), awaited."""

    add = awaited(Records.add)
    upsert = awaited(Records.upsert)
    show = awaited(Records.show)
    list = awaited(Records.list)
    set_state = awaited(Records.set_state)
    kinds = awaited(Records.kinds)
    define_kind = awaited(Records.define_kind)
    import_file = awaited(Records.import_file)
    export = awaited(Records.export)


class AsyncFlows(AsyncNoun[Flows]):
    """Flows and their boards (``Workspace.flows``), awaited."""

    add = awaited(Flows.add)
    list = awaited(Flows.list)
    get = awaited(Flows.get)
    remove = awaited(Flows.remove)
    hide = awaited(Flows.hide)
    unhide = awaited(Flows.unhide)
    board = awaited(Flows.board)
    move = awaited(Flows.move)
    explain = awaited(Flows.explain)
    rename = awaited(Flows.rename)
    set_rule = awaited(Flows.set_rule)
    history = awaited(Flows.history)
    hidden = awaited(Flows.hidden)


class AsyncColumns(AsyncNoun[Columns]):
    """The columns of a flow's board (``Workspace.columns``), awaited."""

    add = awaited(Columns.add)
    list = awaited(Columns.list)
    remove = awaited(Columns.remove)
    move = awaited(Columns.move)
    rename = awaited(Columns.rename)
    recolour = awaited(Columns.recolour)


class AsyncRules(AsyncNoun[Rules]):
    """The rule language against the workspace's fields (``Workspace.rules``), awaited."""

    check = awaited(Rules.check)
    sql = awaited(Rules.sql)
    catalog = awaited(Rules.catalog)


class AsyncStatuses(AsyncNoun[Statuses]):
    """The status machine (``Workspace.statuses``), awaited."""

    show = awaited(Statuses.show)
    set = awaited(Statuses.set)
    load = awaited(Statuses.load)


class AsyncNotes(AsyncNoun[Notes]):
    """Notes on a customer's timeline (``Workspace.notes``), awaited."""

    add = awaited(Notes.add)
    list = awaited(Notes.list)


class AsyncTasks(AsyncNoun[Tasks]):
    """Tasks with checklists (``Workspace.tasks``), awaited."""

    add = awaited(Tasks.add)
    get = awaited(Tasks.get)
    done = awaited(Tasks.done)
    reopen = awaited(Tasks.reopen)
    tick = awaited(Tasks.tick)
    list = awaited(Tasks.list)
    overdue = awaited(Tasks.overdue)


class AsyncTime(AsyncNoun[Time]):
    """Working time (``Workspace.time``), awaited."""

    log = awaited(Time.log)
    list = awaited(Time.list)
    summary = awaited(Time.summary)


class AsyncWorkers(AsyncNoun[Workers]):
    """Workers assigned to customers (``Workspace.workers``), awaited."""

    assign = awaited(Workers.assign)
    unassign = awaited(Workers.unassign)
    customers = awaited(Workers.customers)


class AsyncReminders(AsyncNoun[Reminders]):
    """Follow-up reminders (``Workspace.reminders``), awaited."""

    due = awaited(Reminders.due)
    run = awaited(Reminders.run)
    watch = awaited(Reminders.watch)


class AsyncDeliveries(AsyncNoun[Deliveries]):
    """The outbox (``Workspace.deliveries``), awaited."""

    run = awaited(Deliveries.run)
    list = awaited(Deliveries.list)
    retry = awaited(Deliveries.retry)
    settings = awaited(Deliveries.settings)
    configure = awaited(Deliveries.configure)


class AsyncNotifications(AsyncNoun[Notifications]):
    """Notifications (``Workspace.notifications``), awaited."""

    list = awaited(Notifications.list)
    read = awaited(Notifications.read)


class AsyncReports(AsyncNoun[Reports]):
    """Pipeline and grouped reports (``Workspace.reports``), awaited."""

    pipeline = awaited(Reports.pipeline)
    group = awaited(Reports.group)
    aliases = awaited(Reports.aliases)
    alias = awaited(Reports.alias)
    save = awaited(Reports.save)
    list = awaited(Reports.list)
    run = awaited(Reports.run)


class AsyncFields(AsyncNoun[Fields]):
    """Typed custom fields (``Workspace.fields``), awaited."""

    add = awaited(Fields.add)
    list = awaited(Fields.list)
    get = awaited(Fields.get)
    remove = awaited(Fields.remove)
    add_options = awaited(Fields.add_options)
    rename_option = awaited(Fields.rename_option)


class AsyncFolders(AsyncNoun[Folders]):
    """Folders with their own status machines and fields (``Workspace.folders``), awaited."""

    add = awaited(Folders.add)
    list = awaited(Folders.list)
    get = awaited(Folders.get)
    remove = awaited(Folders.remove)
    access = awaited(Folders.access)


class AsyncAutomations(AsyncNoun[Automations]):
    """Declarative automations (``Workspace.automations``), awaited."""

    add = awaited(Automations.add)
    list = awaited(Automations.list)
    remove = awaited(Automations.remove)
    run = awaited(Automations.run)


class AsyncSettings(AsyncNoun[Settings]):
    """Lifecycle and duplicate settings (``Workspace.settings``), awaited."""

    show = awaited(Settings.show)
    set = awaited(Settings.set)
    duplicates = awaited(Settings.duplicates)


# The workspace ------------------------------------------------------------------------------


class AsyncWorkspace(AsyncNoun[Workspace]):
    """A ``Workspace`` for asyncio code: the same nouns and verbs, each awaited.

    ``aws = await AsyncWorkspace.open(url)`` (or ``AsyncWorkspace(ws)`` around a
    workspace you opened) and ``async with`` it to close it. Every call runs the
    workspace's call in one of ``max_workers`` worker threads, in a session of its
    own: ``await aws.customers.add(...)``, ``await aws.flows.board("Sales")``.
    ``aws.as_user(name)`` is a view acting as another user that shares the
    workspace and its threads; making one does no I/O.

    A cancelled ``await`` does not stop its call: the transaction runs to its end
    (commit or rollback) in its thread, and the result is dropped.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        max_workers: int = DEFAULT_WORKERS,
        _runner: Runner | None = None,
    ) -> None:
        super().__init__(workspace, _runner or Runner(max_workers))
        self._owns = _runner is None

    @classmethod
    async def open(
        cls,
        url: str = DEFAULT_STORE_URL,
        *,
        actor: str = SYSTEM,
        clock: Clock | None = None,
        create: bool = True,
        max_workers: int = DEFAULT_WORKERS,
    ) -> Self:
        """``Workspace.open`` in a worker thread (connecting and migrating block)."""
        runner = Runner(max_workers)
        try:
            workspace = await runner(
                lambda: Workspace.open(url, actor=actor, clock=clock, create=create)
            )
        except BaseException:
            runner.executor.shutdown(wait=False)
            raise
        self = cls(workspace, _runner=runner)
        self._owns = True
        return self

    @property
    def workspace(self) -> Workspace:
        """The synchronous workspace this one awaits (for threads and handlers)."""
        return self._noun

    @property
    def actor(self) -> str:
        """Who this workspace acts as."""
        return self._noun.actor

    def as_user(self, name: str) -> AsyncWorkspace:
        """A view acting as user ``name``: same store, same threads, no I/O to make it."""
        return AsyncWorkspace(self._noun.as_user(name), _runner=self._runner)

    async def run(
        self, use_case: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one use case function in one new session, in a worker thread; its result."""
        workspace = self._noun
        return await self._runner(lambda: workspace.run(use_case, *args, **kwargs))

    def on(self, kind: EventKind | str, handler: Handler) -> None:
        """``Workspace.on``: ``handler`` runs in the worker thread, after the commit."""
        self._noun.on(kind, handler)

    async def changes(self, *, poll: float = 0.25) -> AsyncIterator[int]:
        """``Workspace.changes`` as an async iterator: each wait runs in a worker thread."""
        found = await self._runner(lambda: self._noun.changes(poll=poll))
        try:
            while True:
                yield await self._runner(lambda: next(found))
        finally:
            await self._runner(found.close)

    init = awaited(Workspace.init)
    whoami = awaited(Workspace.whoami)
    today = awaited(Workspace.today)
    migrate = awaited(Workspace.migrate)
    run_automation = awaited(Workspace.run_automation)

    async def aclose(self) -> None:
        """Close the store and stop the worker threads (a view made by ``as_user`` does neither)."""
        if not self._owns or self._runner.closed:
            return
        await self._runner(self._noun.close)
        self._runner.closed = True
        self._runner.executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # the nouns, made on first use ------------------------------------------------------

    customers = noun(AsyncCustomers)
    records = noun(AsyncRecords)
    flows = noun(AsyncFlows)
    columns = noun(AsyncColumns)
    rules = noun(AsyncRules)
    statuses = noun(AsyncStatuses)
    fields = noun(AsyncFields)
    folders = noun(AsyncFolders)
    automations = noun(AsyncAutomations)
    settings = noun(AsyncSettings)
    notes = noun(AsyncNotes)
    tasks = noun(AsyncTasks)
    time = noun(AsyncTime)
    workers = noun(AsyncWorkers)
    reminders = noun(AsyncReminders)
    deliveries = noun(AsyncDeliveries)
    notifications = noun(AsyncNotifications)
    users = noun(AsyncUsers)
    teams = noun(AsyncTeams)
    access = noun(AsyncAccess)
    filters = noun(AsyncFilters)
    reports = noun(AsyncReports)
