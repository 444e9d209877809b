"""Rows to checked drafts, in this process or in worker processes beside it.

Drafting a row (mapping, validation, phone and email normalization, the
status machine's checks, search terms, the store's row) is pure and is most of an import's
Python work, so on a machine with more than one core it runs in worker
processes while this process matches duplicates and writes. Results come
back in file order, a bounded number of chunks ahead, so memory stays flat
and batches still commit in order (resuming depends on it).
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

import attrs

from pipeline_core.customer import RowEncoder
from pipeline_core.domain.normalize import NormalizeOptions
from pipeline_core.domain.search import search_document
from pipeline_core.errors import ImportRowError, PipelineError
from pipeline_core.importing.checks import ForeignStatus, RowCheckError, RowChecks
from pipeline_core.importing.mapping import Draft, LeanDraft, RowMapper
from pipeline_core.importing.readers import SourceRow

Drafted = LeanDraft | ImportRowError
"""What drafting makes of a row: a lean draft, or the reason it is refused."""

AUTO_WORKERS_FROM = 2 << 20
"""Files at least this large (bytes) are drafted in a worker process when ``workers`` is None."""

AHEAD = 2
"""Chunks each worker may have in hand: enough to keep it busy, few enough for flat memory."""


@attrs.frozen
class Drafter:
    """Everything drafting needs, as plain data (it pickles, for worker processes)."""

    file: str
    mapping: Mapping[str, str]
    keep_unknown: bool
    region: str | None
    normalize: NormalizeOptions
    checks: RowChecks
    encode: RowEncoder
    """Makes each final customer's rows for the store, in the drafting process: the
    writer then only adds ids."""
    status_map: Mapping[str, str] = attrs.field(factory=dict)
    users: tuple[str, ...] = ()
    kept: Mapping[str, str] = attrs.field(factory=dict)
    """Columns that lost their field to a more specific one -> the custom field they feed."""

    def mapper(self) -> RowMapper:
        """A fresh mapper for these options (it learns headers as it goes)."""
        return RowMapper(
            self.file,
            {**self.mapping, **self.kept},
            keep_unknown=self.keep_unknown,
            region=self.region,
            options=self.normalize,
            status_map=self.status_map,
            users=self.users,
            kept=self.kept,
        )

    def for_headers(self, headers: list[str]) -> Drafter:
        """These options with the file's columns that claim one field settled (``RowMapper.resolve``)."""
        return attrs.evolve(self, kept=self.mapper().resolve(headers))


def draft_rows(
    mapper: RowMapper,
    checks: RowChecks,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    now: datetime,
    encode: RowEncoder,
) -> list[Drafted]:
    """Each row's lean draft (checked as ``add_customer`` would, stamped ``now``) or its error.

    A lean draft holds everything the writer inserts: the rows ``encode`` makes of
    the customer, its valid contact keys and its search document.
    """
    results: list[Drafted] = []
    for line, values in rows:
        try:
            draft = prepared(mapper, checks, line, values, now)
        except ImportRowError as error:
            results.append(error)
            continue
        results.append(lean(draft, encode))
    return results


def prepared(
    mapper: RowMapper, checks: RowChecks, line: int, values: Mapping[str, Any], now: datetime
) -> Draft:
    """The draft of one row with its customer as it will be stored (stamped ``now``).

    Raises ``ImportRowError`` naming the column at fault (``ForeignStatus`` for a
    status the workspace does not know).
    """
    draft = mapper.draft(line, values)
    try:
        customer = checks.prepare(draft.customer, now)
    except RowCheckError as error:
        column = mapper.header_for(error.target)
        if error.target == "status":
            status = draft.customer.status
            raise ForeignStatus(
                mapper.file, line, column, str(error), status, draft.notes
            ) from None
        raise ImportRowError(mapper.file, line, column, str(error)) from None
    return Draft(line, customer, draft.keys, draft.notes)


def lean(draft: Draft, encode: RowEncoder) -> LeanDraft:
    """``draft`` (its customer final) as the writer inserts it, without the ``Customer``."""
    customer = draft.customer
    return LeanDraft(
        draft.line,
        customer.status,
        encode(customer),
        tuple([key for key in draft.keys if key.valid]),
        search_document(customer),
        draft.notes,
    )


def auto_workers(size: int) -> int:
    """Worker processes for a file of ``size`` bytes: none for small files or one core."""
    cores = os.cpu_count() or 1
    return 0 if size < AUTO_WORKERS_FROM or cores < 2 else min(cores - 1, 2)


Chunk = list[SourceRow]

