"""The import run: rows to drafts, drafts to batches, each batch one transaction with its ledger entry.

A batch inserts its new customers (one bulk statement per table), their
``created`` events naming the run and line, applies the duplicate policy to the
rows that match, and records the last line it covered in the run ledger, all in
one transaction. A batch's rejected rows reach the rejects file (durably) before
it commits, and its ledger entry records the file's size. A crash leaves whole
batches only; running the same import again (the same file hash) cuts the rejects
file back to what the committed batches wrote and carries on after the last
committed line.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.collector import OLD_OBJECTS_SET_ASIDE, YOUNG_THRESHOLD
from pipeline_core.domain.events import EventKind, JSONValue
from pipeline_core.domain.merge import combine
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, customer_keys
from pipeline_core.errors import ImportInterrupted, ImportRowError, NotFound
from pipeline_core.importing.checks import RowChecks
from pipeline_core.importing.drafting import (
    Drafted,
    DraftedChunk,
    Drafter,
    auto_workers,
    drafted_chunks,
    lean,
    prepared,
)
from pipeline_core.importing.mapping import (
    Draft,
    LeanDraft,
    RowMapper,
    parse_map,
    parse_status_map,
)
from pipeline_core.importing.notes import ImportNotes
from pipeline_core.importing.options import ImportOptions, ImportProgress, ImportSummary
from pipeline_core.importing.readers import FileFacts, SourceRow, inspect_file, open_source
from pipeline_core.importing.rejects import RejectsWriter
from pipeline_core.storage.protocol import NewCustomer
from pipeline_core.workspace import duplicates
from pipeline_core.workspace.changes import save_changes
from pipeline_core.workspace.dedupe import absorb, updated_with
from pipeline_core.workspace.definitions import field_definitions, folders, lifecycle, machine
from pipeline_core.workspace.import_parents import FileLinks, Parents
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session, SessionOpener

PROFILES_KEY = "import_profiles"
"""Workspace setting: saved mapping profiles by name."""

RUN_PREFIX = "import_run:"
"""Workspace setting key prefix of the run ledger: one entry per file hash."""

MAX_REPORTED = 20
"""Row errors kept in the summary (all of them go to the rejects file)."""

Progress = Callable[[ImportProgress], None]

GC_YOUNG_THRESHOLD = YOUNG_THRESHOLD
"""Allocations between the cyclic collector's young passes during an import (700 by default)."""

LONG_LINES = 4096
"""A JSON array whose lines average more bytes than this (or that has fewer than three lines)
is not measured in lines: its elements share them."""


class _Rollback(Exception):
    """Ends a dry run's (or an abort-on-error run's) transaction without committing it."""


@attrs.define
class _Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: list[ImportRowError] = attrs.Factory(list)
    notes: ImportNotes = attrs.Factory(ImportNotes)


def row_checks(s: Session) -> RowChecks:
    """What adding a customer checks, read once for a whole import."""
    return RowChecks(
        machine=machine(s),
        folders=folders(s),
        definitions=field_definitions(s),
        lifecycle=lifecycle(s),
    )


