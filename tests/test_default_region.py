"""The default phone region: set by init (and the demo); unreadable phones are reported."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipeline_core import Customer, Workspace
from pipeline_core.cli import cli
from pipeline_core.importing import ImportOptions
from pipeline_core.storage import open_store


def test_init_with_a_region_reads_national_numbers_there() -> None:
    ws = Workspace(open_store("memory:"))
    assert ws.customers.unreadable_phones(Customer(name="A", phones=("020 7946 0018",))) == (
        "020 7946 0018",
    )
    ws.init(region="gb")
    assert ws.settings.duplicates().default_region == "GB"
    assert ws.customers.unreadable_phones(Customer(name="A", phones=("020 7946 0018",))) == ()
    assert ws.customers.unreadable_phones(Customer(name="B", phones=("12",))) == ("12",)


def test_cli_init_region_and_the_add_warning(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    runner = CliRunner()
    plain = runner.invoke(cli, ["--store", url, "init"])
    assert plain.exit_code == 0 and "read in" not in plain.output
    unread = runner.invoke(
        cli, ["--store", url, "customers", "add", "Ann", "--phone", "020 7946 0018"]
    )
    assert unread.exit_code == 0
    assert "Warning: phone '020 7946 0018' cannot be read" in unread.stderr
    region = runner.invoke(cli, ["--store", url, "init", "--region", "GB"])
    assert region.exit_code == 0 and "read in GB" in region.output
    read = runner.invoke(
        cli, ["--store", url, "customers", "add", "Bo", "--phone", "020 7946 0019"]
    )
    assert read.exit_code == 0 and "Warning" not in read.stderr
    bad = runner.invoke(cli, ["--store", url, "init", "--region", "XX"])
    assert bad.exit_code == 1 and "XX" in bad.output and "Traceback" not in bad.output


def test_the_demo_sets_a_region(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert CliRunner().invoke(cli, ["--store", url, "demo", "--customers", "3"]).exit_code == 0
    with Workspace.open(url) as ws:
        assert ws.settings.duplicates().default_region == "US"


def test_the_import_summary_counts_unreadable_phones(tmp_path: Path) -> None:
    ws = Workspace(open_store("memory:"))
    path = tmp_path / "p.csv"
    path.write_text("Name,Phone\nA,020 7946 0018\nB,+44 20 7946 0019\nC,not a number\n")
    summary = ws.customers.import_file(path)
    assert (summary.created, summary.unreadable_phones) == (3, 2)
    ws.init(region="GB")
    again = ws.customers.import_file(path, ImportOptions(restart=True, on_duplicate="allow"))
    assert again.unreadable_phones == 1
