"""Real SIGKILLs: an export replaces its file whole or not at all, rejects survive, workers die.

Each crash test runs the ``pipeline`` command or a short script in a subprocess,
waits for progress it can observe (a file's size, a line the script prints, an
event handler that runs after a batch commits), kills the process with SIGKILL
and checks what is left. See "What a crash leaves" in docs/import-export.md.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline_core
from pipeline_core import Customer, Workspace
from pipeline_core.cli import cli
from pipeline_core.errors import InvalidValue
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.export import ExportWriter
from pipeline_core.storage import open_store
from pipeline_core.workspace import bulk
from pipeline_core.workspace.session import Session

from .test_concurrency import shared_url

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

SRC = Path(pipeline_core.__file__).resolve().parent.parent
Process = subprocess.Popen[str]


def start(*args: str) -> Process:
    """``python ARGS`` with this checkout's library, its output in pipes."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: Process) -> str:
    """Wait for a process that should succeed; its standard output."""
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


def wait_for(condition: Callable[[], bool], process: Process, what: str) -> None:
    """Poll (every millisecond) until ``condition``; fail if the process ends first."""
    deadline = time.monotonic() + 30
    while not condition():
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"it ended (status {process.returncode}) before {what}: {err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def larger(path: Path, size: int) -> Callable[[], bool]:
    """Whether the file at ``path`` exists and holds at least ``size`` bytes."""
    return lambda: path.exists() and path.stat().st_size >= size


def kill(process: Process) -> None:
    """SIGKILL, and check that it was the kill that ended it."""
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


# exports -----------------------------------------------------------------------------------

EXPORTED = 10_000
YESTERDAY = b"id,name\n1,Yesterday's nightly export\n"


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store of EXPORTED customers: an export of it takes a good second."""
    folder = tmp_path_factory.mktemp("export")
    source = folder / "people.csv"
    rows = "".join(f"Person {i},p{i}@example.com,a;b\n" for i in range(EXPORTED))
    source.write_text("name,email,tags\n" + rows, encoding="utf-8")
    url = f"sqlite:///{folder / 'store.db'}"
    with Workspace.open(url) as ws:
        ws.customers.import_file(source, ImportOptions(workers=0, on_duplicate="allow"))
    return url


def exported_rows(path: Path, fmt: str) -> int:
    """How many customers a finished export file holds (it must parse whole)."""
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))) - 1
    if fmt == "jsonl":
        return len([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])
    if fmt == "json":
        return len(json.loads(path.read_text(encoding="utf-8")))
    import openpyxl

    return len(list(openpyxl.load_workbook(path, read_only=True).active.values)) - 1


@pytest.mark.parametrize(
    ("fmt", "seen"),
    # Killed once the export has written this much (xlsx writes its file at the end).
    [("csv", 64 << 10), ("jsonl", 64 << 10), ("json", 64 << 10), ("xlsx", 0)],
)
def test_a_killed_export_leaves_the_previous_file_and_no_whole_looking_part(
    big_store: str, tmp_path: Path, fmt: str, seen: int
) -> None:
    if fmt == "xlsx":
        pytest.importorskip("openpyxl")
    out = tmp_path / f"nightly.{fmt}"
    out.write_bytes(YESTERDAY)
    command = ["-m", "pipeline_core", "--store", big_store, "customers", "export"]
    command += ["--format", fmt, "-o", str(out)]
    process = start(*command)
    partial = tmp_path / f".nightly.{fmt}.partial-{process.pid}"
    wait_for(larger(partial, seen), process, f"{partial.name} reached {seen} bytes")
    kill(process)
    assert out.read_bytes() == YESTERDAY  # yesterday's export, untouched
    # Nothing else: the part written so far is only under its plainly unfinished name.
    assert sorted(tmp_path.iterdir()) == sorted([out, partial])
    # The next export replaces the file with a whole one and leaves no file of its own.
    finish(start(*command, "--where", 'name ~ "Person 99"'))
    assert exported_rows(out, fmt) == sum("Person 99" in f"Person {i}" for i in range(EXPORTED))
    assert sorted(tmp_path.iterdir()) == sorted([out, partial])


def few_customers(count: int) -> Workspace:
    workspace = Workspace(open_store("memory:"))
    for index in range(count):
        workspace.customers.add(Customer(name=f"P{index}"))
    return workspace


def test_a_failed_export_leaves_the_previous_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = few_customers(5)
    out = tmp_path / "nightly.csv"
    out.write_bytes(YESTERDAY)
    monkeypatch.setattr(bulk, "EXPORT_PAGE", 2)
    real = ExportWriter.write
    pages = {"n": 0}

    def fails_on_the_second_page(self: ExportWriter, customers: Any) -> None:
        pages["n"] += 1
        if pages["n"] == 2:
            raise OSError(28, "No space left on device")
        real(self, customers)

    monkeypatch.setattr(ExportWriter, "write", fails_on_the_second_page)
    with pytest.raises(pipeline_core.PipelineError, match=r"nightly\.csv: cannot write: No space"):
        workspace.customers.export(out)
    with pytest.raises(InvalidValue, match="cannot export column"):
        workspace.customers.export(out, columns=["nmae"])
    assert out.read_bytes() == YESTERDAY
    assert list(tmp_path.iterdir()) == [out]
    monkeypatch.setattr(ExportWriter, "write", real)
    assert workspace.customers.export(str(out), "jsonl") == 5
    assert [json.loads(line)["name"] for line in out.read_text().splitlines()][-1] == "P4"
    assert list(tmp_path.iterdir()) == [out]


def test_an_export_keeps_the_files_mode_and_writes_through_a_link(tmp_path: Path) -> None:
    workspace = few_customers(2)
    out = tmp_path / "nightly.csv"
    out.write_bytes(YESTERDAY)
    out.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(out)
    assert workspace.customers.export(link, columns=["name"]) == 2
    assert link.is_symlink() and out.read_bytes() == b"name\r\nP0\r\nP1\r\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(tmp_path.iterdir()) == sorted([out, link])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_an_export_to_a_pipe_writes_into_it(tmp_path: Path) -> None:
    # A pipe (or /dev/stdout) cannot be renamed over: it is written in place, and stays a pipe.
    workspace = few_customers(2)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "link"
    link.symlink_to(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    try:
        workspace.customers.export(link, "jsonl", columns=["name"])
    finally:
        if not received:  # the export never opened the pipe: let the reader go
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
    assert received == [b'{"name": "P0"}\n{"name": "P1"}\n']
    assert stat.S_ISFIFO(pipe.stat().st_mode) and link.is_symlink()
    assert sorted(tmp_path.iterdir()) == sorted([pipe, link])


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_an_export_to_dev_stdout_writes_into_the_stream() -> None:
    # /dev/stdout is a link to /proc/self/fd/1, whose target ("pipe:[...]") is no path.
    workspace = few_customers(1)
    read, write = os.pipe()
    try:
        workspace.customers.export(f"/proc/self/fd/{write}", "jsonl", columns=["name"])
        os.close(write)
        assert os.read(read, 1000) == b'{"name": "P0"}\n'
    finally:
        os.close(read)
        with contextlib.suppress(OSError):
            os.close(write)


def test_an_export_where_nothing_can_be_written_is_one_error_line(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    out = tmp_path / "no" / "such" / "folder" / "out.csv"
    assert CliRunner().invoke(cli, ["--store", store, "init"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--store", store, "customers", "export", "-o", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == f"Error: {out}: cannot write: No such file or directory"


# rejects ------------------------------------------------------------------------------------

ROWS = 3000
BATCH = 50

IMPORT = """
import os, signal, sys
from pathlib import Path
from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.rejects import RejectsWriter

