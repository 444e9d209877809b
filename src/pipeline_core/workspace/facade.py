"""The Workspace facade: opens one Session per use case and hands out the nouns.

``ws.customers.add(...)``, ``ws.flows.board("Sales")``, ``ws.tasks.add(...)``:
each noun object (``pipeline_core.workspace.api``) opens one session and calls
one use case function. The Workspace itself holds nothing about a call: who is
acting is fixed when it is made (``Workspace.open(url, actor=...)``,
``ws.as_user(name)``), and everything else lives on the session. One Workspace
may be shared by any number of threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Self, TypeVar

import attrs

from pipeline_core.domain.access import (
    SYSTEM,
    SYSTEM_PRINCIPAL,
    Principal,
    checked_name,
    scope_rule,
)
from pipeline_core.domain.automation import MAX_DEPTH, Automation, automations_from
from pipeline_core.domain.automation import SETTINGS_KEY as AUTOMATIONS_KEY
from pipeline_core.domain.clock import Clock, SystemClock
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import ConcurrencyError, NotFound, StoreError
from pipeline_core.storage import Store, Transaction, open_store
from pipeline_core.storage.copying import CopyReport, copy_store
from pipeline_core.storage.protocol import Watchable
from pipeline_core.workspace import access, definitions, outbox, statuses
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session

DEFAULT_STORE_URL = "sqlite:///pipeline.db"
WRITE_ATTEMPTS = 5
"""How often a write without ``expected_version`` is tried when another writer races it."""

if TYPE_CHECKING:
    from pipeline_core.workspace.api.access import Access, Filters, Teams, Users
    from pipeline_core.workspace.api.customers import Customers
    from pipeline_core.workspace.api.flows import Columns, Flows, Rules, Statuses
    from pipeline_core.workspace.api.life import Notes, Reminders, Tasks, Time, Workers
    from pipeline_core.workspace.api.outbox import Deliveries, Notifications
    from pipeline_core.workspace.api.records import Records
    from pipeline_core.workspace.api.reports import Reports
    from pipeline_core.workspace.api.setup import Automations, Fields, Folders, Settings

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("pipeline_core.workspace")

Handler = Callable[[Event, "Workspace"], object]
"""A subscriber: gets each committed event of its kind and the workspace (acting as the
actor whose change it was)."""


@attrs.frozen
class HandlerFailure:
    """A handler or automation that raised: the event, who failed, and the error text."""

    event: Event
    handler: str
    error: str


@attrs.define
class Hooks:
    """The workspace's subscribers and the failures they reported.

    Shared by a workspace and every view of it; it holds configuration and a
    log, never the state of one call.
    """

    handlers: dict[EventKind, list[Handler]] = attrs.Factory(dict)
    failures: list[HandlerFailure] = attrs.Factory(list)

    def on(self, kind: EventKind, handler: Handler) -> None:
        """Subscribe ``handler`` to committed events of ``kind``."""
        self.handlers.setdefault(EventKind(kind), []).append(handler)

    def report(self, event: Event, handler: str, error: Exception | str) -> None:
        """Record and log that ``handler`` failed on ``event``."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.failures.append(HandlerFailure(event, handler, text))
        log.warning(
            "handler %s failed on %s event of customer %s: %s",
            handler,
            event.kind.value,
            event.customer_id,
            text,
        )


