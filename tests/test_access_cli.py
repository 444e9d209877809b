"""The access commands through click's CliRunner: --as, users, teams, search, filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline_core.cli import cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A SQLite store with teams North and South, agent ann (North), manager max (South)."""
    url = f"sqlite:///{tmp_path / 'access.db'}"
    for args in (
        ("init",),
        ("teams", "add", "North"),
        ("teams", "add", "South"),
        ("users", "add", "ann", "--role", "agent", "--team", "North"),
        ("users", "add", "max", "--role", "manager", "--team", "South"),
        ("customers", "add", "José Núñez", "--team", "North", "--phone", "+1 415-555-0132"),
        ("customers", "add", "Sam South", "--team", "South", "--tag", "VIP"),
    ):
        ok(url, *args)
    return url


def run(store: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--store", store, *args])


def ok(store: str, *args: str) -> Result:
    result = run(store, *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result


def listed(store: str, *args: str) -> list[str]:
    return [c["name"] for c in json.loads(ok(store, *args, "--format", "json").output)]


def test_as_user_sees_only_their_teams(store: str) -> None:
    assert listed(store, "--as", "ann", "customers", "list") == ["José Núñez"]
    assert listed(store, "--as", "max", "customers", "list") == ["Sam South"]
    assert listed(store, "customers", "list") == ["José Núñez", "Sam South"]
    result = run(store, "--as", "ann", "customers", "show", "2")
    assert result.exit_code == 1
    assert result.stderr == "Error: no customer with id 2\n"


def test_unknown_user_is_one_clear_line(store: str) -> None:
    result = run(store, "--as", "nobody", "customers", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown user 'nobody'")
    assert "Traceback" not in result.output


def test_refusals_are_errors_and_change_nothing(store: str) -> None:
    result = run(store, "--as", "ann", "customers", "edit", "1", "--team", "South")
    assert result.exit_code == 1 and "may not edit" in result.stderr
    assert listed(store, "--as", "ann", "customers", "list") == ["José Núñez"]
    result = run(store, "--as", "max", "teams", "add", "East")
    assert result.exit_code == 1 and "admins only" in result.stderr
    assert "East" not in ok(store, "teams", "list").output


def test_users_and_teams_listing_and_membership(store: str) -> None:
    users = json.loads(ok(store, "users", "list", "--format", "json").output)
    assert users == [
        {"name": "ann", "role": "agent", "teams": ["North"]},
        {"name": "max", "role": "manager", "teams": ["South"]},
    ]
    ok(store, "teams", "join", "South", "ann")
    assert listed(store, "--as", "ann", "customers", "list") == ["José Núñez", "Sam South"]
    ok(store, "teams", "leave", "South", "ann")
    assert listed(store, "--as", "ann", "customers", "list") == ["José Núñez"]
    assert ok(store, "--as", "ann", "whoami").output == "ann (agent): North\n"
    ok(store, "users", "role", "ann", "manager")
    assert ok(store, "--as", "ann", "whoami").output == "ann (manager): North\n"


def test_search_by_name_and_phone_within_scope(store: str) -> None:
    assert listed(store, "customers", "search", "jose") == ["José Núñez"]
    assert listed(store, "customers", "search", "415.555.0132") == ["José Núñez"]
    assert listed(store, "--as", "max", "customers", "search", "jose") == []
    assert listed(store, "customers", "search", "vip") == ["Sam South"]


def test_saved_filters_with_filter_option(store: str) -> None:
    ok(store, "filters", "save", "vips", 'tags any ("VIP")', "--shared")
    assert listed(store, "customers", "list", "--filter", "vips") == ["Sam South"]
    assert listed(store, "--as", "ann", "customers", "list", "--filter", "vips") == []
    ok(store, "--as", "ann", "filters", "save", "mine", 'name ~ "jos"')
    shown = json.loads(
        ok(store, "--as", "ann", "filters", "show", "mine", "--format", "json").output
    )
    assert shown == {"name": "mine", "rule": 'name ~ "jos"', "owner": "ann", "shared": False}
    assert "mine" not in ok(store, "filters", "list").output
    result = run(store, "customers", "list", "--filter", "mine")
    assert result.exit_code == 1 and "no saved filter called 'mine'" in result.stderr
    result = run(store, "customers", "list", "--filter", "vips", "--where", "true")
    assert result.exit_code != 0 and "not both" in result.output
    ok(store, "--as", "ann", "filters", "delete", "mine")
    assert "mine" not in ok(store, "--as", "ann", "filters", "list").output


def test_hidden_contacts_and_folder_access(store: str) -> None:
    ok(store, "access", "set", "--hide-contacts")
    record = json.loads(ok(store, "--as", "ann", "customers", "list", "--format", "json").output)
    assert record[0]["phones"] == ["(hidden)"]
    assert "+1 415-555-0132" in ok(store, "customers", "list").output
    ok(store, "folders", "add", "Closed")
    assert (
        "in admin, manager; out anyone"
        in ok(store, "folders", "access", "Closed", "--enter", "admin", "--enter", "manager").output
    )
    result = run(store, "--as", "ann", "customers", "folder", "1", "Closed")
    assert result.exit_code == 1 and "into folder 'Closed'" in result.stderr


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_an_empty_or_blank_pipeline_user_is_an_error_not_the_system(store: str, value: str) -> None:
    env = {"PIPELINE_USER": value}
    for args in (["whoami"], ["customers", "list"], ["users", "add", "eve", "--role", "admin"]):
        result = CliRunner().invoke(cli, ["--store", store, *args], env=env)
        assert result.exit_code == 1, result.output
        assert result.stderr == "Error: a user needs a non-blank name\n"
    # The same refusal as --as "" gives; nothing was done as the system.
    as_blank = CliRunner().invoke(cli, ["--store", store, "--as", value, "whoami"])
    assert (as_blank.exit_code, as_blank.stderr) == (1, "Error: a user needs a non-blank name\n")
    assert "eve" not in ok(store, "users", "list").output
    # --as still wins over the variable, and help needs no actor.
    named = CliRunner().invoke(cli, ["--store", store, "--as", "ann", "whoami"], env=env)
    assert named.exit_code == 0 and named.output.startswith("ann")
    helped = CliRunner().invoke(cli, ["--store", store, "customers", "--help"], env=env)
    assert helped.exit_code == 0 and "Usage:" in helped.output
    unset = CliRunner().invoke(cli, ["--store", store, "whoami"], env={"PIPELINE_USER": None})
    assert unset.exit_code == 0 and unset.output.startswith("system")
