"""Random sequences of use cases driven through every backend at once: they must agree.

Memory and SQLite always take part; PostgreSQL joins when its binaries exist
(conftest says loudly when they do not).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pipeline_core import Customer, FixedClock, PipelineError, Workspace
from pipeline_core.rules import InSet, SetTest
from pipeline_core.workspace.demo import SALES_COLUMNS

from .conftest import fresh_store_url
from .postgres_server import find_bin_dir

STATUSES = ("Lead", "Prospect", "Quoted", "Customer", "Inactive", "Unknown")
TAGS = ("VIP", "Hot", "ñandú", "50%_off")
FOLDERS = (None, "Leads", "Clients", 'O\'Brien "quoted"')
names = st.text(min_size=1, max_size=12).filter(str.strip)


def timeline_of(customer_id: int) -> Callable[[Workspace], Any]:
    return lambda ws: ws.customers.timeline(customer_id)


class Agreement(RuleBasedStateMachine):
    """Every step runs on both backends; results (or error types) must match."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.directory = tempfile.TemporaryDirectory()
        path = Path(self.directory.name) / "agree.db"
        urls = ["memory:", f"sqlite:///{path}"]
        if find_bin_dir() is not None:
            urls.append(fresh_store_url("postgres"))
        self.workspaces = [Workspace.open(url, clock=self.clock) for url in urls]
        self.ids: list[int] = []
        for ws in self.workspaces:
            ws.flows.add("Sales", SetTest("tags", "none", ("Hot",)), SALES_COLUMNS[:3])

    def both(self, call: Callable[[Workspace], Any]) -> Any:
        outcomes = []
        for ws in self.workspaces:
            try:
                outcomes.append(("ok", call(ws)))
            except PipelineError as error:
                outcomes.append(("error", type(error).__name__))
        for other in outcomes[1:]:
            assert other == outcomes[0], outcomes
        self.clock.advance(timedelta(seconds=1))
        return outcomes[0]

    @rule(
        name=names,
        status=st.sampled_from(("", *STATUSES)),
        tags=st.lists(st.sampled_from(TAGS), max_size=3),
        folder=st.sampled_from(FOLDERS),
    )
    def add(self, name: str, status: str, tags: list[str], folder: str | None) -> None:
        kind, result = self.both(
            lambda ws: ws.customers.add(
                Customer(name=name, status=status, tags=tags, folder=folder)
            )
        )
        if kind == "ok":
            self.ids.append(result.id)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), status=st.sampled_from(STATUSES))
    def move(self, data: st.DataObject, status: str) -> None:
        customer_id = data.draw(st.sampled_from(self.ids))
        self.both(lambda ws: ws.customers.move(customer_id, status))

    @precondition(lambda self: self.ids)
    @rule(
        data=st.data(),
        tags=st.lists(st.sampled_from(TAGS), max_size=3),
        folder=st.sampled_from(FOLDERS),
        name=st.one_of(names, st.just(" ")),
    )
    def edit(self, data: st.DataObject, tags: list[str], folder: str | None, name: str) -> None:
        customer_id = data.draw(st.sampled_from(self.ids))
        self.both(lambda ws: ws.customers.edit(customer_id, tags=tags, folder=folder, name=name))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), hidden=st.booleans())
    def hide(self, data: st.DataObject, hidden: bool) -> None:
        customer_id = data.draw(st.sampled_from(self.ids))
        if hidden:
            self.both(lambda ws: ws.flows.hide("Sales", customer_id))
        else:
            self.both(lambda ws: ws.flows.unhide("Sales", customer_id))

    @rule(customer_id=st.integers(min_value=0, max_value=40))
    def look_up_any_id(self, customer_id: int) -> None:
        self.both(lambda ws: ws.customers.get(customer_id))

    @invariant()
    def same_customers_boards_and_timelines(self) -> None:
        self.both(lambda ws: ws.customers.list())
        self.both(lambda ws: ws.flows.board("Sales", limit=2))
        self.both(lambda ws: ws.customers.count(InSet("folder", ("Leads",))))
        for customer_id in self.ids[-3:]:
            self.both(timeline_of(customer_id))

    def teardown(self) -> None:
        for ws in self.workspaces:
            ws.close()
        self.directory.cleanup()


Agreement.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestAgreement = Agreement.TestCase
