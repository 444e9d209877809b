"""One Session per use case: who acts lives on the session, one use case is one transaction.

The thread test shares ONE Workspace between threads acting as different users
while an automation fires on their edits; the transaction tests count what the
store was asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import pytest

from pipeline_core import (
    Action,
    Automation,
    Customer,
    EventKind,
    FixedClock,
    NotOnBoard,
    Workspace,
)
from pipeline_core.domain.flows import Column
from pipeline_core.storage import Store, Transaction
from pipeline_core.storage.sqlite import SqliteStore

THREADS_PER_USER = {"ann": 4, "bob": 2, "root": 2}
"""Eight threads: four on the shared workspace itself (opened as ann), two on a view
as bob, two on a view as the admin root."""
ROUNDS = 12


@pytest.fixture
def shop(tmp_path: Path, clock: FixedClock) -> Iterator[Workspace]:
    """A workspace with teams North and South, agents ann (North) and bob (South), the
    admin root, nine customers, and an automation that reacts to every tag change."""
    with Workspace.open(f"sqlite:///{tmp_path / 'shop.db'}", clock=clock) as ws:
        ws.init()
        ws.teams.add("North")
        ws.teams.add("South")
        ws.users.add("ann", "agent", ["North"])
        ws.users.add("bob", "agent", ["South"])
        ws.users.add("root", "admin")
        for index in range(4):
            ws.customers.add(Customer(name=f"North {index}", team="North"))
        for index in range(5):
            ws.customers.add(Customer(name=f"South {index}", team="South"))
        ws.automations.add(
            Automation(
                name="welcome",
                on="tags_changed",
                rule='not tags any ("welcomed")',
                actions=(Action(kind="add_tag", value="welcomed"),),
            )
        )
        yield ws


def test_threads_sharing_one_workspace_each_act_as_their_own_user(
    shop: Workspace, tmp_path: Path
) -> None:
    everyone = {c.id: c for c in shop.customers.list()}
    north = sorted(i for i, c in everyone.items() if c.team == "North")
    south = sorted(i for i, c in everyone.items() if c.team == "South")
    visible = {"ann": north, "bob": south, "root": sorted(everyone)}
    shared = Workspace.open(str(shop.store.url), actor="ann", clock=shop.clock)
    views = {"ann": shared, "bob": shared.as_user("bob"), "root": shared.as_user("root")}
    # Each thread edits customers of its own, so that every edit has one known author.
    edits: dict[int, str] = {}
    plan: list[tuple[str, list[int]]] = []
    pools = {"ann": list(north), "bob": list(south), "root": []}
    for user, count in THREADS_PER_USER.items():
        for number in range(count):
            mine = pools[user][number::count] if pools[user] else []
            plan.append((user, mine))
            edits.update((customer_id, user) for customer_id in mine)
    failures: list[str] = []
    start = threading.Barrier(len(plan))

    def work(user: str, mine: list[int]) -> None:
        ws = views[user]
        start.wait()
        try:
            for round_number in range(ROUNDS):
                for customer_id in mine:
                    if round_number % 2 == 0:
                        ws.customers.edit(customer_id, add_tags=[f"r{round_number}"])
                    else:
                        ws.customers.edit(customer_id, remove_tags=[f"r{round_number - 1}"])
                seen = sorted(c.id for c in ws.customers.list())
                if seen != visible[user]:
                    failures.append(f"{user} saw {seen} in round {round_number}")
                if ws.whoami().name != user:
                    failures.append(f"{user}'s view acted as {ws.whoami().name}")
                if user == "ann":
                    ws.notes.add(north[0], f"ann's note {round_number}")
        except Exception as error:  # pragma: no cover - reported below
            failures.append(f"{user}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=item) for item in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    # Afterwards the shared workspace still acts as ann and sees only her team.
    assert shared.actor == "ann" and shared.whoami().name == "ann"
    assert sorted(c.id for c in shared.customers.list()) == north
    with pytest.raises(Exception, match="no customer"):
        shared.customers.get(south[0])

    # Every event names its real author: the user whose thread made it, or the automation.
    checked = 0
    for customer_id in everyone:
        for event in shop.customers.timeline(customer_id):
            if event.kind is EventKind.TAGS_CHANGED:
                tags = [str(tag) for key in ("added", "removed") for tag in _texts(event.data[key])]
                if tags == ["welcomed"]:
                    assert event.actor == "automation:welcome", event
                else:
                    assert event.actor == edits[customer_id], event
                    checked += 1
            elif event.kind is EventKind.NOTE:
                assert event.actor == "ann", event
            elif event.kind is EventKind.AUTOMATION_RAN:
                assert event.actor == "automation:welcome", event
    assert checked == ROUNDS * len(edits)
    # The automation ran once per edited customer (its own tag never triggers it again).
    welcomed = [c for c in shop.customers.list() if "welcomed" in c.tags]
    assert sorted(c.id for c in welcomed) == sorted(edits)
    shared.close()


def _texts(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def test_a_view_as_another_user_changes_nothing_on_the_workspace(shop: Workspace) -> None:
    ann = Workspace(shop.store, actor="ann", clock=shop.clock)
    bob = ann.as_user("bob")
    assert (ann.actor, bob.actor) == ("ann", "bob")
    assert {c.team for c in bob.customers.list()} == {"South"}
    assert {c.team for c in ann.customers.list()} == {"North"}
    bob.close()  # a view leaves the store open
    assert len(ann.customers.list()) == 4


# one use case, one transaction --------------------------------------------------------


class CountingStore:
    """A store that counts the transactions it opens (and otherwise passes through)."""

    def __init__(self, store: Store) -> None:
        self.inner = store
        self.url = store.url
        self.opened = 0

    def transaction(self) -> AbstractContextManager[Transaction]:
        self.opened += 1
        return self.inner.transaction()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def counted(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Workspace, CountingStore]]:
    """A workspace over a counting store, with a flow, a folder, a customer and a task."""
    with Workspace.open(f"sqlite:///{tmp_path / 'c.db'}", clock=clock) as setup:
        setup.init()
        setup.flows.add(
            "Sales",
            'status in ("Lead", "Prospect", "Quoted")',
            [Column("New", "Lead", "#3366cc", 0), Column("Hot", "Prospect", "#cc3366", 1)],
        )
        setup.folders.add("Archive")
        ada = setup.customers.add(Customer(name="Ada", emails=["ada@x.org"]))
        setup.customers.add(Customer(name="Bob", status="Customer"))
        setup.tasks.add(ada.id, "Call")
        counting = CountingStore(setup.store)
        yield Workspace(counting, clock=clock), counting


USE_CASES: dict[str, Callable[[Workspace], object]] = {
    "customers.add": lambda ws: ws.customers.add(Customer(name="Cy")),
    "customers.get": lambda ws: ws.customers.get(1),
    "customers.show": lambda ws: ws.customers.show(1),
    "customers.list": lambda ws: ws.customers.list('status = "Lead"'),
    "customers.edit": lambda ws: ws.customers.edit(1, add_tags=["VIP"], source="web"),
    "customers.move": lambda ws: ws.customers.move(1, "Prospect"),
    "customers.deal": lambda ws: ws.customers.deal(1, "100", "EUR"),
    "customers.parent": lambda ws: ws.customers.parent(2, 1),
    "customers.folder": lambda ws: ws.customers.folder(1, "Archive"),
    "customers.follow_up": lambda ws: ws.customers.follow_up(1, date(2026, 2, 1)),
    "customers.search": lambda ws: ws.customers.search("ada"),
    "customers.merge": lambda ws: ws.customers.merge(1, [2], dry_run=True),
    "flows.board": lambda ws: ws.flows.board("Sales"),
    "flows.move": lambda ws: ws.flows.move(1, "Sales", "Hot"),
    "flows.explain": lambda ws: ws.flows.explain("Sales", 1),
    "notes.add": lambda ws: ws.notes.add(1, "hello"),
    "tasks.add": lambda ws: ws.tasks.add(1, "Write"),
    "tasks.done": lambda ws: ws.tasks.done(1),
    "time.log": lambda ws: ws.time.log(1, "ann", 30),
    "workers.assign": lambda ws: ws.workers.assign(1, "ann"),
    "reports.pipeline": lambda ws: ws.reports.pipeline("Sales"),
    "reports.group": lambda ws: ws.reports.group("status"),
    "statuses.show": lambda ws: ws.statuses.show(),
    "rules.check": lambda ws: ws.rules.check('tags any ("VIP")'),
}


@pytest.mark.parametrize("name", sorted(USE_CASES))
def test_each_use_case_is_one_transaction(
    name: str, counted: tuple[Workspace, CountingStore]
) -> None:
    ws, store = counted
    before = store.opened
    USE_CASES[name](ws)
    assert store.opened - before == 1, f"{name} opened {store.opened - before} transactions"


def test_an_automation_runs_in_a_session_of_its_own_and_the_result_shows_it(
    counted: tuple[Workspace, CountingStore],
) -> None:
    ws, store = counted
    ws.automations.add(
        Automation(name="tagger", on="created", actions=(Action(kind="add_tag", value="new"),))
    )
    before = store.opened
    added = ws.customers.add(Customer(name="Dee"))
    # The add, the automation's own session, and one read of what is stored after it.
    assert store.opened - before == 3
    assert added.tags == ("new",)
    actors = [e.actor for e in ws.customers.timeline(added.id)]
    assert actors == ["system", "automation:tagger", "automation:tagger"]


def test_a_card_move_is_one_transaction_and_refuses_a_customer_off_the_board(
    tmp_path: Path, clock: FixedClock
) -> None:
    with Workspace.open(f"sqlite:///{tmp_path / 'm.db'}", clock=clock) as ws:
        ws.init()
        ws.flows.add(
            "VIP Leads",
            'tags any ("VIP")',
            [Column("New", "Lead", "#3366cc", 0), Column("Approved", "Prospect", "#cc3366", 1)],
        )
        vip = ws.customers.add(Customer(name="Vip", tags=["VIP"]))
        plain = ws.customers.add(Customer(name="Plain"))
        store = ws.store
        assert isinstance(store, SqliteStore)
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        try:
            moved = ws.flows.move(vip.id, "VIP Leads", "Approved")
            begins = [s for s in statements if s.strip().upper().startswith("BEGIN")]
            assert moved.status == "Prospect"
            assert len(begins) == 1, statements
            with pytest.raises(NotOnBoard, match="not on the board of flow 'VIP Leads'"):
                ws.flows.move(plain.id, "VIP Leads", "Approved")
        finally:
            store._db.set_trace_callback(None)
        assert ws.customers.get(plain.id).status == "Lead"
        ws.flows.hide("VIP Leads", vip.id)
        with pytest.raises(NotOnBoard, match="hidden"):
            ws.flows.move(vip.id, "VIP Leads", "New")