url, source, rejects, mode, at, batch = sys.argv[1:7]

def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)

def counted(real, limit):
    calls = []
    def sync(self):
        size = real(self)
        calls.append(size)
        if len(calls) == limit:
            die()
        return size
    return sync

with Workspace.open(url) as ws:
    if mode == "after-commit":
        # Handlers run once a batch has committed: die before the next batch starts.
        ws.on("created", lambda event, _: event.data["line"] > int(at) and die())
    elif mode == "after-rejects":
        # A batch's rejects are made durable just before it commits: die there.
        RejectsWriter.sync = counted(RejectsWriter.sync, int(at))
    options = ImportOptions(batch_size=int(batch), workers=0, rejects=Path(rejects))
    ws.customers.import_file(Path(source), options)
"""


def messy_source(folder: Path) -> Path:
    """ROWS rows; every 7th has no name and every 11th a bad email: most batches reject some."""
    lines = ["name,email,phone"]
    for n in range(ROWS):
        name = "" if n % 7 == 0 else f"Person {n}"
        email = "not-mail" if n % 11 == 0 else f"p{n}@example.com"
        lines.append(f"{name},{email},+1 415 555 {n % 10000:04d}")
    path = folder / "people.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def imported(url: str, source: Path, rejects: Path) -> list[str]:
    """Run (or resume) the import in this process; the names of the customers it holds."""
    with Workspace.open(url) as ws:
        ws.customers.import_file(source, ImportOptions(batch_size=BATCH, rejects=rejects))
        return sorted(c.name for c in ws.customers.list())


@pytest.fixture
def reference(tmp_path: Path) -> tuple[Path, list[str], bytes]:
    """The source, the customers and the rejects file of an import nothing interrupted."""
    source = messy_source(tmp_path)
    rejects = tmp_path / "reference-rejects.csv"
    names = imported("memory:", source, rejects)
    written = rejects.read_bytes()
    assert written.count(b"\n") == 1 + sum(1 for n in range(ROWS) if n % 7 == 0 or n % 11 == 0)
    rejects.unlink()
    return source, names, written


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    ("mode", "at"),
    [
        ("after-commit", 500),  # the moment the old code lost a batch's rejects
        ("after-rejects", 9),  # rejects on disk, their batch not committed: kept only once
    ],
)
def test_a_killed_import_resumed_lists_every_rejected_row_once(
    backend: str, mode: str, at: int, tmp_path: Path, reference: tuple[Path, list[str], bytes]
) -> None:
    source, names, written = reference
    url = shared_url(backend, tmp_path)
    Workspace.open(url).close()
    rejects = tmp_path / "rejects.csv"
    kill_script = start("-c", IMPORT, url, str(source), str(rejects), mode, str(at), str(BATCH))
    kill_script.communicate(timeout=60)
    assert kill_script.returncode == -signal.SIGKILL  # the script killed itself where it said
    assert 0 < len(rejects.read_bytes()) < len(written)
    assert imported(url, source, rejects) == names
    assert rejects.read_bytes() == written


def test_an_import_killed_three_times_anywhere_lists_every_rejected_row_once(
    tmp_path: Path, reference: tuple[Path, list[str], bytes]
) -> None:
    source, names, written = reference
    url = shared_url("sqlite", tmp_path)
    Workspace.open(url).close()
    rejects = tmp_path / "rejects.csv"
    for quarter in (1, 2, 3):  # killed when the rejects file has grown past a quarter, a half...
        process = start("-c", IMPORT, url, str(source), str(rejects), "none", "0", str(BATCH))
        size = len(written) * quarter // 4
        wait_for(larger(rejects, size), process, f"the rejects file passed {size} bytes")
        kill(process)
    assert imported(url, source, rejects) == names
    assert rejects.read_bytes() == written


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_rejects_may_go_to_a_stream(tmp_path: Path) -> None:
    # --rejects /dev/stderr: a pipe or a terminal cannot be fsynced, and need not be.
    source = tmp_path / "people.csv"
    source.write_text("name,email\nAnn,a@x.com\n,b@x.com\n", encoding="utf-8")
    read, write = os.pipe()
    try:
        rejects = Path(f"/proc/self/fd/{write}")
        imported("memory:", source, rejects)
        os.close(write)
        assert os.read(read, 10_000).decode().splitlines()[1].endswith('the row has no name"')
    finally:
        os.close(read)
        with contextlib.suppress(OSError):
            os.close(write)


# worker processes ---------------------------------------------------------------------------

WORKER_IMPORT = """
import sys
from pathlib import Path
from pipeline_core import Workspace
from pipeline_core.importing import ImportOptions, drafting

