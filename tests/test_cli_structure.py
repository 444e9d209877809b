"""The shape of the CLI: who imports whom, what ``pipeline --help`` imports, every command listed."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline_core.cli import COMMANDS, cli
from pipeline_core.commands import _common

COMMANDS_DIR = Path(_common.__file__).resolve().parent
PACKAGE = "pipeline_core.commands"

# The customers group attaches the commands of its sub-modules; no other module imports
# a command module but _common.
SUB_MODULES = {
    f"{PACKAGE}.customers": {
        f"{PACKAGE}.customers_life",
        f"{PACKAGE}.customers_duplicates",
        f"{PACKAGE}.customers_bulk",
    }
}

HEAVY = (
    "attrs",
    "cattrs",
    "tabulate",
    "phonenumbers",
    "psycopg",
    "openpyxl",
    "matplotlib",
    "sqlite3",
    "importlib.metadata",
    "pipeline_core.workspace",
    "pipeline_core.workspace.import_engine",
    "pipeline_core.storage",
    "pipeline_core.importing",
    "pipeline_core.render",
    "pipeline_core.rules",
    "pipeline_core.domain",
)

# What `pipeline --help` may import of ours.
HELP_IMPORTS = {
    "pipeline_core",
    "pipeline_core.__main__",
    "pipeline_core.cli",
    "pipeline_core.commands",
    "pipeline_core.commands._common",
    "pipeline_core.errors",
}

# Every command, by group ("" is the root), as it was before the CLI was cut into modules.
EVERY_COMMAND = {
    "": "access automations board columns customers deliveries demo fields filters flows folders "
    "init migrate move notes notifications records reminders reports rules settings statuses tasks "
    "teams time users whoami workers",
    "access": "set show",
    "automations": "add list remove run",
    "columns": "add list move recolour remove rename",
    "customers": "activity add children contact convert count deal dupes edit export folder "
    "follow-up follow-up-done import import-profiles list merge parent search show template "
    "timeline tree",
    "fields": "add add-option list remove rename-option",
    "filters": "delete list save show",
    "flows": "add explain hidden hide history list remove rename set-rule show unhide",
    "folders": "access add list remove",
    "notes": "add list",
    "records": "add define-kind export import kinds list set-state show",
    "reminders": "due run watch",
    "deliveries": "configure list retry run",
    "notifications": "list read",
    "reports": "alias aliases group list pipeline run save",
    "rules": "check sql",
    "settings": "duplicates set show",
    "statuses": "load show",
    "tasks": "add done list reopen tick",
    "teams": "add join leave list",
    "time": "list log summary",
    "users": "add list role",
    "workers": "assign customers unassign",
}


# imports ---------------------------------------------------------------------------


def imported_modules(source: str, module: str) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, wherever the import stands.

    Inside functions and under ``if TYPE_CHECKING:`` too; relative imports are resolved,
    and ``from package import name`` counts as importing ``package.name`` as well.
    """
    package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def command_modules() -> dict[str, str]:
    """The module name and source text of every module under pipeline_core/commands."""
    return {
        f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE: path.read_text(
            encoding="utf-8"
        )
        for path in sorted(COMMANDS_DIR.glob("*.py"))
    }


def test_the_import_reader_sees_imports_in_functions_and_under_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pipeline_core.cli import cli\n"
        "def f():\n"
        "    from .. import cli\n"
        "    import pipeline_core.commands.flows\n"
        "    from . import rules\n"
    )
    found = imported_modules(source, f"{PACKAGE}.sample")
    assert {"pipeline_core.cli", f"{PACKAGE}.flows", f"{PACKAGE}.rules"} <= found


def test_the_command_package_is_read() -> None:
    modules = command_modules()
    assert {f"{PACKAGE}._common", f"{PACKAGE}.customers", f"{PACKAGE}.toplevel"} <= set(modules)
    assert len(modules) > 20


@pytest.mark.parametrize("module", sorted(command_modules()))
def test_no_command_module_imports_the_cli(module: str) -> None:
    found = imported_modules(command_modules()[module], module)
    assert "pipeline_core.cli" not in found


@pytest.mark.parametrize("module", sorted(command_modules()))
def test_a_command_module_imports_no_other_command_module(module: str) -> None:
    found = imported_modules(command_modules()[module], module)
    # pipeline_core.commands.X, and pipeline_core.commands.X.name, are module X.
    siblings = {
        f"{PACKAGE}.{name.removeprefix(f'{PACKAGE}.').split('.')[0]}"
        for name in found
        if name.startswith(f"{PACKAGE}.")
    }
    allowed = {f"{PACKAGE}._common", *SUB_MODULES.get(module, set())}
    assert siblings <= allowed, f"{module} imports {sorted(siblings - allowed)}"


def test_common_imports_only_click_and_the_errors_at_its_top() -> None:
    # `pipeline --help` imports _common; the rest it needs is imported where it is used.
    tree = ast.parse(command_modules()[f"{PACKAGE}._common"])
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module)
    ours = {name for name in top if name.startswith("pipeline_core")}
    assert ours == {"pipeline_core.errors"}