class Workspace:
    """An open pipeline_core workspace: a store, who acts on it, a clock, and the nouns.

    Open one with ``Workspace.open(url, actor=USER)``; the actor is a user of the
    workspace (see docs/access.md) or ``"system"`` (scripts: sees everything).
    ``ws.as_user(name)`` is a view acting as another user over the same store.
    Use it as a context manager to close it. Subscribe to committed events with
    ``on(kind, handler)``.
    """

    def __init__(
        self,
        store: Store,
        *,
        actor: str = SYSTEM,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        _automations: tuple[str, ...] = (),
        _depth: int = 0,
        _owns_store: bool = True,
        _check_actor: bool = True,
    ) -> None:
        self.store = store
        self.actor = checked_name(actor)
        self.clock: Clock = clock or SystemClock()
        self.hooks = hooks or Hooks()
        self._automations = _automations
        self._depth = _depth
        self._owns_store = _owns_store
        if self.actor != SYSTEM and _check_actor and not _automations:
            with self.session():
                pass  # an unknown user is refused now, not at the first use

    @classmethod
    def open(
        cls,
        url: str = DEFAULT_STORE_URL,
        *,
        actor: str = SYSTEM,
        clock: Clock | None = None,
        create: bool = True,
    ) -> Self:
        """Open the workspace in the store ``url`` names, creating its schema if needed.

        ``actor``: the user acting (``NotFound`` if there is no such user), or
        ``"system"``. ``create=False`` refuses a store that does not exist yet (a
        missing SQLite file, an empty database) with ``StoreError`` instead of
        making it: what the ``pipeline`` command does everywhere but ``init`` and ``demo``.
        """
        store = open_store(url, create=create)
        try:
            return cls(store, actor=actor, clock=clock)
        except BaseException:
            store.close()
            raise

    def as_user(self, name: str) -> Workspace:
        """A view of this workspace acting as user ``name`` (or ``"system"``).

        It shares the store, the clock and the subscribers; closing it does not
        close the store. Making one touches no store (an unknown user is refused
        with ``NotFound`` by the view's first call), so it is cheap enough to make
        per request in a web app; each call reads the user's role and teams afresh.
        """
        return self._view(actor=name)

    def _view(
        self, *, actor: str, automations: tuple[str, ...] = (), depth: int | None = None
    ) -> Workspace:
        return Workspace(
            self.store,
            actor=actor,
            clock=self.clock,
            hooks=self.hooks,
            _automations=automations,
            _depth=self._depth if depth is None else depth,
            _owns_store=False,
            _check_actor=False,
        )

    def close(self) -> None:
        """Close the underlying store (a view made by ``as_user`` leaves it open)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # sessions -------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One session: one store transaction seen by this workspace's actor.

        Its events are published to handlers and automations after it commits.
        """
        with self._opened() as s:
            yield s

    def _opened(self, changed: set[int] | None = None) -> OpenedSession:
        return OpenedSession(self, changed)

    def _principal(self, tx: Transaction) -> Principal:
        if self.actor == SYSTEM or self._automations:
            # Automations are configured by admins and run with the system's rights.
            return SYSTEM_PRINCIPAL
        try:
            return Principal(tx.get_user(self.actor))
        except NotFound:
            raise NotFound(
                f"unknown user {self.actor!r}: add them with 'pipeline users add' "
                "or act as 'system'"
            ) from None

    def run(
        self, use_case: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run one use case function in one new session; its result."""
        with self.session() as s:
            return use_case(s, *args, **kwargs)

    def write(
        self,
        expected_version: int | None,
        use_case: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a writing use case; re-run it on a race the caller did not pin.

        With ``expected_version`` the caller said which version it saw, so a
        ConcurrencyError is theirs to handle. Without it the use case is re-run on
        fresh data (PostgreSQL's READ COMMITTED can interleave two writers; SQLite
        never does), up to ``WRITE_ATTEMPTS`` times.
        """
        return self.write_tracked(expected_version, use_case, *args, **kwargs)[0]

    def write_tracked(
        self,
        expected_version: int | None,
        use_case: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> tuple[T, set[int]]:
        """``write``, and the ids of the customers the automations it set off changed."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            changed: set[int] = set()
            try:
                with self._opened(changed) as s:
                    result = use_case(s, *args, **kwargs)
                return result, changed
            except ConcurrencyError:
                if expected_version is not None or attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    # publishing ------------------------------------------------------------------------

    def on(self, kind: EventKind | str, handler: Handler) -> None:
        """Call ``handler(event, workspace)`` for every committed event of ``kind``.

        Handlers run after the transaction commits; one that raises is recorded in
        ``hooks.failures`` (and logged) and neither undoes the change nor stops others.
        """
        self.hooks.on(EventKind(kind), handler)

    def _publish(
        self,
        events: Sequence[Event],
        stored: dict[str, Automation],
        changed: set[int] | None,
    ) -> None:
        """Give each committed event to its handlers, then to the declarative automations."""
        if self._depth >= MAX_DEPTH:
            for event in events:
                self.hooks.report(
                    event, "publish", f"events cascaded deeper than {MAX_DEPTH}; stopped"
                )
            return
        handlers = self.hooks.handlers
        if not stored and not (handlers and any(handlers.get(event.kind) for event in events)):
            return  # nothing listens: a plain move builds no view for nobody
        # What the handlers and automations do is one level deeper in the cascade.
        deeper = self._view(actor=self.actor, automations=self._automations, depth=self._depth + 1)
        for event in events:
            for handler in list(self.hooks.handlers.get(event.kind, ())):
                try:
                    handler(event, deeper)
                except Exception as error:
                    self.hooks.report(event, getattr(handler, "__name__", repr(handler)), error)
            for automation in stored.values():
                if automation.name in self._automations or not automation.triggered_by(event):
                    continue
                if not automation.in_process:
                    continue  # its outbound actions were written before the commit
                try:
                    deeper._apply_automation(automation, event.customer_id, event, changed)
                except Exception as error:
                    self.hooks.report(event, f"automation {automation.name!r}", error)

    def _apply_automation(
        self,
        automation: Automation,
        customer_id: int,
        trigger: Event | None,
        changed: set[int] | None = None,
    ) -> bool:
        """Apply an automation in a session of its own, acting as ``automation:NAME``."""
        from pipeline_core.workspace import automations  # its actions import most use cases

        runner = self._view(
            actor=f"automation:{automation.name}",
            automations=(*self._automations, automation.name),
        )
        with runner._opened(changed) as s:
            # Run by hand, the outbound actions go to the outbox in this same session.
            ran = automations.apply(s, automation, customer_id, trigger, outbound=trigger is None)
            if changed is not None and s.outbox:
                changed.update(event.customer_id for event in s.outbox)
        return ran

    def run_automation(self, name: str, customer_id: int) -> bool:
        """Run a stored automation by hand on one customer; False if the customer does not match."""
        from pipeline_core.workspace import automations

        with self.session() as s:
            automation = automations.get(s, name)
            s.get_customer(customer_id)
        return self._apply_automation(automation, customer_id, None)

    # the workspace as a whole -----------------------------------------------------------

    def init(self, region: str | None = None) -> StatusMachine:
        """Make sure the workspace has a status machine (the default lead pipeline if none).

        ``region`` (an ISO country code) becomes the default phone region: numbers
        written without a country code are read there. See docs/import-export.md.
        """
        return self.run(statuses.init, region)

    def changes(self, *, poll: float = 0.25) -> Generator[int, None, None]:
        """Yield 0 at once, then 1, 2... after each commit to the store, by any process.

        SQLite watches ``PRAGMA data_version``, PostgreSQL LISTENs for the schema's
        NOTIFY, the memory store wakes on its own commits; ``pipeline board --watch``
        redraws on each. Stop by closing the generator (or leaving the ``for`` loop).
        """
        if not isinstance(self.store, Watchable):
            raise StoreError(f"store {self.store.url} cannot tell when it changes")
        return self.store.changes(poll=poll)

    def whoami(self) -> Principal:
        """The actor this workspace acts as, with their current role and teams."""
        return self.run(access.whoami)

    def today(self) -> date:
        """Today's date in the workspace's time zone, by the workspace's clock."""
        return self.run(definitions.today)

    def migrate(self, url: str) -> CopyReport:
        """Copy this whole workspace into the new, empty store at ``url`` and verify the counts.

        Customers (merged ones too), history, flows, settings, tasks, everything:
        table by table, in one transaction on the target. Both stores must be SQL
        stores (SQLite or PostgreSQL); the target must be empty. Admins only: a
        copy holds every customer, whoever may see them.
        """
        self.run(require_admin, "copy the workspace")
        target = open_store(url)
        try:
            return copy_store(self.store, target)
        finally:
            target.close()

    # the nouns -----------------------------------------------------------------------------
    # Each noun's module is imported on first use: a command that needs only the board
    # does not pay for the import engine.

    @cached_property
    def customers(self) -> Customers:
        """Customer records: add, get, list, edit, move, search, import, export, merge..."""
        from pipeline_core.workspace.api.customers import Customers

        return Customers(self)

    @cached_property
    def records(self) -> Records:
        """Linked records: orders, payments, invoices, appointments, files, conversations..."""
        from pipeline_core.workspace.api.records import Records

        return Records(self)

    @cached_property
    def flows(self) -> Flows:
        """Flows and their boards."""
        from pipeline_core.workspace.api.flows import Flows

        return Flows(self)

    @cached_property
    def columns(self) -> Columns:
        """The columns of a flow's board."""
        from pipeline_core.workspace.api.flows import Columns

        return Columns(self)

    @cached_property
    def rules(self) -> Rules:
        """The rule language against this workspace's fields."""
        from pipeline_core.workspace.api.flows import Rules

        return Rules(self, self.store.url)

    @cached_property
    def statuses(self) -> Statuses:
        """The status machine."""
        from pipeline_core.workspace.api.flows import Statuses

        return Statuses(self)

    @cached_property
    def fields(self) -> Fields:
        """Typed custom fields."""
        from pipeline_core.workspace.api.setup import Fields

        return Fields(self)

    @cached_property
    def folders(self) -> Folders:
        """Folders with their own status machines and fields."""
        from pipeline_core.workspace.api.setup import Folders

        return Folders(self)

    @cached_property
    def automations(self) -> Automations:
        """Declarative automations."""
        from pipeline_core.workspace.api.setup import Automations

        return Automations(self)

    @cached_property
    def settings(self) -> Settings:
        """Lifecycle and duplicate settings."""
        from pipeline_core.workspace.api.setup import Settings

        return Settings(self)

    @cached_property
    def notes(self) -> Notes:
        """Notes on a customer's timeline."""
        from pipeline_core.workspace.api.life import Notes

        return Notes(self)

    @cached_property
    def tasks(self) -> Tasks:
        """Tasks with checklists."""
        from pipeline_core.workspace.api.life import Tasks

        return Tasks(self)

    @cached_property
    def time(self) -> Time:
        """Working time."""
        from pipeline_core.workspace.api.life import Time

        return Time(self)

    @cached_property
    def workers(self) -> Workers:
        """Workers assigned to customers."""
        from pipeline_core.workspace.api.life import Workers

        return Workers(self)

    @cached_property
    def reminders(self) -> Reminders:
        """Follow-up reminders."""
        from pipeline_core.workspace.api.life import Reminders

        return Reminders(self)

    @cached_property
    def deliveries(self) -> Deliveries:
        """The outbox: webhooks and emails sent by a runner, retried, logged."""
        from pipeline_core.workspace.api.outbox import Deliveries

        return Deliveries(self)

    @cached_property
    def notifications(self) -> Notifications:
        """In-app notifications for the acting user and their teams."""
        from pipeline_core.workspace.api.outbox import Notifications

        return Notifications(self)

    @cached_property
    def users(self) -> Users:
        """Users and their roles."""
        from pipeline_core.workspace.api.access import Users

        return Users(self)

    @cached_property
    def teams(self) -> Teams:
        """Teams and memberships."""
        from pipeline_core.workspace.api.access import Teams

        return Teams(self)

    @cached_property
    def access(self) -> Access:
        """Access settings."""
        from pipeline_core.workspace.api.access import Access

        return Access(self)

    @cached_property
    def filters(self) -> Filters:
        """Saved filters."""
        from pipeline_core.workspace.api.access import Filters

        return Filters(self)

    @cached_property
    def reports(self) -> Reports:
        """Pipeline and grouped reports."""
        from pipeline_core.workspace.api.reports import Reports

        return Reports(self)


class OpenedSession:
    """``with workspace._opened() as s``: a Session in a new store transaction.

    Before commit the outbox's automations write their deliveries; after commit its
    events are published. A class, not a generator: every use case opens one.
    """

    __slots__ = ("_changed", "_scope", "_session", "_workspace")

    def __init__(self, workspace: Workspace, changed: set[int] | None) -> None:
        self._workspace = workspace
        self._changed = changed

    def __enter__(self) -> Session:
        workspace = self._workspace
        scope = self._scope = workspace.store.transaction()
        tx = scope.__enter__()
        try:
            # The user is read in every transaction: a changed role or membership
            # takes effect at once.
            principal = workspace._principal(tx)
        except BaseException as error:
            scope.__exit__(type(error), error, error.__traceback__)
            raise
        self._session = Session(
            tx,
            principal=principal,
            actor=workspace.actor,
            scope=scope_rule(principal),
            clock=workspace.clock,
            automations=workspace._automations,
        )
        return self._session

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        s = self._session
        stored: dict[str, Automation] = {}
        if error is None and s.outbox:
            try:
                # Read inside the transaction: one cheap look-up, and what commits is what runs.
                stored = automations_from(s.unscoped.get_setting(AUTOMATIONS_KEY))
                # Deliveries and notifications are written with their cause (the outbox):
                # they exist exactly when the event does, whatever happens after commit.
                if stored:  # none defined (most workspaces): nothing to enqueue
                    outbox.enqueue(s, stored.values(), list(s.outbox))
            except BaseException as failed:
                self._scope.__exit__(type(failed), failed, failed.__traceback__)
                raise
        self._scope.__exit__(kind, error, traceback)
        if error is None and s.outbox:
            self._workspace._publish(s.outbox, stored, self._changed)
