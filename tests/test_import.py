"""Bulk import: formats, bad input, validation, rejects, duplicate policies, atomic resumable batches."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from pipeline_core import Workspace
from pipeline_core.errors import ImportFileError, ImportRowError, InvalidValue, PipelineError
from pipeline_core.importing import ImportOptions
from pipeline_core.storage import open_store
from pipeline_core.workspace.import_engine import RUN_PREFIX, row_checks
from pipeline_core.workspace.session import Session


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def names(workspace: Workspace) -> list[str]:
    return [c.name for c in workspace.customers.list()]


@pytest.fixture
def mem() -> Workspace:
    return Workspace(open_store("memory:"))


# formats ---------------------------------------------------------------------------


def test_csv_with_synonyms_bom_crlf_and_sniffed_semicolons(tmp_path: Path, mem: Workspace) -> None:
    text = "\ufeffFull Name;E-mail;Mobile;Country;Tags;Deal Value\r\n"
    text += "Ann Lee;ANN@Example.com;020 7946 0018;United Kingdom;vip, new;12.50\r\n"
    text += 'Bob;bob@x.org;+1 415 555 0100;US;;\r\n"Multi\nLine";m@m.com;;;;\r\n'
    summary = mem.customers.import_file(write(tmp_path, "a.csv", text))
    assert (summary.rows, summary.created, summary.rejected) == (3, 3, 0)
    ann, bob, multi = mem.customers.list()
    assert bob.phones == ("+1 415 555 0100",) and bob.country == "US"
    assert ann.emails == ("ANN@Example.com",) and ann.country == "GB"
    assert ann.tags == ("vip", "new") and str(ann.value) == "12.50"
    assert mem.customers.dupes() == []
    assert multi.name == "Multi\nLine"
    created = mem.customers.timeline(multi.id)[0]
    assert created.data["line"] == 4 and created.data["import_run"] == summary.run_id


def test_tsv_json_jsonl_and_stdin(tmp_path: Path, mem: Workspace) -> None:
    mem.customers.import_file(write(tmp_path, "a.tsv", "name\tphone\nAnn\t0044 20 7946 0018\n"))
    array = json.dumps([{"name": "Bob", "tags": ["x", "y"]}, {"name": "Cy", "value": 3}])
    mem.customers.import_file(write(tmp_path, "b.json", array))
    mem.customers.import_file(write(tmp_path, "c.jsonl", '{"name": "Dee"}\n\n{"name": "Eve"}\n'))
    stdin = io.BytesIO(b"name,email\nFay,fay@x.com\n")
    mem.customers.import_file(stdin)
    assert names(mem) == ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay"]
    assert mem.customers.list()[1].tags == ("x", "y")
    assert str(mem.customers.list()[2].value) == "3"


def test_xlsx(tmp_path: Path, mem: Workspace) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Phone", "Country"])
    sheet.append(["Ann", "02079460018", "GB"])
    sheet.append(["Bob", 4155550100, "US"])
    book.save(tmp_path / "a.xlsx")
    summary = mem.customers.import_file(tmp_path / "a.xlsx")
    assert summary.created == 2
    assert mem.customers.list()[1].phones == ("4155550100",)


def test_mapping_overrides_keep_unknown_and_profiles(tmp_path: Path, mem: Workspace) -> None:
    path = write(tmp_path, "a.csv", "Who,Plan,Zip,Notes\nAnn,gold,01234,hi\n")
    summary = mem.customers.import_file(
        path, ImportOptions(mapping={"Who": "name", "Plan": "fields.plan"})
    )
    assert summary.unknown_columns == ("Zip",)
    assert dict(mem.customers.list()[0].fields) == {"plan": "gold"}
    mem.customers.save_import_profile("crm", ["Who=name", "Notes=-"], keep_unknown=True)
    mem.customers.import_file(path, ImportOptions(restart=True), profile="crm")
    second = mem.customers.list()[1]
    assert dict(second.fields) == {"Plan": "gold", "Zip": "01234"}  # leading zero kept
    assert second.lead_notes == ""
    with pytest.raises(InvalidValue, match="unknown field 'nmae'"):
        mem.customers.import_file(path, ImportOptions(mapping={"Who": "nmae"}))


# bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\xef\xbb\xbf\n", "empty"),
        ("header.csv", b"name,email\n", "header row but no data rows"),
        ("bad.csv", b"name\nAnn\nJos\xe9\n", r"not valid utf-8 text at byte offset 12 \(line 3\)"),
        ("dup.csv", b"Email,name,email\n", "duplicate header 'email'"),
        ("bin.csv", b"\x00\x01\x02binary\x00", "looks binary"),
        ("obj.json", b'{"name": "Ann"}', "not a JSON array of objects"),
        ("nums.json", b"[1, 2]", "its first element is a number"),
        ("zip.csv", b"PK\x03\x04rest", "zip archive"),
    ],
)
def test_bad_files_give_one_message_and_write_nothing(
    tmp_path: Path, mem: Workspace, name: str, content: bytes, message: str
) -> None:
    with pytest.raises(ImportFileError, match=message):
        mem.customers.import_file(write(tmp_path, name, content))
    assert mem.customers.count() == 0


def test_missing_file(tmp_path: Path, mem: Workspace) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        mem.customers.import_file(tmp_path / "nope.csv")


def test_other_encoding_reads_with_encoding_option(tmp_path: Path, mem: Workspace) -> None:
    path = write(tmp_path, "a.csv", "name\nJosé\n".encode("cp1252"))
    mem.customers.import_file(path, ImportOptions(encoding="cp1252"))
    assert names(mem) == ["José"]


def test_row_problems_are_rejected_with_line_and_column(tmp_path: Path, mem: Workspace) -> None:
    big = "x" * (10 * 1024 * 1024)
    lines = [
        "name,email,value,status,next follow up",
        "Ann,ann@x.com,1,,",  # 2 fine
        ",nobody@x.com,,,",  # 3 no name
        "Bob,not-mail,,,",  # 4 bad email
        "Cy,,abc,,",  # 5 bad number
        "Dee,,,Nowhere,",  # 6 unknown status
        "Eve,,,,31/02/2024",  # 7 bad date
        "Fay,,",  # 8 wrong number of cells
        f"Gus,,,,{big}",  # 9 a 10 MB cell
        'Hal,"hal@x.com,,,',  # 10 truncated inside quotes
    ]
    rejects = tmp_path / "rejects.csv"
    path = write(tmp_path, "a.csv", "\n".join(lines))
    summary = mem.customers.import_file(path, ImportOptions(rejects=rejects))
    assert (summary.created, summary.rejected) == (1, 8)
    where = {(e.line, e.column) for e in summary.errors}
    assert where >= {(3, "name"), (4, "email"), (5, "value"), (6, "status"), (7, "next follow up")}
    reasons = {e.line: e.reason for e in summary.errors}
    assert "3 cells where the header has 5" in reasons[8]
    assert "10,485,760 characters" in reasons[9]
    assert "truncated" in reasons[10]
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["name", "email", "value", "status", "next follow up", "error"]
    assert rows[1][:2] == ["", "nobody@x.com"] and "line 3" in rows[1][-1]
    assert len(rows) == 9


def test_json_rows_with_bad_elements(tmp_path: Path, mem: Workspace) -> None:
    path = write(tmp_path, "a.json", '[{"name": "Ann"},\n 5,\n {"name": "Bob"}, {"name": ')
    summary = mem.customers.import_file(path)
    assert summary.created == 2
    assert [(e.line, "object" in e.reason or "ends early" in e.reason) for e in summary.errors] == [
        (2, True),
        (3, True),
    ]


def test_abort_on_error_writes_nothing(tmp_path: Path, make_store: Any) -> None:
    workspace = Workspace(make_store())
    path = write(
        tmp_path, "b.csv", "name,email\n" + "".join(f"P{i},\n" for i in range(30)) + "X,bad\n"
    )
    with pytest.raises(ImportRowError, match="line 32, column 'email'"):
        workspace.customers.import_file(path, ImportOptions(on_error="abort", batch_size=7))
    assert workspace.customers.count() == 0


# duplicates ------------------------------------------------------------------------

DUPES = (
    "name,email,phone,tags\n"
    "Ann,ann@x.com,,a\n"  # 2: matches the stored Ann
    "Bob,bob@x.com,+1 415 555 0100,b\n"  # 3: new
    "Bobby,BOB@X.COM,,c\n"  # 4: matches line 3 in the file
    "Mix,ann@x.com,415-555-0100,\n"  # 5: matches Ann and Bob: conflict
)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", (1, 0, 0, 2, 1)),
        ("merge", (1, 0, 2, 0, 1)),
        ("update", (1, 2, 0, 0, 1)),
        ("error", (1, 0, 0, 0, 3)),
        ("allow", (4, 0, 0, 0, 0)),
    ],
)
def test_duplicate_policies(
    tmp_path: Path, workspace: Workspace, policy: str, expected: tuple[int, ...]
) -> None:
    from pipeline_core import Customer

    workspace.settings.duplicates(default_region="US")
    workspace.customers.add(Customer(name="Ann", emails=("ann@x.com",)))
    path = write(tmp_path, "a.csv", DUPES)
    summary = workspace.customers.import_file(path, ImportOptions(on_duplicate=policy))  # type: ignore[arg-type]
    got = (summary.created, summary.updated, summary.merged, summary.skipped, summary.rejected)
    assert got == expected
    if policy != "allow":
        conflict = next(e for e in summary.errors if e.line == 5)
        assert "conflict" in conflict.reason
    customers = {c.name: c for c in workspace.customers.list()}
    if policy == "merge":
        assert customers["Ann"].tags == ("a",) and customers["Bob"].tags == ("b", "c")
    if policy == "update":
        assert "Bobby" in customers and customers["Bobby"].tags == ("c", "b")


def test_dry_run_writes_nothing(tmp_path: Path, workspace: Workspace) -> None:
    path = write(tmp_path, "a.csv", DUPES)
    summary = workspace.customers.import_file(path, ImportOptions(dry_run=True, batch_size=2))
    assert summary.dry_run and summary.created == 2 and summary.skipped == 2
    assert workspace.customers.count() == 0
    real = workspace.customers.import_file(path, ImportOptions(batch_size=2))
    assert (real.created, real.skipped) == (summary.created, summary.skipped)


# atomic batches and resume -----------------------------------------------------------


class Crash(Exception):
    pass


def test_resume_after_a_crash_imports_the_rest_once(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"P{i},p{i}@x.com\n" for i in range(25))
    path = write(tmp_path, "a.csv", "name,email\n" + rows + "P3 again,P3@X.COM\n")
    store = workspace.store
    real = store.transaction
    opened = {"n": 0}

    def crashing() -> Any:
        opened["n"] += 1
        if opened["n"] == 5:  # the settings read, then batches 1-3 commit; batch 4 dies
            raise Crash
        return real()

    monkeypatch.setattr(store, "transaction", crashing)
    with pytest.raises(Crash):
        workspace.customers.import_file(path, ImportOptions(batch_size=5))
    assert workspace.customers.count() == 15
    monkeypatch.setattr(store, "transaction", real)
    summary = workspace.customers.import_file(path, ImportOptions(batch_size=5))
    assert summary.resumed_after_line == 16
    assert (summary.created, summary.skipped) == (10, 1)
    assert [c.name for c in workspace.customers.list()] == [f"P{i}" for i in range(25)]
    again = workspace.customers.import_file(path)
    assert again.already_done and workspace.customers.count() == 25
    import hashlib

    with workspace.store.transaction() as tx:
        entry = tx.get_setting(RUN_PREFIX + hashlib.sha256(path.read_bytes()).hexdigest())
    assert isinstance(entry, dict) and entry["done"] is True and entry["line"] == 27


def test_a_failing_batch_leaves_no_part_of_it(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "a.csv", "name\n" + "".join(f"P{i}\n" for i in range(10)))
    calls = {"n": 0}
    original = Session.append_events

    def failing(self: Session, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch's events, after its inserts
            raise Crash
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Session, "append_events", failing)
    with pytest.raises(Crash):
        workspace.customers.import_file(path, ImportOptions(batch_size=5))
    assert workspace.customers.count() == 5
    assert workspace.customers.dupes() == []


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_worker_processes_import_exactly_what_one_process_does(
    tmp_path: Path, make_store: Any, clock: Any, suffix: str
) -> None:
    records: list[dict[str, str]] = []
    for n in range(120):
        record = {"name": f"P{n}", "email": f"p{n % 97}@x.com", "phone": f"+1 415 555 {n:04d}"}
        if n % 11 == 0:
            record["email"] = "not-mail"
        if n % 13 == 0:
            record["status"] = "Nowhere"
        if n % 17 == 0:
            record["Shoe size"] = str(n)  # an unknown column, kept as a custom field
        records.append(record)
    headers = ["name", "email", "phone", "status", "Shoe size"]
    if suffix == ".csv":
        text = ",".join(headers) + "\n"
        text += "".join(",".join(r.get(h, "") for h in headers) + "\n" for r in records)
    else:
        text = "".join(json.dumps(r) + "\n" for r in records)
    path = write(tmp_path, "people" + suffix, text)
    outcomes = []
    for workers in (0, 2):
        workspace = Workspace(make_store(), clock=clock)
        rejects = tmp_path / f"rejects-{workers}{suffix}"
        options = ImportOptions(
            workers=workers, batch_size=7, rejects=rejects, keep_unknown=True, on_duplicate="merge"
        )
        summary = workspace.customers.import_file(path, options)
        people = [attrs.evolve(c, id=0) for c in workspace.customers.list()]
        counts = (summary.rows, summary.created, summary.merged, summary.rejected)
        errors = [(e.line, e.column, e.reason) for e in summary.errors]
        outcomes.append((counts, errors, summary.unknown_columns, people, rejects.read_text()))
    assert outcomes[0] == outcomes[1]
    (rows, created, merged, rejected), errors, unknown, people, _ = outcomes[0]
    assert rows == 120 and rejected == len(errors) and created + merged + rejected == rows
    assert unknown == ("Shoe size",) and any(c.fields.get("Shoe size") == "17" for c in people)


def test_rows_get_the_checks_add_customer_makes(tmp_path: Path, workspace: Workspace) -> None:
    from pipeline_core import Customer
    from pipeline_core.domain.custom_fields import FieldDefinition
    from pipeline_core.domain.statuses import Status, StatusMachine

    support = StatusMachine(
        name="support",
        statuses=(
            Status("Open"),
            Status("Solved", outcome="won"),
            Status("Dropped", outcome="lost"),
        ),
        transitions={"Open": ("Solved", "Dropped")},
    )
    workspace.fields.add(FieldDefinition(key="seats", type="number"))
    workspace.folders.add("Support", support, fields=["seats"])
    lines = [
        "name,folder,status,lost reason,fields.seats",
        "Ann,Support,Dropped,price,3",  # 2: the folder's machine; the listed reason's spelling
        "Bob,Support,Dropped,other: moved away,",  # 3: other with a text
        "Cy,Support,Dropped,Bored,",  # 4: not a listed reason
        "Dee,,Dropped,,",  # 5: the workspace's machine has no Dropped
        "Eve,Support,Open,,many",  # 6: seats is a number
        "Fay,,Customer,,",  # 7: won: converted and closed now
    ]
    path = write(tmp_path, "a.csv", "\n".join(lines) + "\n")
    summary = workspace.customers.import_file(path)
    reasons = {e.line: (e.column, e.reason) for e in summary.errors}
    assert sorted(reasons) == [4, 5, 6] and summary.created == 3
    assert reasons[4][0] == "lost reason" and "Bored" in reasons[4][1]
    assert reasons[5][0] == "status" and reasons[6][0] == "fields.seats"
    people = {c.name: c for c in workspace.customers.list()}
    assert people["Ann"].lost_reason == "Price" and people["Ann"].outcome == "lost"
    assert people["Bob"].lost_reason == "other: moved away"
    assert people["Ann"].fields == {"seats": 3}
    # The same customers added one by one come out the same.
    for name in ("Ann", "Fay"):
        row = people[name]
        added = workspace.customers.add(
            Customer(
                name=name + "2",
                folder=row.folder,
                status=row.status,
                lost_reason=row.lost_reason,
                fields=row.fields,
            )
        )
        for attribute in (
            "status",
            "outcome",
            "lost_reason",
            "fields",
            "converted_at",
            "closed_at",
        ):
            assert getattr(added, attribute) == getattr(row, attribute), (name, attribute)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork to patch the worker"
)
def test_a_worker_that_dies_stops_the_import_and_a_rerun_finishes_it(
    tmp_path: Path, mem: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline_core.importing import drafting

    rows = "".join(f"P{n},p{n}@x.com\n" for n in range(50))
    path = write(tmp_path, "a.csv", "name,email\n" + rows)
    calls = {"n": 0}
    real = drafting.draft_rows

    def dies_on_the_third_chunk(*args: Any) -> Any:
        calls["n"] += 1  # counted in the (forked) worker, where the chunks are drafted
        if calls["n"] == 3:
            os._exit(3)
        return real(*args)

    monkeypatch.setattr(drafting, "draft_rows", dies_on_the_third_chunk)
    options = ImportOptions(workers=1, batch_size=10)
    with pytest.raises(PipelineError, match="worker process stopped unexpectedly"):
        mem.customers.import_file(path, options)
    assert len(mem.customers.list()) == 20  # the two batches drafted before it died
    monkeypatch.setattr(drafting, "draft_rows", real)
    summary = mem.customers.import_file(path, options)
    assert summary.resumed_after_line == 21 and summary.created == 30
    assert sorted(c.name for c in mem.customers.list()) == sorted(f"P{n}" for n in range(50))


def test_a_drafter_pickles_for_spawned_workers(workspace: Workspace) -> None:
    # Platforms without fork start workers with spawn: the drafter must travel by pickle.
    import pickle

    from pipeline_core.domain.custom_fields import FieldDefinition
    from pipeline_core.domain.normalize import NormalizeOptions
    from pipeline_core.importing.drafting import Drafter
    from pipeline_core.storage.sql.common import customer_rows

    workspace.fields.add(FieldDefinition(key="plan", type="select", options=("a", "b")))
    workspace.folders.add("Support", workspace.statuses.show(), fields=["plan"])
    with workspace.session() as s:
        checks = row_checks(s)
    drafter = Drafter(
        file="a.csv",
        mapping={"Who": "name"},
        keep_unknown=True,
        region="GB",
        normalize=NormalizeOptions(default_region="US", fold_gmail=True),
        checks=checks,
        encode=customer_rows,
    )
    copy = pickle.loads(pickle.dumps(drafter))
    assert copy == drafter and copy.checks.folders["Support"].fields == ("plan",)
