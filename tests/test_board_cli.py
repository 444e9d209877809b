"""The board at the command line: drags with an expected version, filters, values, paging,
flows and columns edited, colours only on a terminal, and --watch redrawing on changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace

from .conftest import StoreFactory
from .test_cli import ok, run
from .test_terminal import SRC, needs_pty


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store with a Sales flow (New, Talking) and three customers, two on the board."""
    url = f"sqlite:///{tmp_path / 'board.db'}"
    ok(url, "init")
    ok(url, "flows", "add", "Sales", "--tags-any", "web", "--column", "New=Lead",
       "--column", "Talking=Prospect")  # fmt: skip
    ok(url, "customers", "add", "Ada", "--tag", "web", "--source", "Wébsite",
       "--value", "100.50", "--currency", "EUR")  # fmt: skip
    ok(url, "customers", "add", "Grace", "--tag", "web", "--tag", "vip", "--source", "fair",
       "--value", "20", "--currency", "USD")  # fmt: skip
    ok(url, "customers", "add", "Paper", "--tag", "paper")
    return url


def board(store: str, *args: str) -> dict[str, object]:
    """``pipeline board Sales ARGS --format json``, parsed."""
    parsed: dict[str, object] = json.loads(
        ok(store, "board", "Sales", *args, "--format", "json").output
    )
    return parsed


def test_a_stale_drag_is_refused_with_one_line_naming_who_moved_the_card(store: str) -> None:
    cards = board(store)["columns"][0]["cards"]  # type: ignore[index]
    ada = next(card for card in cards if card["name"] == "Ada")
    moved = run(store, "--as", "system", "move", str(ada["id"]), "--flow", "Sales", "--column",
                "Talking", "--expected-version", str(ada["version"]))  # fmt: skip
    assert moved.exit_code == 0 and "is now Prospect" in moved.output
    stale = run(store, "move", str(ada["id"]), "--flow", "Sales", "--column", "New",
                "--expected-version", str(ada["version"]))  # fmt: skip
    assert stale.exit_code == 1
    assert stale.output.count("\n") == 1 and "Traceback" not in stale.output
    assert "was changed meanwhile by system (moved from 'Lead' to column 'Talking'" in stale.output
    off = run(store, "move", "3", "--flow", "Sales", "--column", "Talking")
    assert off.exit_code == 1 and "not on the board of flow 'Sales'" in off.output
    bad = run(store, "move", "1", "--flow", "Sales", "--column", "New", "--expected-version", "x")
    assert bad.exit_code == 2 and "--expected-version" in bad.output


def test_board_filters_values_and_paging_at_the_command_line(store: str) -> None:
    assert board(store, "--source", "WEBSITE")["filtered"] is True
    assert [c["name"] for c in board(store, "--source", "website")["columns"][0]["cards"]] == [  # type: ignore[index]
        "Ada"
    ]
    assert board(store, "--tag", "web", "--tag", "vip")["columns"][0]["count"] == 1  # type: ignore[index]
    assert board(store, "--tag", "vip", "--tag", "x", "--any-tag")["columns"][0]["count"] == 1  # type: ignore[index]
    assert board(store, "--created-from", "2999-01-01")["columns"][0]["count"] == 0  # type: ignore[index]
    assert board(store, "--created-to", "2999-01-01T00:00Z")["columns"][0]["count"] == 2  # type: ignore[index]
    values = board(store)["columns"][0]["values"]  # type: ignore[index]
    assert values == [
        {"currency": "EUR", "valued": 1, "total": "100.5"},
        {"currency": "USD", "valued": 1, "total": "20"},
    ]
    second = board(store, "--column", "New", "--limit", "1", "--page", "2")
    new = second["columns"][0]  # type: ignore[index]
    assert (new["offset"], new["more"], [c["name"] for c in new["cards"]]) == (1, 0, ["Ada"])
    totals = ok(store, "board", "Sales", "--totals", "--format", "csv").output.splitlines()
    assert totals == [
        "column,status,count,currency,valued,total",
        "New,Lead,2,EUR,1,100.5",
        "New,Lead,2,USD,1,20",
        "Talking,Prospect,0,,0,0",
    ]
    table = ok(store, "board", "Sales").output
    assert "New (2)" in table and "EUR 100.5 · USD 20" in table and "[vip]" in table
    assert "\x1b[" not in table  # not a terminal: no colours
    wrong = run(store, "board", "Sales", "--created-from", "yesterday")
    assert (
        wrong.exit_code == 2 and "--created-from" in wrong.output and "2026-03-31" in wrong.output
    )
    assert run(store, "board", "Sales", "--any-tag").exit_code == 2
    assert run(store, "board", "Sales", "--page", "2").exit_code == 2
    inverted = run(store, "board", "Sales", "--created-from", "2026-02-01", "--created-to",
                   "2026-01-01")  # fmt: skip
    assert inverted.exit_code == 1 and "is after" in inverted.output


