"""Export writers, the export-then-import round trip, and the import/export commands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core import Customer, Workspace
from pipeline_core.cli import cli
from pipeline_core.errors import InvalidValue
from pipeline_core.importing import ImportOptions
from pipeline_core.storage import open_store

from .conftest import fresh_store_url

SAFE = (
    st.text(
        alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" -'"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=6)

customers = st.builds(
    Customer,
    name=SAFE,
    emails=st.lists(st.builds(lambda a, b: f"{a}@{b}.com", WORD, WORD), max_size=2).map(tuple),
    phones=st.lists(
        st.sampled_from(["+44 20 7946 0018", "+1 415 555 0100", "030 123456"]), max_size=2
    ).map(tuple),
    tags=st.lists(WORD, max_size=3).map(tuple),
    folder=st.none() | WORD,
    source=st.none() | SAFE,
    value=st.none() | st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    lead_notes=st.sampled_from(["", "called twice", "line one\nline two"]),
    fields=st.dictionaries(WORD, SAFE, max_size=2),
)

COMPARED = (
    "name",
    "emails",
    "phones",
    "tags",
    "folder",
    "source",
    "value",
    "lead_notes",
    "fields",
    "status",
)


def shape(customer: Customer) -> tuple[object, ...]:
    return tuple(getattr(customer, name) for name in COMPARED)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
@settings(max_examples=5)
@given(records=st.lists(customers, min_size=1, max_size=6))
def test_export_then_import_reproduces_the_customers(
    tmp_path_factory: pytest.TempPathFactory, backend: str, fmt: str, records: list[Customer]
) -> None:
    source = Workspace(open_store(fresh_store_url(backend)))
    target = Workspace(open_store(fresh_store_url(backend)))
    for record in records:
        source.customers.add(record, on_duplicate="allow")
    out = io.StringIO()
    assert source.customers.export(out, fmt) == len(records)  # type: ignore[arg-type]
    path = tmp_path_factory.mktemp("rt") / f"export.{fmt}"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    summary = target.customers.import_file(path, ImportOptions(on_duplicate="allow"))
    assert summary.rejected == 0, summary.errors
    assert [shape(c) for c in target.customers.list()] == [
        shape(c) for c in source.customers.list()
    ]
    source.close()
    target.close()


def test_export_where_and_columns(workspace: Workspace) -> None:
    workspace.customers.add(Customer(name="Ann", tags=("vip",), fields={"plan": "gold"}))
    workspace.customers.add(Customer(name="Bob"))
    out = io.StringIO()
    count = workspace.customers.export(
        out, "csv", where='tags any ("vip")', columns=["name", "fields.plan"]
    )
    assert count == 1
    assert out.getvalue().splitlines() == ["name,fields.plan", "Ann,gold"]
    with pytest.raises(InvalidValue, match="cannot export column 'nmae'"):
        workspace.customers.export(io.StringIO(), "csv", columns=["nmae"])


def test_export_json_array_and_xlsx(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workspace = Workspace(open_store("memory:"))
    empty = io.StringIO()
    workspace.customers.export(empty, "json")
    assert json.loads(empty.getvalue()) == []
    workspace.customers.add(Customer(name="Ann", emails=("a@x.com",)))
    with (tmp_path / "a.xlsx").open("wb") as handle:
        workspace.customers.export(handle, "xlsx", columns=["name", "emails"])
    rows = list(openpyxl.load_workbook(tmp_path / "a.xlsx").active.values)
    assert rows == [("name", "emails"), ("Ann", "a@x.com")]


def test_cli_import_and_export(tmp_path: Path) -> None:
    runner = CliRunner()
    store = f"sqlite:///{tmp_path / 's.db'}"
    assert runner.invoke(cli, ["--store", store, "init"]).exit_code == 0
    source = tmp_path / "a.csv"
    source.write_text("Full Name,E-mail\nAnn,ann@x.com\n,nobody@x.com\nAnn B,ANN@X.COM\n")
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(
        cli,
        ["--store", store, "customers", "import", str(source), "--format", "json",
         "--rejects", str(rejects), "--on-duplicate", "merge"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["created"], data["merged"], data["rejected"]) == (1, 1, 1)
    assert "line 3" in rejects.read_text()
    again = runner.invoke(cli, ["--store", store, "customers", "import", str(source)])
    assert "already imported" in again.output
    exported = runner.invoke(cli, ["--store", store, "customers", "export", "--format", "jsonl"])
    assert [json.loads(line)["name"] for line in exported.output.splitlines()] == ["Ann"]
    missing = runner.invoke(
        cli, ["--store", store, "customers", "import", str(tmp_path / "no.csv")]
    )
    assert (
        missing.exit_code == 1 and "Error: " in missing.output and "no such file" in missing.output
    )
    stdin = runner.invoke(
        cli, ["--store", store, "customers", "import", "-", "--dry-run"], input="name\nZed\n"
    )
    assert "Dry run" in stdin.output