def run_import(
    opener: SessionOpener,
    path: Path,
    name: str,
    options: ImportOptions,
    profile: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the file at ``path`` (``name`` in messages): each batch in a session of its own.

    An import is the one use case that spans sessions by design: each batch is one
    transaction with its ledger entry, so that an interrupted run resumes. Ctrl-C
    (``KeyboardInterrupt``) comes out as ``ImportInterrupted``, saying what is committed.
    """
    started = time.perf_counter()
    facts: FileFacts | None = None
    run: _Run | None = None
    try:
        # Hashed and counted before the session: a big file is read once, and no
        # transaction (on SQLite, the write lock) is held while it is.
        facts = inspect_file(path, name, format=options.input_format, encoding=options.encoding)
        with opener.session() as s:
            if s.principal.user is not None:
                # Rows may match, merge into or update customers of any team.
                require_admin(s, "import customers")
            if profile is not None:
                options = _with_profile(options, profile, profiles(s))
            options = attrs.evolve(
                options,
                mapping=parse_map(dict(options.mapping)),
                status_map=parse_status_map(dict(options.status_map)),
            )
            normalize = duplicates.settings(s).normalize_options
            checks = row_checks(s)
            encode = s.row_encoder()
            checks.check_status_map(options.status_map)
            users = tuple(user.name for user in s.list_users())
            ledger = s.get_setting(RUN_PREFIX + facts.sha256)
            clock = s.clock
        run_id, resume_after, before = secrets.token_hex(6), 0, _Counts()
        if isinstance(ledger, dict) and not options.restart:
            run_id, resume_after = str(ledger["run"]), _number(ledger["line"])
            before = _Counts(
                rows=_number(ledger.get("rows")), rejected=_number(ledger.get("rejected"))
            )
            if ledger.get("done") and not options.dry_run:
                return ImportSummary(
                    file=name,
                    run_id=run_id,
                    already_done=True,
                    resumed_after_line=resume_after,
                    rejected_total=before.rejected,
                )
        source = open_source(
            path, name, facts.format, encoding=facts.encoding, delimiter=options.delimiter
        )
        drafter = Drafter(
            file=name,
            mapping=options.mapping,
            keep_unknown=options.keep_unknown,
            region=options.region,
            normalize=normalize,
            checks=checks,
            encode=encode,
            status_map=options.status_map,
            users=users,
        ).for_headers(source.headers)
        mapper = drafter.mapper()
        mapper.check_headers(source.headers)
        rejects = None
        if options.rejects is not None and not options.dry_run:
            rejects = RejectsWriter(
                options.rejects,
                source.headers,
                as_json=facts.format in ("json", "jsonl"),
                keep=_rejects_kept(options.rejects, ledger if resume_after > 0 else None),
            )
        run = _Run(
            name=name,
            sha256=facts.sha256,
            run_id=run_id,
            options=options,
            opener=opener,
            drafter=drafter,
            mapper=mapper,
            normalize=normalize,
            rejects=rejects,
            progress=progress,
            total_lines=_measured_lines(facts),
            expected_rows=max(0, (facts.lines or facts.size // 100) - resume_after),
            resumed_after=resume_after,
            before=before,
            last_line=resume_after,
            parents=Parents(checks, run_id, name) if options.companies == "parent" else None,
        )
        run.report()
        rows = (row for row in source.rows if row.line > resume_after)
        workers = auto_workers(facts.size) if options.workers is None else options.workers
        drafted = drafted_chunks(
            drafter, mapper, _chunks(rows, options.batch_size), clock.now, workers
        )
        try:
            # closing: a failed run shuts its worker processes down now, not when collected.
            with _old_objects_set_aside(), closing(drafted):
                if options.dry_run or options.on_error == "abort":
                    run.in_one_transaction(drafted)
                else:
                    run.in_batches(drafted)
        finally:
            if rejects is not None:
                rejects.close()
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, ImportInterrupted):
            raise
        raise _interrupted(opener, name, facts, run, options.dry_run) from interrupt
    counts = run.counts
    return ImportSummary(
        file=name,
        run_id=run_id,
        rows=counts.rows,
        created=counts.created,
        updated=counts.updated,
        merged=counts.merged,
        skipped=counts.skipped,
        rejected=counts.rejected,
        dry_run=options.dry_run,
        resumed_after_line=resume_after,
        unknown_columns=tuple(mapper.unknown),
        **counts.notes.summary(mapper.kept, run.parents.created if run.parents else 0),
        unresolved_parents=run.links.unresolved(),
        errors=tuple(counts.errors),
        seconds=time.perf_counter() - started,
        rejected_total=before.rejected + counts.rejected,
    )


def _measured_lines(facts: FileFacts) -> int | None:
    """The file's lines, when the rows' lines say how far the import has come."""
    if facts.lines is None or facts.lines == 0:
        return None
    if facts.format == "json" and (facts.lines < 3 or facts.size > facts.lines * LONG_LINES):
        return None  # an array on one line (or a few): its elements share the line numbers
    return facts.lines


def _interrupted(
    opener: SessionOpener,
    name: str,
    facts: FileFacts | None,
    run: _Run | None,
    dry_run: bool,
) -> ImportInterrupted:
    """What an interrupted import has committed, from its ledger entry: the one truth.

    Ctrl-C may come just after a batch's commit, before the run noted it; the entry
    was written in the batch's own transaction, so it says exactly what is committed.
    """
    if dry_run:
        return ImportInterrupted(name, 0, 0, dry_run=True)
    if facts is None:
        return ImportInterrupted(name, None, 0)
    try:
        with opener.session() as s:
            ledger = s.get_setting(RUN_PREFIX + facts.sha256)
    except Exception:  # the store failed too: say what the run itself saw committed
        line = 0 if run is None else run.committed_line
        rows = 0 if run is None else run.committed_rows
        return ImportInterrupted(name, line, rows)
    if not isinstance(ledger, dict):
        return ImportInterrupted(name, 0, 0)
    return ImportInterrupted(name, _number(ledger.get("line")), _number(ledger.get("rows")))


def profiles(s: Session) -> dict[str, dict[str, JSONValue]]:
    """Every saved mapping profile by name."""
    data = s.get_setting(PROFILES_KEY)
    if not isinstance(data, dict):
        return {}
    return {name: value for name, value in data.items() if isinstance(value, dict)}


def _with_profile(
    options: ImportOptions, name: str, known: dict[str, dict[str, JSONValue]]
) -> ImportOptions:
    if name not in known:
        listed = ", ".join(known) or "none saved"
        raise NotFound(f"no import profile called {name!r}; known: {listed}")
    saved = known[name]
    mapping = saved.get("map")
    merged = {**(mapping if isinstance(mapping, dict) else {}), **options.mapping}
    region = saved.get("region")
    statuses = saved.get("map_status")
    status_map = {**(statuses if isinstance(statuses, dict) else {}), **options.status_map}
    return attrs.evolve(
        options,
        mapping={k: str(v) for k, v in merged.items()},
        keep_unknown=options.keep_unknown or saved.get("keep_unknown") is True,
        region=options.region or (region if isinstance(region, str) else None),
        status_map={k: str(v) for k, v in status_map.items()},
        companies="parent" if saved.get("companies") == "parent" else options.companies,
    )


def _old_objects_set_aside() -> AbstractContextManager[None]:
    """Keep the cyclic garbage collector off the objects that existed before the run.

    An import makes millions of short-lived objects, so the collector runs often,
    and each full pass would scan every object of the program again (the phone
    metadata alone is large): about a tenth of an import's time. ``gc.freeze``
    leaves those out of the passes until the run ends; new garbage is still collected,
    but the youngest generation only every ``GC_YOUNG_THRESHOLD`` allocations: each
    young pass also walks the batches in flight (their drafts, rows and keys), and at
    the default 700 those passes took about a seventh of the writer's CPU. The
    setting is the process's, so it is held (``domain.collector``): imports running
    at once in threads of one Workspace share it, and the last one restores it.
    """
    return OLD_OBJECTS_SET_ASIDE.held()


def _rejects_kept(path: Path, ledger: JSONValue) -> int | None:
    """How much of the rejects file a resumed run keeps: what its committed batches wrote.

    Each batch writes its rejects before it commits and records the file's size in
    its ledger entry, so the bytes past that size belong to a batch that never
    committed and will be read again. None (keep it all) when the ledger knows
    nothing of this file; 0 (start afresh) when nothing is resumed.
    """
    if not isinstance(ledger, dict):
        return 0
    if ledger.get("rejects") == str(path.resolve()):
        return _number(ledger.get("rejects_size", 0))
    return None


def _number(value: JSONValue) -> int:
    return value if isinstance(value, int) else 0


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@attrs.define
class _Run:
    name: str
    sha256: str
    run_id: str
    options: ImportOptions
    opener: SessionOpener
    drafter: Drafter
    mapper: RowMapper
    normalize: NormalizeOptions
    rejects: RejectsWriter | None
    progress: Progress | None
    total_lines: int | None = None
    expected_rows: int = 0
    """About how many rows are left to import (lines, or bytes / 100): the store sizes for it."""
    resumed_after: int = 0
    before: _Counts = attrs.Factory(_Counts)
    """What the interrupted runs this one resumes had committed (rows and rejected)."""
    counts: _Counts = attrs.Factory(_Counts)
    last_line: int = 0
    committed_line: int = 0
    committed_rows: int = 0
    parents: Parents | None = None
    links: FileLinks = attrs.Factory(FileLinks)

    def in_batches(self, drafted: Iterable[DraftedChunk]) -> None:
        for chunk, stamp, drafts in drafted:
            with self.opener.session() as s:
                rejected = self.batch(s, chunk, stamp, drafts)
                # Durable before the batch commits (a crash after the commit loses none);
                # the ledger keeps the size, so a resume drops them if it never commits.
                self.reject(rejected)
                self.record(s, done=False)
            self.committed_line = self.last_line
            self.committed_rows = self.before.rows + self.counts.rows
            self.report()
        with self.opener.session() as s:
            self.record(s, done=True)

    def in_one_transaction(self, drafted: Iterable[DraftedChunk]) -> None:
        rejected: list[tuple[ImportRowError, Any]] = []
        try:
            with self.opener.session() as s:
                for chunk, stamp, drafts in drafted:
                    rejected.extend(self.batch(s, chunk, stamp, drafts))
                    self.report()
                self.record(s, done=True)
                if self.options.dry_run:
                    raise _Rollback
        except _Rollback:
            pass
        self.reject(rejected)

    def report(self) -> None:
        """Tell the ``progress`` callback how far the run has come."""
        if self.progress is not None:
            self.progress(
                ImportProgress(
                    rows=self.counts.rows,
                    line=self.last_line,
                    total_lines=self.total_lines,
                    resumed_after_line=self.resumed_after,
                )
            )

    def record(self, s: Session, *, done: bool) -> None:
        """The ledger entry: the run, the last line committed, whether the file is finished.

        ``rows`` and ``rejected`` count over the whole run, however often it was resumed.
        """
        entry: dict[str, JSONValue] = {
            "run": self.run_id,
            "file": self.name,
            "line": self.last_line,
            "done": done,
            "rows": self.before.rows + self.counts.rows,
            "rejected": self.before.rejected + self.counts.rejected,
        }
        if self.rejects is not None:
            entry["rejects"] = str(self.rejects.path.resolve())
            entry["rejects_size"] = self.rejects.size
        s.put_setting(RUN_PREFIX + self.sha256, entry)

    def reject(self, rejected: list[tuple[ImportRowError, Any]]) -> None:
        if self.rejects is not None and rejected:
            for error, raw in rejected:
                self.rejects.write(error, raw)
            self.rejects.sync()

    def batch(
        self, s: Session, rows: Sequence[SourceRow], stamp: datetime, drafted: list[Drafted]
    ) -> list[tuple[ImportRowError, Any]]:
        """Match and write one batch's drafts inside ``s``; returns its rejected rows.

        ``stamp`` is the moment the drafts were stamped with: a row whose ``Customer``
        is needed again is drafted again from its cells with it (``_Redrafts``).
        """
        s.prepare_bulk_load(self.expected_rows)
        refused: list[ImportRowError] = []
        self.counts.rows += len(rows)
        self.last_line = max(self.last_line, rows[-1].line)
        for row in rows:
            if row.problem is not None:
                refused.append(ImportRowError(self.name, row.line, row.column, row.problem))
        drafts: list[LeanDraft] = []
        for result in drafted:
            if isinstance(result, ImportRowError):
                refused.append(result)
            else:
                drafts.append(result)
        self.counts.notes.add(drafted)
        redrafts = _Redrafts(self.mapper, self.drafter, rows, stamp)
        if self.parents is not None:
            # Linking reads every row's company: the rare option pays a second drafting.
            linked = self.parents.linked(s, [redrafts.draft(draft) for draft in drafts])
            drafts = [lean(draft, self.drafter.encode) for draft in linked]
        matcher = _Matcher(self, s, drafts, refused.append, redrafts)
        matcher.match()
        self.links.inserted(s, matcher.made)
        # Reported in file order, whichever step refused a row.
        refused.sort(key=lambda error: error.line)
        if refused and self.options.on_error == "abort":
            raise refused[0]
        self.counts.rejected += len(refused)
        self.counts.errors.extend(refused[: MAX_REPORTED - len(self.counts.errors)])
        raws = {row.line: row.raw for row in rows} if refused else {}
        return [(error, raws[error.line]) for error in refused]


class _Redrafts:
    """One batch's rows drafted again in the writer, for the rare path that needs a ``Customer``.

    Lean drafts carry no ``Customer``; drafting a row's cells again with the batch's
    stamp gives exactly the one its worker made (drafting is deterministic).
    """

    def __init__(
        self, mapper: RowMapper, drafter: Drafter, rows: Sequence[SourceRow], stamp: datetime
    ) -> None:
        self.mapper = mapper
        self.drafter = drafter
        self.rows = rows
        self.stamp = stamp
        self.cells: dict[int, Any] | None = None

    def draft(self, draft: LeanDraft) -> Draft:
        """``draft`` with its ``Customer`` again."""
        if self.cells is None:
            self.cells = {row.line: row.values for row in self.rows}
        return prepared(
            self.mapper, self.drafter.checks, draft.line, self.cells[draft.line], self.stamp
        )


class _Matcher:
    """One batch's duplicate matching: the store's index, then the batch's own new rows."""

    def __init__(
        self,
        run: _Run,
        s: Session,
        drafts: list[LeanDraft],
        refuse: Callable[[ImportRowError], None],
        redrafts: _Redrafts,
    ) -> None:
        self.run = run
        self.s = s
        self.drafts = drafts
        self.refuse = refuse
        self.redrafts = redrafts
        self.policy = run.options.on_duplicate
        self.pending: list[LeanDraft] = []
        self.combined: dict[int, Customer] = {}  # index in pending -> its customer, merged into
        self.by_key: dict[ContactKey, int] = {}  # key -> index in pending
        self.owner: dict[ContactKey, int] = {}  # key -> the oldest live customer holding it
        self.made: list[tuple[int, LeanDraft]] = []  # the new customers' ids and their drafts

    def match(self) -> None:
        counts = self.run.counts
        if self.policy != "allow":
            wanted = [key for draft in self.drafts for key in draft.keys]
            # One indexed look-up for the whole batch.
            for key, customer_id in self.s.find_by_keys(wanted):
                self.owner[key] = min(customer_id, self.owner.get(key, customer_id))
        for draft in self.drafts:
            if self.policy == "allow":
                self.pending.append(draft)
                continue
            self.place(draft)
        if not self.pending:
            return
        ids = self.s.insert_customers(
            [NewCustomer(draft.rows, draft.keys, draft.document) for draft in self.pending]
        )
        # One moment for the batch's ``created`` events: they are one transaction, and
        # the store writes a moment's text once instead of once per event.
        s, at, run, file = self.s, self.s.now(), self.run.run_id, self.run.name
        s.append_events(
            [
                s.event_at(
                    customer_id,
                    EventKind.CREATED,
                    at,
                    {"status": draft.status, "import_run": run, "line": draft.line, "file": file},
                )
                for customer_id, draft in zip(ids, self.pending, strict=True)
            ]
        )
        counts.created += len(ids)
        self.made = list(zip(ids, self.pending, strict=True))

    def place(self, draft: LeanDraft) -> None:
        valid = draft.keys
        existing = {key: self.owner[key] for key in valid if key in self.owner}
        earlier = {key: self.by_key[key] for key in valid if key in self.by_key}
        targets = {("customer", i) for i in existing.values()} | {
            ("line", self.pending[i].line) for i in earlier.values()
        }
        if not targets:
            self.add(draft)
            return
        if len(targets) > 1:
            parts = [f"{k.kind} {k.key} matches customer {i}" for k, i in existing.items()]
            parts += [
                f"{k.kind} {k.key} matches line {self.pending[i].line}" for k, i in earlier.items()
            ]
            self.reject(draft, "conflict: " + "; ".join(parts) + "; not guessing which one")
            return
        counts = self.run.counts
        if self.policy == "skip":
            counts.skipped += 1
            return
        if self.policy == "error":
            what = next(iter(targets))
            self.reject(
                draft, f"duplicate of {what[0]} {what[1]} ({_describe(valid, existing, earlier)})"
            )
            return
        if existing:
            self.into_customer(draft, next(iter(existing.values())), existing)
        else:
            self.into_pending(draft, next(iter(earlier.values())))

    def add(self, draft: LeanDraft) -> None:
        index = len(self.pending)
        self.pending.append(draft)
        for key in draft.keys:
            self.by_key.setdefault(key, index)

    def reject(self, draft: LeanDraft, reason: str) -> None:
        column = self.run.mapper.header_for("emails") or self.run.mapper.header_for("phones")
        self.refuse(ImportRowError(self.run.name, draft.line, column, reason))

    def into_customer(
        self, draft: LeanDraft, customer_id: int, found: dict[ContactKey, int]
    ) -> None:
        run, s = self.run, self.s
        customer = self.redrafts.draft(draft).customer
        pairs = [(key, i) for key, i in found.items()]
        if self.policy == "merge":
            result = absorb(
                s,
                customer_id,
                customer,
                pairs,
                options=run.normalize,
                now=s.now(),
                event=s.event,
            )
            run.counts.merged += 1
        else:
            before, after = updated_with(s, customer_id, customer, run.normalize)
            result = save_changes(s, before, after)
            run.counts.updated += 1
        # Later rows of the batch match the customer on its new contacts too.
        for key in customer_keys(result, run.normalize):
            if key.valid:
                self.owner.setdefault(key, customer_id)

    def into_pending(self, draft: LeanDraft, index: int) -> None:
        run = self.run
        first = self.pending[index]
        earlier = self.combined.get(index) or self.redrafts.draft(first).customer
        customer = self.redrafts.draft(draft).customer
        if self.policy == "merge":
            merged = combine(earlier, [customer], run.normalize).customer
            run.counts.merged += 1
        else:
            newer = combine(customer, [earlier], run.normalize).customer
            kept = ("status", "outcome", "converted_at", "closed_at", "created_at", "lost_reason")
            merged = attrs.evolve(newer, **{name: getattr(earlier, name) for name in kept})
            run.counts.updated += 1
        keys = customer_keys(merged, run.normalize)
        self.combined[index] = merged
        self.pending[index] = lean(Draft(first.line, merged, keys, first.notes), run.drafter.encode)
        for key in keys:
            if key.valid:
                self.by_key.setdefault(key, index)


def _describe(
    valid: Sequence[ContactKey], existing: dict[ContactKey, int], earlier: dict[ContactKey, int]
) -> str:
    return ", ".join(f"{k.kind} {k.key}" for k in valid if k in existing or k in earlier)