def test_flows_and_columns_are_edited_at_the_command_line(store: str) -> None:
    assert "Renamed flow 'Sales' to 'Web'" in ok(store, "flows", "rename", "Sales", "Web").output
    dry = json.loads(ok(store, "flows", "set-rule", "Web", 'tags any ("paper")', "--dry-run",
                        "--format", "json").output)  # fmt: skip
    assert (dry["joining"], dry["leaving"], dry["applied"]) == (1, 2, False)
    assert "1 join, 2 leave" in ok(store, "flows", "set-rule", "Web", 'tags any ("paper")').output
    moved = ok(store, "columns", "move", "Web", "Talking", "--before", "New").output
    assert "columns: Talking, New" in moved
    assert run(store, "columns", "move", "Web", "Talking").exit_code == 2
    ok(store, "columns", "rename", "Web", "Talking", "Chat")
    assert "#00aa00" in ok(store, "columns", "recolour", "Web", "Chat", "#00AA00").output
    bad = run(store, "columns", "recolour", "Web", "Chat", "green")
    assert bad.exit_code == 1 and "#rrggbb" in bad.output
    history = json.loads(ok(store, "flows", "history", "Web", "--format", "json").output)
    assert [e["kind"] for e in history] == [
        "flow_created", "flow_renamed", "rule_changed", "column_moved", "column_renamed",
        "column_recoloured",
    ]  # fmt: skip
    ok(store, "flows", "hide", "Web", "3")
    hidden = ok(store, "flows", "hidden", "Web").output
    assert "3" in hidden and "system" in hidden
    assert "1 hidden from this flow" in ok(store, "board", "Web").output
    report = ok(store, "reports", "pipeline", "Web").output
    assert "1 customer(s) hidden from this flow's board are in no figure" in report
    ok(store, "flows", "unhide", "Web", "3")
    assert ok(store, "flows", "hidden", "Web").output == "Nothing is hidden.\n"


def _on_a_terminal(url: str, cwd: Path, **env: str) -> str:
    import pty

    leader, follower = pty.openpty()
    environment = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="200", **env)
    environment.pop("NO_COLOR", None) if "NO_COLOR" not in env else None
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_core", "--store", url, "board", "Sales"],
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=environment,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return drawn.decode()


@needs_pty
def test_column_colours_only_on_a_terminal_and_never_with_no_color(
    store: str, tmp_path: Path
) -> None:
    ok(store, "columns", "recolour", "Sales", "Talking", "#ff8800")
    coloured = _on_a_terminal(store, tmp_path)
    assert "\x1b[1;38;2;255;136;0m" in coloured  # Talking's #ff8800
    assert "New (2)" in coloured
    plain = _on_a_terminal(store, tmp_path, NO_COLOR="1")
    assert "\x1b[" not in plain and "New (2)" in plain


def test_watch_redraws_when_another_process_changes_the_store_and_ctrl_c_ends_it(
    store: str, tmp_path: Path
) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline_core",
            "--store",
            store,
            "board",
            "Sales",
            "--watch",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    lines: list[bytes] = []

    def read() -> None:
        assert process.stdout is not None
        lines.extend(iter(process.stdout.readline, b""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def drawn() -> int:
        return sum(1 for line in lines if line.startswith(b'  "flow"'))

    deadline = time.monotonic() + 30
    while drawn() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert drawn() == 1
    ok(store, "move", "1", "--flow", "Sales", "--column", "Talking")
    while drawn() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert drawn() == 2
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    reader.join(timeout=10)
    assert process.stderr is not None
    assert b"Traceback" not in process.stderr.read()
    last = b"".join(lines).decode().split('{\n  "flow"')[-1]
    assert '"name": "Talking"' in last and '"count": 1' in last


def test_changes_wake_a_watcher_on_every_backend(make_store: StoreFactory) -> None:
    store = make_store()
    ws = Workspace(store)
    ws.init()
    watcher = ws.changes(poll=0.05)
    assert next(watcher) == 0
    threading.Timer(0.2, lambda: ws.customers.add(Customer(name="Ada"))).start()
    started = time.monotonic()
    assert next(watcher) == 1
    assert time.monotonic() - started < 10
    watcher.close()