# pipeline --help -------------------------------------------------------------------

_HELP_IN_A_FRESH_PROCESS = """
import json, runpy, sys
sys.argv = ["pipeline", "--help"]
try:
    runpy.run_module("pipeline_core", run_name="__main__")
except SystemExit as done:
    assert not done.code, done.code
sys.stderr.write(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def fresh_help() -> tuple[str, set[str]]:
    """What ``python -m pipeline_core --help`` prints, and the modules it imported."""
    result = subprocess.run(
        [sys.executable, "-c", _HELP_IN_A_FRESH_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    return result.stdout, set(json.loads(result.stderr))


@pytest.mark.parametrize("module", HEAVY)
def test_help_does_not_import(fresh_help: tuple[str, set[str]], module: str) -> None:
    _, imported = fresh_help
    assert module not in imported


def test_help_imports_no_command_module(fresh_help: tuple[str, set[str]]) -> None:
    _, imported = fresh_help
    ours = {name for name in imported if name.split(".")[0] == "pipeline_core"}
    assert ours <= HELP_IMPORTS, sorted(ours - HELP_IMPORTS)


def test_help_without_imports_is_the_help_with_every_command_loaded(
    fresh_help: tuple[str, set[str]],
) -> None:
    shown, _ = fresh_help
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        cli.get_command(ctx, name)  # loads it: the list below takes the command's own help
    assert set(cli.commands) == set(COMMANDS)
    # COLUMNS=80 makes click format at 78 columns.
    loaded = CliRunner().invoke(cli, ["--help"], prog_name="pipeline", terminal_width=78)
    assert loaded.exit_code == 0
    assert shown == loaded.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_lazy_entry_shows_the_short_help_of_its_command(name: str) -> None:
    entry = COMMANDS[name]
    command = entry.load()
    assert command.name == name
    for limit in range(20, 130, 7):
        shown = entry.stand_in(name).get_short_help_str(limit)
        assert shown == command.get_short_help_str(limit)


def test_the_written_out_defaults_match_the_library() -> None:
    from pipeline_core.domain.access import SYSTEM
    from pipeline_core.workspace.facade import DEFAULT_STORE_URL

    assert _common.DEFAULT_STORE_URL == DEFAULT_STORE_URL
    assert _common.SYSTEM == SYSTEM


# every command in the help of its group ------------------------------------------------


def listed_commands(help_text: str) -> list[str]:
    """The command names of the ``Commands:`` section of a help text."""
    section = help_text.partition("\nCommands:\n")[2]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


@pytest.mark.parametrize("group", sorted(EVERY_COMMAND))
def test_every_command_is_in_the_help_of_its_group(group: str) -> None:
    shown = CliRunner().invoke(cli, [*group.split(), "--help"], prog_name="pipeline")
    assert shown.exit_code == 0, shown.output
    assert listed_commands(shown.output) == sorted(EVERY_COMMAND[group].split())


@pytest.mark.parametrize(
    "path",
    [
        (group, name) if group else (name,)
        for group, names in EVERY_COMMAND.items()
        for name in names.split()
    ],
    ids=" ".join,
)
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(cli, [*path, "--help"], prog_name="pipeline")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"Usage: pipeline {' '.join(path)} ")


# pipeline board FLOW --format json ----------------------------------------------------

_BOARD_IN_A_FRESH_PROCESS = """
import json, runpy, sys
sys.argv = ["pipeline", "--store", sys.argv[1], "board", "Sales", "--format", "json"]
try:
    runpy.run_module("pipeline_core", run_name="__main__")
except SystemExit as done:
    assert not done.code, done.code
sys.stderr.write(json.dumps(sorted(sys.modules)))
"""

# What a board dump never needs: phone and email parsing, the file formats and the
# import engine's processes, the other engines' drivers, the tables.
BOARD_NEVER_IMPORTS = (
    "phonenumbers",
    "email_validator",
    "multiprocessing",
    "openpyxl",
    "psycopg",
    "tabulate",
    "pipeline_core.importing",
    "pipeline_core.workspace.import_engine",
    "pipeline_core.workspace.bulk",
)


@pytest.fixture(scope="module")
def fresh_board(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], set[str]]:
    """``pipeline board Sales --format json`` on a demo store, and the modules it imported."""
    url = f"sqlite:///{tmp_path_factory.mktemp('board') / 'demo.db'}"
    result = CliRunner().invoke(cli, ["--store", url, "demo"])
    assert result.exit_code == 0, result.output
    done = subprocess.run(
        [sys.executable, "-c", _BOARD_IN_A_FRESH_PROCESS, url],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), set(json.loads(done.stderr))


def test_the_board_dump_shows_the_flow(fresh_board: tuple[dict[str, object], set[str]]) -> None:
    board, _ = fresh_board
    assert board["flow"] == "Sales"


@pytest.mark.parametrize("module", BOARD_NEVER_IMPORTS)
def test_the_board_dump_does_not_import(
    fresh_board: tuple[dict[str, object], set[str]], module: str
) -> None:
    _, imported = fresh_board
    assert module not in imported
