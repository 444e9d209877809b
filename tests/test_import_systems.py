"""Files shaped like other CRMs' exports land field by field, with nothing silently dropped.

Each file has the header row its system writes (our own rows); each test asserts
the customers that land, and that every column either feeds a field or is listed
in the summary (unknown, or kept in a custom field).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline_core import Customer, Workspace
from pipeline_core.domain.clock import FixedClock
from pipeline_core.errors import InvalidValue
from pipeline_core.importing import ImportOptions
from pipeline_core.importing.mapping import IGNORE, synonym
from pipeline_core.importing.options import ImportSummary
from pipeline_core.storage import open_store

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ws() -> Workspace:
    """A memory workspace at a fixed time, with two users owners can match."""
    workspace = Workspace(open_store("memory:"), clock=FixedClock(NOW))
    workspace.teams.add("Sales")
    workspace.users.add("ann", "agent", ["Sales"])
    workspace.users.add("bob", "agent", ["Sales"])
    return workspace


def csv_file(tmp_path: Path, name: str, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    return path


def accounted_for(headers: list[str], summary: ImportSummary) -> None:
    """Every column feeds a field or is named in the summary."""
    mapped = {h for h in headers if synonym(h) not in (None, IGNORE)}
    unknown = set(summary.unknown_columns)
    assert mapped | unknown == set(headers), set(headers) - mapped - unknown
    assert not mapped & unknown
    assert {column for column, _ in summary.kept_columns} <= mapped


def imported(
    ws: Workspace,
    tmp_path: Path,
    name: str,
    rows: list[list[str]],
    options: ImportOptions | None = None,
    profile: str | None = None,
) -> ImportSummary:
    """Import ``rows`` (the header row first) as the CSV file ``name``; check every column."""
    path = csv_file(tmp_path, name, rows)
    summary = ws.customers.import_file(path, options, profile=profile)
    accounted_for(rows[0], summary)
    return summary


def by_name(ws: Workspace) -> dict[str, Customer]:
    return {c.name: c for c in ws.customers.list()}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


HUBSPOT = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Company Name",
    "Contact owner", "Lifecycle Stage", "Lead Status", "Create Date", "Last Contacted",
    "Country/Region", "Job Title",
]  # fmt: skip


def test_hubspot_contacts_in_two_commands(tmp_path: Path, ws: Workspace) -> None:
    path = csv_file(
        tmp_path,
        "hubspot.csv",
        [
            HUBSPOT,
            ["101", "Ada", "Lovelace", "ada@atlas.example", "+33 1 42 68 53 00", "Atlas Conseil",
             "Ann Lee", "lead", "New", "2023-04-05 10:15", "2024-01-02 16:00", "France", "CTO"],
            ["102", "Grace", "Hopper", "grace@navy.example", "(415) 555-0132", "",
             "Carl Fox", "customer", "In Progress", "2021-11-30 08:00", "", "United States", ""],
        ],
    )  # fmt: skip
    dry = ws.customers.import_file(path, ImportOptions(dry_run=True))
    assert dry.unknown_statuses == (("New", 1), ("In Progress", 1)) and dry.created == 0
    assert dry.kept_columns == (("Lifecycle Stage", "fields.Lifecycle Stage"),)
    accounted_for(HUBSPOT, dry)
    summary = ws.customers.import_file(
        path, ImportOptions(status_map={"new": "Lead", "In Progress": "Prospect"})
    )
    assert (summary.created, summary.rejected) == (2, 0)
    assert summary.unknown_owners == (("Carl Fox", 1),)
    assert set(summary.unknown_columns) == {"Record ID", "Job Title"}
    people = by_name(ws)
    ada, grace = people["Ada Lovelace"], people["Grace Hopper"]
    assert ada.emails == ("ada@atlas.example",) and ada.phones == ("+33 1 42 68 53 00",)
    assert ada.fields == {"company": "Atlas Conseil", "Lifecycle Stage": "lead"}
    assert ada.workers == ("ann",) and ada.status == "Lead" and ada.country == "FR"
    assert ada.created_at == at("2023-04-05 10:15")
    assert ada.last_contacted_at == at("2024-01-02 16:00")
    assert grace.workers == ("Carl Fox",) and grace.status == "Prospect"
    assert grace.created_at == at("2021-11-30 08:00") and grace.country == "US"
    assert "company" not in grace.fields
    created = ws.customers.timeline(ada.id)[0]
    assert created.data["import_run"] == summary.run_id and created.at == NOW


SALESFORCE = [
    "First Name", "Last Name", "Title", "Company / Account", "Email", "Phone", "Mobile",
    "Lead Source", "Lead Status", "Lead Owner", "Create Date", "Converted Date",
    "Last Activity", "Country", "Description",
]  # fmt: skip


def test_salesforce_leads_with_foreign_statuses_and_a_profile(
    tmp_path: Path, ws: Workspace
) -> None:
    ws.customers.save_import_profile(
        "salesforce",
        {},
        map_status={"Open - Not Contacted": "Lead", "Closed - Converted": "Customer"},
    )
    summary = imported(
        ws,
        tmp_path,
        "salesforce.csv",
        [
            SALESFORCE,
            ["Alan", "Turing", "Dr", "Bletchley Ltd", "alan@bletchley.example", "020 7946 0018",
             "07700 900123", "Web", "Open - Not Contacted", "bob@acme.example",
             "2024-03-05T14:22:10.000Z", "", "2024-03-06", "United Kingdom", "Met at a fair"],
            ["Joan", "Clarke", "", "Bletchley Ltd", "joan@bletchley.example", "", "",
             "Partner Referral", "Closed - Converted", "Bob", "2022-01-10T09:00:00.000Z",
             "2022-02-01T12:00:00.000Z", "", "GB", ""],
        ],
        profile="salesforce",
    )  # fmt: skip
    assert (summary.created, summary.rejected, summary.unknown_owners) == (2, 0, ())
    assert summary.unknown_columns == ("Title",)
    alan, joan = by_name(ws)["Alan Turing"], by_name(ws)["Joan Clarke"]
    assert alan.phones == ("020 7946 0018", "07700 900123") and alan.source == "Web"
    assert alan.fields == {"company": "Bletchley Ltd"} and alan.workers == ("bob",)
    assert alan.lead_notes == "Met at a fair" and alan.status == "Lead"
    assert alan.created_at == at("2024-03-05 14:22:10") and alan.country == "GB"
    assert alan.last_contacted_at == at("2024-03-06 00:00")
    assert joan.status == "Customer" and joan.outcome == "won"
    assert joan.converted_at == at("2022-02-01 12:00") and joan.workers == ("bob",)
    assert joan.created_at == at("2022-01-10 09:00")


PIPEDRIVE = [
    "Person - Name", "Person - Organization", "Person - Email - Work", "Person - Email - Home",
    "Person - Phone - Work", "Person - Phone - Mobile", "Person - Owner", "Person - Label",
    "Person - Person created", "Person - Last activity date", "Person - Next activity date",
]  # fmt: skip


def test_pipedrive_people(tmp_path: Path, ws: Workspace) -> None:
    summary = imported(
        ws,
        tmp_path,
        "pipedrive.csv",
        [
            PIPEDRIVE,
            ["Marie Curie", "Radium SA", "marie@radium.example", "marie@home.example",
             "+33 1 40 00 00 00", "+33 6 12 34 56 78", "Ann", "Hot lead",
             "2022-06-01 10:00:00", "2024-05-01", "2026-02-01"],
            ["Pierre Curie", "", "pierre@radium.example", "", "", "", "", "",
             "2022-06-02 11:00:00", "", ""],
        ],
        ImportOptions(region="FR"),
    )  # fmt: skip
    assert (summary.created, summary.rejected, summary.unknown_columns) == (2, 0, ())
    marie = by_name(ws)["Marie Curie"]
    assert marie.emails == ("marie@radium.example", "marie@home.example")
    assert marie.phones == ("+33 1 40 00 00 00", "+33 6 12 34 56 78")
    assert marie.workers == ("ann",) and marie.tags == ("Hot lead",)
    assert marie.fields == {"company": "Radium SA"} and marie.country == "FR"
    assert marie.created_at == at("2022-06-01 10:00")
    assert marie.last_contacted_at == at("2024-05-01 00:00")
    assert str(marie.next_follow_up) == "2026-02-01"
    assert by_name(ws)["Pierre Curie"].created_at == at("2022-06-02 11:00")


ZOHO = [
    "Record Id", "Lead Owner", "Company", "First Name", "Last Name", "Email", "Phone", "Mobile",
    "Lead Source", "Lead Status", "Created Time", "Last Activity Time", "Description", "Country",
]  # fmt: skip


def test_zoho_leads_people_not_their_company(tmp_path: Path, ws: Workspace) -> None:
    summary = imported(
        ws,
        tmp_path,
        "zoho.csv",
        [
            ZOHO,
            ["zcrm_1", "bob@acme.example", "Atlas Conseil", "Ada", "Lovelace", "ada@atlas.example",
             "01 42 68 53 00", "", "Trade Show", "Contacted", "2023-02-01 08:30:00",
             "2023-03-01 09:00:00", "Wants a demo", "France"],
            ["zcrm_2", "Ann Lee", "Fjord AS", "", "", "post@fjord.example", "", "",
             "Web", "Not Contacted", "2023-02-02 08:30:00", "", "", "Norway"],
        ],
        ImportOptions(status_map={"Contacted": "Prospect", "Not Contacted": "Lead"}),
    )  # fmt: skip
    assert (summary.created, summary.rejected, summary.unknown_columns) == (2, 0, ("Record Id",))
    people = by_name(ws)
    ada = people["Ada Lovelace"]  # the person, not "Atlas Conseil"
    assert ada.fields == {"company": "Atlas Conseil"} and ada.workers == ("bob",)
    assert ada.phones == ("01 42 68 53 00",) and ada.source == "Trade Show"
    assert ada.status == "Prospect" and ada.lead_notes == "Wants a demo"
    assert ada.created_at == at("2023-02-01 08:30")
    fjord = people["Fjord AS"]  # no person: the row is the company
    assert fjord.fields == {} and fjord.country == "NO" and fjord.workers == ("ann",)


ODOO = [
    "Opportunity", "Contact Name", "Company Name", "Email", "Phone", "Mobile", "Salesperson",
    "Stage", "Tags", "Created on", "Expected Revenue", "Lost Reason", "Country",
]  # fmt: skip


def test_odoo_leads_contact_and_company_names(tmp_path: Path, ws: Workspace) -> None:
    summary = imported(
        ws,
        tmp_path,
        "odoo.csv",
        [
            ODOO,
            ["Atlas deal", "Ada Lovelace", "Atlas Conseil", "ada@atlas.example", "",
             "+33 6 11 22 33 44", "Ann", "Qualified", "VIP,Referral", "2023-09-09 09:09:09",
             "1500.50", "", "France"],
        ],
        ImportOptions(status_map={"Qualified": "Quoted"}),
    )  # fmt: skip
    assert (summary.created, summary.rejected, summary.unknown_columns) == (
        1,
        0,
        ("Opportunity",),
    )
    ada = by_name(ws)["Ada Lovelace"]
    assert ada.fields == {"company": "Atlas Conseil"} and str(ada.value) == "1500.50"
    assert ada.tags == ("VIP", "Referral") and ada.workers == ("ann",)
    assert ada.status == "Quoted" and ada.created_at == at("2023-09-09 09:09:09")


GOOGLE = [
    "First Name", "Middle Name", "Last Name", "Organization Name", "Organization Title",
    "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "E-mail 2 - Label", "E-mail 2 - Value",
    "Phone 1 - Label", "Phone 1 - Value", "Notes",
]  # fmt: skip


def test_google_contacts_numbered_values(tmp_path: Path, ws: Workspace) -> None:
    summary = imported(
        ws,
        tmp_path,
        "google.csv",
        [
            GOOGLE,
            ["Katherine", "Coleman", "Johnson", "NASA", "Mathematician",
             "* myContacts ::: Friends", "* Work", "kj@nasa.example", "Home", "kj@home.example",
             "Mobile", "+1 757 555 0100", "Computed trajectories"],
        ],
    )  # fmt: skip
    assert summary.created == 1
    assert set(summary.unknown_columns) == {
        "Organization Title", "E-mail 1 - Label", "E-mail 2 - Label", "Phone 1 - Label",
    }  # fmt: skip
    kj = by_name(ws)["Katherine Coleman Johnson"]
    assert kj.emails == ("kj@nasa.example", "kj@home.example")
    assert kj.phones == ("+1 757 555 0100",) and kj.fields == {"company": "NASA"}
    assert kj.tags == ("* myContacts", "Friends") and kj.lead_notes == "Computed trajectories"


OUTLOOK = [
    "First Name", "Middle Name", "Last Name", "Title", "Company", "Job Title",
    "Business Country/Region", "Business Phone", "Mobile Phone", "Home Phone",
    "E-mail Address", "E-mail 2 Address", "Notes", "Categories",
]  # fmt: skip


def test_outlook_contacts_with_companies_as_parents(tmp_path: Path, ws: Workspace) -> None:
    existing = ws.customers.add(Customer(name="Atlas Conseil"))
    summary = imported(
        ws,
        tmp_path,
        "outlook.csv",
        [
            OUTLOOK,
            ["Ada", "", "Lovelace", "Ms.", "Atlas Conseil", "CTO", "France", "01 42 68 53 00",
             "", "", "ada@atlas.example", "ada@home.example", "", "Clients;VIP"],
            ["Émile", "", "Borel", "", "Atlas Conseil", "", "France", "01 42 68 53 01", "", "",
             "emile@atlas.example", "", "", ""],
            ["Lise", "", "Meitner", "", "Kaiser Institut", "", "Germany", "030 1234567", "",
             "", "lise@kaiser.example", "", "", ""],
            ["Otto", "", "Hahn", "", "Kaiser Institut", "", "Germany", "", "", "",
             "otto@kaiser.example", "", "", ""],
        ], ImportOptions(companies="parent")
    )  # fmt: skip
    assert (summary.created, summary.parents_created, summary.rejected) == (4, 1, 0)
    assert set(summary.unknown_columns) == {"Title", "Job Title"}
    people = by_name(ws)
    kaiser = people["Kaiser Institut"]
    assert people["Ada Lovelace"].parent_id == existing.id
    assert people["Émile Borel"].parent_id == existing.id
    assert people["Lise Meitner"].parent_id == kaiser.id == people["Otto Hahn"].parent_id
    assert people["Ada Lovelace"].emails == ("ada@atlas.example", "ada@home.example")
    assert people["Ada Lovelace"].tags == ("Clients", "VIP")
    assert people["Ada Lovelace"].phones == ("01 42 68 53 00",)
    assert people["Lise Meitner"].country == "DE"
    assert sorted(c.name for c in ws.customers.children(kaiser.id)) == ["Lise Meitner", "Otto Hahn"]


MAILCHIMP = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "MEMBER_RATING",
    "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF",
    "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip


def test_mailchimp_audience_tags_without_their_quotes(tmp_path: Path, ws: Workspace) -> None:
    summary = imported(
        ws,
        tmp_path,
        "mailchimp.csv",
        [
            MAILCHIMP,
            ["hedy@film.example", "Hedy", "Lamarr", "", "+1 310 555 0199", "4",
             "2020-05-05 10:00:00", "", "2020-05-05 10:01:00", "", "", "", "", "", "", "US",
             "CA", "2024-01-01 00:00:00", "12", "ab12", "", '"Customer","Frequency hopping"'],
        ],
    )  # fmt: skip
    assert summary.created == 1
    hedy = by_name(ws)["Hedy Lamarr"]
    assert hedy.tags == ("Customer", "Frequency hopping")
    assert hedy.country == "US" and hedy.created_at == at("2020-05-05 10:00")
    assert hedy.emails == ("hedy@film.example",) and hedy.phones == ("+1 310 555 0199",)


def test_history_dates_are_validated_naming_the_column(tmp_path: Path, ws: Workspace) -> None:
    path = csv_file(
        tmp_path,
        "history.csv",
        [
            ["Name", "Created At", "Closed At", "Outcome", "Lost Reason", "Status"],
            ["Past", "2020-01-01T10:00:00+02:00", "2021-01-01", "lost", "Price", "Inactive"],
            ["Future", "2030-01-01", "", "", "", ""],
            ["Bad", "03/05/2024", "", "", "", ""],
            ["Worse", "2024-01-01", "yesterday", "", "", ""],
            ["Odd", "", "", "maybe", "", ""],
        ],
    )
    summary = ws.customers.import_file(path)
    reasons = {e.line: (e.column, e.reason) for e in summary.errors}
    assert sorted(reasons) == [3, 4, 5, 6] and summary.created == 1
    assert reasons[3][0] == "Created At" and "in the future" in reasons[3][1]
    assert reasons[4][0] == "Created At" and "without guessing" in reasons[4][1]
    assert reasons[5][0] == "Closed At" and reasons[6][0] == "Outcome"
    past = by_name(ws)["Past"]
    assert past.created_at == datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    assert past.closed_at == at("2021-01-01 00:00") and past.outcome == "lost"
    assert past.lost_reason == "Price" and past.status == "Inactive"
    assert past.updated_at == NOW


def test_two_columns_for_one_field_keep_the_more_specific(tmp_path: Path, ws: Workspace) -> None:
    headers = ["Status", "Lifecycle Stage", "Name", "Full Name", "Home Country/Region", "Country"]
    path = csv_file(
        tmp_path,
        "both.csv",
        [headers, ["Lead", "customer", "Ada", "Ada Lovelace", "France", "GB"]],
    )
    summary = ws.customers.import_file(path)
    assert summary.kept_columns == (
        ("Lifecycle Stage", "fields.Lifecycle Stage"),
        ("Name", "fields.Name"),
        ("Home Country/Region", "fields.Home Country/Region"),
    )
    ada = ws.customers.list()[0]
    assert (ada.name, ada.status, ada.country) == ("Ada Lovelace", "Lead", "GB")
    assert ada.fields == {
        "Lifecycle Stage": "customer",
        "Name": "Ada",
        "Home Country/Region": "France",
    }


def test_two_maps_to_one_field_are_refused(tmp_path: Path, ws: Workspace) -> None:
    path = csv_file(tmp_path, "two.csv", [["A", "B"], ["x", "y"]])
    with pytest.raises(InvalidValue, match="--map sends both 'A' and 'B' to name"):
        ws.customers.import_file(path, ImportOptions(mapping={"A": "name", "B": "name"}))


def test_cli_two_commands_dry_run_then_map_status(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline_core.cli import cli

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    path = csv_file(
        tmp_path,
        "leads.csv",
        [
            ["First Name", "Last Name", "Company", "Lead Status", "Lead Owner"],
            ["Alan", "Turing", "Bletchley Ltd", "Open - Not Contacted", "Dana"],
            ["Joan", "Clarke", "Bletchley Ltd", "Open - Not Contacted", ""],
            ["Tommy", "Flowers", "GPO", "Working - Contacted", ""],
        ],
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", url, "init"]).exit_code == 0
    dry = runner.invoke(cli, ["--store", url, "customers", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (
        "Statuses the workspace does not know (rows rejected; map them with --map-status"
        " \"VALUE=STATUS\"): 'Open - Not Contacted' (2), 'Working - Contacted' (1)"
    ) in dry.output
    assert "Owners matching no user (kept as typed in workers): 'Dana' (1)" in dry.output
    done = runner.invoke(
        cli,
        ["--store", url, "customers", "import", str(path), "--format", "json",
         "--map-status", "Open - Not Contacted=Lead", "--map-status", "Working - Contacted=Prospect",
         "--companies", "parent"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert (data["created"], data["rejected"], data["parents_created"]) == (3, 0, 2)
    assert data["unknown_owners"] == [{"owner": "Dana", "rows": 1}]
    with Workspace.open(url) as ws:
        people = by_name(ws)
        assert people["Alan Turing"].parent_id == people["Bletchley Ltd"].id
        assert people["Tommy Flowers"].status == "Prospect"


def test_foreign_statuses_are_counted_from_worker_processes(tmp_path: Path, ws: Workspace) -> None:
    lines = [["Name", "Stage", "Owner"]]
    lines += [[f"P{n}", "Open - Not Contacted" if n % 3 else "Lead", "Dana"] for n in range(30)]
    path = csv_file(tmp_path, "many.csv", lines)
    summary = ws.customers.import_file(path, ImportOptions(workers=2, batch_size=7, dry_run=True))
    assert summary.unknown_statuses == (("Open - Not Contacted", 20),)
    assert summary.unknown_owners == (("Dana", 30),)


def test_a_status_map_to_no_known_status_is_refused(tmp_path: Path, ws: Workspace) -> None:
    path = csv_file(tmp_path, "one.csv", [["Name", "Stage"], ["Ann", "Open"]])
    with pytest.raises(InvalidValue, match="--map-status Open=Nope: the workspace has no status"):
        ws.customers.import_file(path, ImportOptions(status_map={"Open": "Nope"}))
    assert ws.customers.list() == []
    summary = ws.customers.import_file(path, ImportOptions(status_map={"open": "prospect"}))
    assert ws.customers.list()[0].status == "Prospect" and summary.unknown_statuses == ()
