"""The duplicate commands through click's CliRunner: settings, --on-duplicate, dupes, merge."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline_core.cli import cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'dupes.db'}"
    ok(url, "init")
    ok(url, "settings", "duplicates", "--default-region", "US")
    return url


def run(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, *args])


def ok(store: str, *args: str) -> Result:
    result = run(store, *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def add(store: str, name: str, *args: str) -> int:
    record = json.loads(ok(store, "customers", "add", name, *args, "--format", "json").output)
    customer_id: int = record["id"]
    return customer_id


def test_settings_duplicates_show_and_change(store: str) -> None:
    assert ok(store, "settings", "duplicates").output == (
        "default_region: US\nallow_duplicates: false\nfold_gmail: false\n"
    )
    changed = ok(store, "settings", "duplicates", "--fold-gmail", "--allow-duplicates")
    assert changed.output == "default_region: US\nallow_duplicates: true\nfold_gmail: true\n"
    shown = json.loads(ok(store, "settings", "duplicates", "--format", "json").output)
    assert shown == {"default_region": "US", "allow_duplicates": True, "fold_gmail": True}
    cleared = ok(store, "settings", "duplicates", "--default-region", "", "--block-duplicates")
    assert cleared.output.startswith("default_region: \nallow_duplicates: false\n")
    bad = run(store, "settings", "duplicates", "--default-region", "XX")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: default region 'XX' is not")


def test_a_duplicate_add_is_refused_naming_the_customer(store: str) -> None:
    ada = add(store, "Ada Lovelace", "--phone", "+1 (415) 555-0132")
    result = run(store, "customers", "add", "Ada L", "--phone", "415.555.0132")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: phone +14155550132 matches customer {ada} (Ada Lovelace);"
        " to go ahead use --on-duplicate allow, merge or update\n"
    )
    listed = json.loads(ok(store, "customers", "list", "--format", "json").output)
    assert [c["id"] for c in listed] == [ada]


def test_on_duplicate_allow_merge_update(store: str) -> None:
    ada = add(store, "Ada Lovelace", "--phone", "+1 (415) 555-0132")
    twin = add(store, "Ada Twin", "--phone", "415.555.0132", "--on-duplicate", "allow")
    assert twin != ada
    merged = add(
        store, "Ada M", "--email", "ada@example.com", "--whatsapp", "14155550132",
        "--folder", "Leads", "--on-duplicate", "merge",
    )  # fmt: skip
    assert merged == ada
    shown = json.loads(ok(store, "customers", "show", str(ada), "--format", "json").output)[
        "customer"
    ]
    assert (shown["name"], shown["folder"]) == ("Ada Lovelace", "Leads")
    assert shown["emails"] == ["ada@example.com"]
    updated = add(store, "Ada King", "--email", "ADA@example.com", "--on-duplicate", "update")
    assert updated == ada
    shown = json.loads(ok(store, "customers", "show", str(ada), "--format", "json").output)[
        "customer"
    ]
    assert shown["name"] == "Ada King"


def test_editing_into_a_duplicate_is_blocked_unless_allowed(store: str) -> None:
    ada = add(store, "Ada", "--email", "ada@example.com")
    bob = add(store, "Bob")
    blocked = run(store, "customers", "edit", str(bob), "--email", "Ada <ADA@example.com>")
    assert blocked.exit_code == 1
    assert f"email ada@example.com matches customer {ada} (Ada)" in blocked.stderr
    ok(
        store,
        "customers",
        "edit",
        str(bob),
        "--email",
        "ada@example.com",
        "--on-duplicate",
        "allow",
    )


def test_dupes_in_every_format(store: str) -> None:
    assert ok(store, "customers", "dupes").output == "No duplicates.\n"
    a = add(store, "A", "--phone", "+1 415 555 0132")
    b = add(
        store, "B", "--phone", "(415) 555-0132", "--email", "b@x.org", "--on-duplicate", "allow"
    )
    c = add(store, "C", "--email", "B@X.ORG", "--on-duplicate", "allow")
    add(store, "D", "--phone", "+44 20 7946 0018")
    table = ok(store, "customers", "dupes").output
    assert "phone +14155550132" in table and "email b@x.org" in table
    assert [line.split()[1] for line in table.splitlines()[2:]] == [str(a), str(b), str(c)]
    clusters = json.loads(ok(store, "customers", "dupes", "--format", "json").output)
    assert len(clusters) == 1
    assert clusters[0]["customer_ids"] == [a, b, c]
    assert clusters[0]["keys"] == [
        {"kind": "email", "key": "b@x.org"},
        {"kind": "phone", "key": "+14155550132"},
    ]
    assert [c["name"] for c in clusters[0]["customers"]] == ["A", "B", "C"]
    rows = list(
        csv.DictReader(io.StringIO(ok(store, "customers", "dupes", "--format", "csv").output))
    )
    assert [row["id"] for row in rows] == [str(a), str(b), str(c)]
    assert {row["cluster"] for row in rows} == {"1"}


def test_merge_dry_run_then_merge(store: str) -> None:
    a = add(store, "Ada", "--phone", "+1 415 555 0132")
    b = add(
        store, "Ada 2", "--phone", "415 555 0132", "--folder", "Leads", "--on-duplicate", "allow"
    )
    preview = ok(store, "customers", "merge", str(a), str(b), "--dry-run").output
    assert preview.startswith(f"Would merge #{b} into #{a}\n  from #{b} (Ada 2): filled folder")
    listed = json.loads(ok(store, "customers", "list", "--format", "json").output)
    assert len(listed) == 2
    done = json.loads(ok(store, "customers", "merge", str(a), str(b), "--format", "json").output)
    assert done["dry_run"] is False and done["merged"] == [b]
    assert done["customer"]["folder"] == "Leads"
    assert done["details"]["merged"][0]["filled"] == ["folder"]
    shown = json.loads(ok(store, "customers", "show", str(b), "--format", "json").output)[
        "customer"
    ]
    assert shown["id"] == a  # the old id leads to the primary
    assert ok(store, "customers", "dupes").output == "No duplicates.\n"
    again = run(store, "customers", "merge", str(a), str(b))
    assert again.exit_code == 1
    assert again.stderr == f"Error: customer {b} was already merged into {a}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("customers", "merge", "1", "1"), "cannot merge customer 1 into itself"),
        (("customers", "merge", "1", "2", "2"), "customer 2 is listed more than once"),
        (("customers", "merge", "1", "9"), "no customer with id 9"),
        (("customers", "add", "X", "--email", "a@b.c, d@e.f"), "holds more than one email"),
        (("customers", "add", "X", "--email", "nobody"), "'nobody' is not an email address"),
    ],
)
def test_errors_are_one_line_and_exit_1(store: str, args: tuple[str, ...], message: str) -> None:
    add(store, "One")
    add(store, "Two")
    result = run(store, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_merge_needs_others(store: str) -> None:
    result = run(store, "customers", "merge", "1")
    assert result.exit_code == 2
    assert "Missing argument 'OTHER...'" in result.stderr