url, source, mode = sys.argv[1:4]
if mode == "watch":  # as where the kernel cannot be asked for a parent-death signal
    drafting._parent_death_signal = lambda: False
with Workspace.open(url) as ws:
    options = ImportOptions(batch_size=100, workers=1)
    # Called when the rows start (0 rows) and after each batch commits.
    ws.customers.import_file(Path(source), options, progress=lambda p: print(p.rows, flush=True))
"""


def process_state(pid: int) -> tuple[str, int] | None:
    """The state letter and parent pid of a process, from /proc; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = text[text.rindex(")") + 2 :].split()[:2]
    return state, int(parent)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            seen = process_state(int(entry.name))
            if seen is not None and seen[1] == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    seen = process_state(pid)
    return seen is not None and seen[0] not in "ZX"  # a zombie has ended


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("mode", ["pdeathsig", "watch"])
def test_a_killed_import_leaves_no_worker_process(tmp_path: Path, mode: str) -> None:
    source = tmp_path / "people.csv"
    rows = "".join(f"Person {n},p{n}@example.com\n" for n in range(20_000))
    source.write_text("name,email\n" + rows, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Workspace.open(url).close()
    process = start("-c", WORKER_IMPORT, url, str(source), mode)
    workers: list[int] = []
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "0"  # the rows start
        for batch in (1, 2, 3):  # three batches written: the worker is drafting ahead
            assert process.stdout.readline().strip() == str(100 * batch)
        workers = children_of(process.pid)
        assert workers, "the import runs a worker process"
        kill(process)
        deadline = time.monotonic() + 5
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [pid for pid in workers if running(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
        for pid in workers:  # the test's own processes, should one have outlived the import
            if running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork to patch the run"
)
def test_a_failed_import_stops_its_workers_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "people.csv"
    source.write_text("name\n" + "".join(f"P{n}\n" for n in range(50)), encoding="utf-8")
    workspace = Workspace(open_store("memory:"))
    before = set(multiprocessing.active_children())
    real = Session.append_events
    calls = {"n": 0}

    class Crash(Exception):
        pass

    def crashes_in_the_second_batch(self: Session, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch's created events
            raise Crash
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Session, "append_events", crashes_in_the_second_batch)
    with pytest.raises(Crash) as raised:
        workspace.customers.import_file(source, ImportOptions(batch_size=10, workers=1))
    # The traceback (still held here) keeps the run's frames: the pool must be shut already.
    assert raised.traceback and set(multiprocessing.active_children()) - before == set()