DraftedChunk = tuple[Chunk, datetime, list[Drafted]]
"""A chunk of rows, the moment its drafts were stamped with, and its drafts."""


def drafted_chunks(
    drafter: Drafter,
    mapper: RowMapper,
    chunks: Iterator[Chunk],
    now: Callable[[], datetime],
    workers: int,
) -> Generator[DraftedChunk, None, None]:
    """Each chunk with the drafts of its readable rows (rows with a ``problem`` are skipped).

    ``mapper`` drafts in this process when ``workers`` is 0; with workers, it only
    learns the headers the workers saw (for messages and the unknown-column report).
    The stamp lets the writer draft a row again exactly (``prepared``) where it needs
    the row's ``Customer``.
    """
    if workers == 0:
        for chunk in chunks:
            stamp = now()
            yield (
                chunk,
                stamp,
                draft_rows(mapper, drafter.checks, _readable(chunk), stamp, drafter.encode),
            )
        return
    with _pool(drafter, workers) as pool:
        pending: deque[tuple[Chunk, datetime, Future[tuple[list[Drafted], list[str]]]]] = deque()
        try:
            for chunk in chunks:
                rows = list(_readable(chunk))
                stamp = now()
                pending.append((chunk, stamp, pool.submit(_draft_in_worker, rows, stamp)))
                # Collected only when more than AHEAD chunks per worker are out, so that
                # each worker still has chunks in hand while this process writes one
                # (with ">=" a single worker went idle during every batch's write).
                if len(pending) > workers * AHEAD:
                    yield _collected(mapper, *pending.popleft())
            while pending:
                yield _collected(mapper, *pending.popleft())
        finally:
            for _, _, future in pending:  # stopped early (an error, abort): drop the rest
                future.cancel()


def _readable(chunk: Chunk) -> Iterator[tuple[int, dict[str, Any]]]:
    return ((row.line, row.values) for row in chunk if row.problem is None)


def _collected(
    mapper: RowMapper,
    chunk: Chunk,
    stamp: datetime,
    result: Future[tuple[list[Drafted], list[str]]],
) -> DraftedChunk:
    try:
        drafted, headers = result.result()
    except BrokenProcessPool:
        # A worker died (killed, out of memory): nothing of this chunk was written.
        raise PipelineError(
            "an import worker process stopped unexpectedly; nothing after the last"
            " committed batch was written: run the import again to carry on"
        ) from None
    for header in headers:
        mapper.target(header)
    return chunk, stamp, drafted


def _pool(drafter: Drafter, workers: int) -> ProcessPoolExecutor:
    # fork starts a worker in milliseconds with the library already imported; the
    # worker never touches the parent's store connection. Elsewhere: spawn.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(drafter, os.getpid()),
    )


_worker: tuple[Drafter, RowMapper] | None = None

PARENT_CHECK_SECONDS = 0.5
"""How often a worker without a parent-death signal checks that its importer is alive."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _start_worker(drafter: Drafter, parent: int) -> None:
    global _worker
    # Ctrl-C at a terminal signals the whole process group: the importer stops the run
    # (and this worker with it) and says how to resume; a worker printing a traceback
    # of its own would only bury that line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    _worker = (drafter, drafter.mapper())
    # A worker drafts rows and nothing else: its objects are short-lived and free of
    # cycles, which reference counting frees; the cyclic collector would only scan.
    gc.disable()


def _draft_in_worker(
    rows: list[tuple[int, dict[str, Any]]], now: datetime
) -> tuple[list[Drafted], list[str]]:
    assert _worker is not None, "a drafting worker runs _start_worker first"
    drafter, mapper = _worker
    drafted = draft_rows(mapper, drafter.checks, rows, now, drafter.encode)
    return drafted, list(mapper.known_headers())


def _die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` (the importing process) ends, however it ends.

    A killed importer (SIGKILL, out of memory) cleans nothing up, and its workers
    would wait for work forever: each holds both ends of the pipe it reads, so it
    never sees the end of it. On Linux the kernel kills the worker when the
    importer dies (``PR_SET_PDEATHSIG``: the importer's thread that started the
    workers, which runs the import to its end); elsewhere a daemon thread checks
    the parent's pid every ``PARENT_CHECK_SECONDS``.
    """
    if not _parent_death_signal():
        threading.Thread(
            target=_watch_parent, args=(parent,), name="parent-watch", daemon=True
        ).start()
    if os.getppid() != parent:  # it died before the request above took effect
        os._exit(1)


def _parent_death_signal() -> bool:
    """Ask Linux for SIGKILL when the parent dies; False where that cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    # Orphans are re-parented (to init or a subreaper): a changed ppid means the importer is gone.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
