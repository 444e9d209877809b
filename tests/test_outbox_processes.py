"""Exactly once across processes: overlapping reminder runners, a delivery runner killed
with SIGKILL half-way and run again, and the watch loop stopped by a signal.

On SQLite and PostgreSQL (a real throwaway server, tests/postgres_server.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.automation import Action, Automation
from pipeline_core.domain.events import EventKind

from .receivers import http_receiver, webhook_automation
from .test_concurrency import shared_url

RUNNERS = 4
CUSTOMERS = 30
PAST = date(2020, 1, 6)


def fire_repeatedly(url: str, rounds: int, start_at: float) -> int:
    """Run the reminder runner ``rounds`` times from ``start_at``; how many events it fired."""
    fired = 0
    with Workspace.open(url) as ws:
        # Every process starts at the same moment, so that their runs overlap.
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(rounds):
            fired += len(ws.reminders.run().events)
    return fired


def pipeline(url: str, *args: str) -> list[str]:
    """The argv of the ``pipeline`` command on ``url``."""
    return [sys.executable, "-m", "pipeline_core", "--store", url, *args]


def pending_webhooks(url: str, receiver: str, count: int) -> list[str]:
    """``count`` customers whose fired reminders wait in the outbox as webhooks; their ids."""
    with Workspace.open(url) as ws:
        ws.deliveries.configure(webhook_secret="s")
        ws.automations.add(webhook_automation(receiver))
        for n in range(count):
            ws.customers.follow_up(ws.customers.add(Customer(name=f"C{n}")).id, PAST)
        ws.reminders.run()
        return sorted(str(d.id) for d in ws.deliveries.list())


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_overlapping_reminder_runners_fire_each_reminder_once(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    with Workspace.open(url) as ws:
        ws.automations.add(
            Automation(
                name="tell",
                on=EventKind.REMINDER_DUE,
                actions=(Action(kind="notify", value="team:North", body="$name"),),
            )
        )
        ids = [ws.customers.add(Customer(name=f"C{n}")).id for n in range(CUSTOMERS)]
        for customer_id in ids:
            ws.customers.follow_up(customer_id, PAST)
        task = ws.tasks.add(ids[0], "Overdue", due=PAST)
    context = multiprocessing.get_context("spawn")
    with context.Pool(RUNNERS) as pool:
        fired = pool.starmap(fire_repeatedly, [(url, 5, time.time() + 3)] * RUNNERS)
    assert sum(fired) == CUSTOMERS + 1
    with Workspace.open(url) as ws:
        for customer_id in ids:
            kinds = [e.kind for e in ws.customers.timeline(customer_id)]
            assert kinds.count(EventKind.REMINDER_DUE) == 1
        due = [e for e in ws.customers.timeline(ids[0]) if e.kind is EventKind.TASK_DUE]
        assert [e.data["task"] for e in due] == [task.id]
        notes = ws.notifications.list()
        assert sorted(n.customer_id for n in notes) == sorted(ids)


LEASE = 8
"""Seconds the killed runner's claims hold: long enough for the next process to start
inside them on a loaded machine (a short lease made the test flaky)."""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_killed_delivery_runner_loses_nothing_and_sends_nothing_twice(
    backend: str, tmp_path: Path
) -> None:
    url = shared_url(backend, tmp_path)
    count = 12
    with http_receiver(hang_after=5) as receiver:
        ids = pending_webhooks(url, receiver.url, count)
        assert len(ids) == count
        runner = subprocess.Popen(
            pipeline(url, "deliveries", "run", "--lease", str(LEASE)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Five accepted, the sixth held by the receiver: the runner waits for its answer.
        wait_for(lambda: len(receiver.requests) >= 6)
        os.kill(runner.pid, signal.SIGKILL)
        lease_over = time.monotonic() + LEASE + 0.2  # the claims were made before the kill
        runner.communicate(timeout=30)
        assert runner.returncode == -signal.SIGKILL
        receiver.hang_after = None
        receiver.release.set()
        assert sum(receiver.accepted.values()) == 5

        # Within the killed runner's lease nothing is claimable; after it, all the rest is.
        early = subprocess.run(pipeline(url, "deliveries", "run"), capture_output=True, text=True)
        assert early.stdout.startswith("delivered 0,"), early.stdout + early.stderr
        time.sleep(max(0.0, lease_over - time.monotonic()))
        rerun = subprocess.run(pipeline(url, "deliveries", "run"), capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stdout.startswith(f"delivered {count - 5},"), rerun.stdout
    assert sorted(receiver.accepted) == ids
    assert set(receiver.accepted.values()) == {1}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_watch_fires_and_delivers_until_a_signal_stops_it(signum: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'watch.db'}"
    with http_receiver() as receiver:
        with Workspace.open(url) as ws:
            ws.deliveries.configure(webhook_secret="s")
            ws.automations.add(webhook_automation(receiver.url))
            ws.customers.follow_up(ws.customers.add(Customer(name="Ada")).id, PAST)
        watcher = subprocess.Popen(
            pipeline(url, "reminders", "watch", "--interval", "0.2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: sum(receiver.accepted.values()) == 1)
            time.sleep(0.5)  # a few more rounds: nothing fires or is sent again
            watcher.send_signal(signum)
            out, err = watcher.communicate(timeout=30)
        finally:
            if watcher.poll() is None:
                watcher.kill()
    assert watcher.returncode == 0, err
    assert out.startswith("Stopped after ")
    assert "Traceback" not in err
    assert receiver.accepted == {"1": 1}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_overlapping_delivery_runners_send_each_delivery_once(backend: str, tmp_path: Path) -> None:
    url = shared_url(backend, tmp_path)
    count = 40
    with http_receiver() as receiver:
        pending_webhooks(url, receiver.url, count)
        runners = [
            subprocess.Popen(pipeline(url, "deliveries", "run"), stdout=subprocess.PIPE, text=True)
            for _ in range(RUNNERS)
        ]
        outputs = [runner.communicate(timeout=120)[0] for runner in runners]
    assert all(runner.returncode == 0 for runner in runners)
    delivered = [int(out.split(",")[0].removeprefix("delivered ")) for out in outputs]
    assert sum(delivered) == count
    assert len(receiver.accepted) == count and set(receiver.accepted.values()) == {1}
