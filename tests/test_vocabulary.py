"""docs/vocabulary.md maps every command to its library call, and both sides exist.

The tables of docs/vocabulary.md are read as data:

- the table with a ``Command`` column has one row per command of ``pipeline``: each
  ``pipeline ...`` code span in that cell names a command (its group and command
  words, then arguments and options, which must be options of that command), every
  span of a row names the same command, and every command of the click tree (walked
  with ``list_commands``/``get_command``, since the root group is lazy) has exactly
  one row;
- every code span in a ``Library call`` column, in any table, is a call
  (``ws.customers.add(customer, on_duplicate=None)``,
  ``Workspace.open(url)``, ``pipeline_core.workspace.demo.create_demo(ws)``) that
  resolves on a real ``Workspace`` (opened on ``memory:``), on the ``Workspace``
  class, or to an importable function, is callable, and accepts the arguments shown
  (the arguments are bound to its signature, never evaluated).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from pipeline_core import Workspace
from pipeline_core.cli import cli

VOCABULARY = Path(__file__).resolve().parent.parent / "docs" / "vocabulary.md"
CODE = re.compile(r"`([^`]+)`")
SEPARATOR = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")

Words = tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One row of a markdown table: its line (from 1) and its cells by column name."""

    line: int
    cells: dict[str, str]

    def spans(self, column: str) -> list[str]:
        """The code spans of a cell (none if the table has no such column)."""
        return CODE.findall(self.cells.get(column, ""))


def _cells(line: str) -> list[str]:
    # Split on the pipes outside code spans; the outer pipes start and end the row.
    cells, current, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    return [*cells, current.strip()]


def read_tables(text: str) -> list[list[Row]]:
    """The tables of a markdown text: each a list of rows keyed by the header's names."""
    tables: list[list[Row]] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines) - 1:
        if lines[number].startswith("|") and SEPARATOR.match(lines[number + 1]):
            header = _cells(lines[number])
            rows: list[Row] = []
            number += 2
            while number < len(lines) and lines[number].startswith("|"):
                rows.append(Row(number + 1, dict(zip(header, _cells(lines[number]), strict=True))))
                number += 1
            tables.append(rows)
        else:
            number += 1
    return tables


def cli_commands() -> dict[Words, click.Command]:
    """Every command of the ``pipeline`` tree (not the groups), by its words."""
    found: dict[Words, click.Command] = {}

    def walk(group: click.Group, path: Words, ctx: click.Context) -> None:
        for name in group.list_commands(ctx):
            command, words = group.get_command(ctx, name), (*path, name)
            assert command is not None, f"{' '.join(words)} is listed but not found"
            if isinstance(command, click.Group):
                walk(command, words, click.Context(command, parent=ctx, info_name=name))
            else:
                found[words] = command

    walk(cli, (), click.Context(cli, info_name="pipeline"))
    return found


def _options(command: click.Command) -> set[str]:
    return {
        option
        for param in command.params
        if isinstance(param, click.Option)
        for option in (*param.opts, *param.secondary_opts)
    }


def command_problems(rows: list[Row], commands: dict[Words, click.Command]) -> list[str]:
    """What is wrong with the ``Command`` column: unknown commands, options, missing rows."""
    problems: list[str] = []
    named: Counter[Words] = Counter()
    for row in rows:
        paths: set[Words] = set()
        spans = row.spans("Command")
        if not spans:
            problems.append(f"line {row.line}: no `pipeline ...` command")
        for span in spans:
            words = shlex.split(span)
            if words[:1] != ["pipeline"]:
                problems.append(f"line {row.line}: `{span}` does not start with 'pipeline'")
                continue
            length = next(
                (n for n in range(len(words), 1, -1) if tuple(words[1:n]) in commands), None
            )
            if length is None:
                problems.append(f"line {row.line}: `{span}` names no command of pipeline")
                continue
            path = tuple(words[1:length])
            paths.add(path)
            unknown = [
                word
                for word in words[length:]
                if word.startswith("-") and word.split("=")[0] not in _options(commands[path])
            ]
            if unknown:
                problems.append(f"line {row.line}: `{span}`: no option {', '.join(unknown)}")
        if len(paths) > 1:
            names = ", ".join(" ".join(path) for path in sorted(paths))
            problems.append(f"line {row.line}: one row names several commands: {names}")
        named.update(paths)
    for path in sorted(commands):
        if named[path] == 0:
            problems.append(f"no row for `pipeline {' '.join(path)}`")
        elif named[path] > 1:
            problems.append(f"{named[path]} rows for `pipeline {' '.join(path)}`")
    return problems


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else [*inner, node.attr]
    return None


def _target(names: list[str], ws: Workspace) -> object:
    """What a dotted name means: an attribute path on ``ws``, on ``Workspace``, or a module."""
    if names[0] == "ws":
        found: object = ws
        rest = names[1:]
    elif names[0] == "Workspace":
        found, rest = Workspace, names[1:]
    elif names[0] == "pipeline_core":
        for split in range(len(names), 0, -1):
            try:
                found = importlib.import_module(".".join(names[:split]))
            except ImportError:
                continue
            rest = names[split:]
            break
        else:
            raise AttributeError(f"no module {names[0]}")
    else:
        raise AttributeError(f"{names[0]!r} is not ws, Workspace or pipeline_core")
    for name in rest:
        found = getattr(found, name)
    return found


def call_problems(span: str, ws: Workspace) -> list[str]:
    """Why a ``Library call`` span is not a call that resolves and takes its arguments."""
    try:
        call = ast.parse(span, mode="eval").body
    except SyntaxError as error:
        return [f"`{span}` is not a Python call: {error.msg}"]
    if not isinstance(call, ast.Call):
        return [f"`{span}` is not a call"]
    names = _dotted(call.func)
    if names is None:
        return [f"`{span}` does not call a dotted name"]
    try:
        target = _target(names, ws)
    except AttributeError as error:
        return [f"`{span}` does not resolve: {error}"]
    if not callable(target):
        return [f"`{span}`: {'.'.join(names)} is not callable"]
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
        keyword.arg is None for keyword in call.keywords
    ):
        return [f"`{span}`: spell the arguments out (no * or **)"]
    try:
        inspect.signature(target).bind(
            *call.args, **{keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}
        )
    except TypeError as error:
        return [f"`{span}` does not fit {'.'.join(names)}{inspect.signature(target)}: {error}"]
    return []


def vocabulary_tables() -> list[list[Row]]:
    return read_tables(VOCABULARY.read_text(encoding="utf-8"))


def command_rows(tables: list[list[Row]]) -> list[Row]:
    """The rows of the table with a ``Command`` column (there must be exactly one)."""
    with_commands = [rows for rows in tables if rows and "Command" in rows[0].cells]
    assert len(with_commands) == 1, "docs/vocabulary.md needs one table with a Command column"
    return with_commands[0]


def library_spans(tables: list[list[Row]]) -> Iterator[tuple[int, str]]:
    """Every code span of a ``Library call`` cell, with its line."""
    for rows in tables:
        for row in rows:
            for span in row.spans("Library call"):
                yield row.line, span


@pytest.fixture(scope="module")
def ws() -> Iterator[Workspace]:
    with Workspace.open("memory:") as workspace:
        yield workspace


def test_every_command_has_exactly_one_row() -> None:
    problems = command_problems(command_rows(vocabulary_tables()), cli_commands())
    assert not problems, "docs/vocabulary.md:\n" + "\n".join(problems)


def test_every_library_call_resolves_on_a_real_workspace(ws: Workspace) -> None:
    spans = list(library_spans(vocabulary_tables()))
    assert len(spans) >= len(cli_commands())
    problems = [
        f"line {line}: {problem}" for line, span in spans for problem in call_problems(span, ws)
    ]
    assert not problems, "docs/vocabulary.md:\n" + "\n".join(problems)


def test_a_missing_row_a_stray_command_and_a_wrong_call_are_caught(ws: Workspace) -> None:
    commands = cli_commands()
    rows = [Row(n, {"Command": f"`pipeline {' '.join(path)}`"}) for n, path in enumerate(commands)]
    assert command_problems(rows, commands) == []
    without_move = [row for row in rows if row.cells["Command"] != "`pipeline move`"]
    assert len(without_move) == len(rows) - 1
    assert command_problems(without_move, commands) == ["no row for `pipeline move`"]
    stray = Row(1, {"Command": "`pipeline customers frobnicate ID`"})
    assert "names no command" in command_problems([*rows, stray], commands)[0]
    again = Row(2, {"Command": "`pipeline board FLOW --colour C`"})
    assert command_problems([*rows, again], commands) == [
        "line 2: `pipeline board FLOW --colour C`: no option --colour",
        "2 rows for `pipeline board`",
    ]
    assert call_problems("ws.customers.move(id, status)", ws) == []
    assert "does not resolve" in call_problems("ws.customers.frobnicate(id)", ws)[0]
    assert "does not fit" in call_problems("ws.customers.move(id)", ws)[0]
    assert "does not fit" in call_problems("ws.teams.join(team, user, role=role)", ws)[0]
    assert "not callable" in call_problems("ws.store.url()", ws)[0]


def test_the_reader_reads_cells_by_column_and_keeps_pipes_in_code() -> None:
    text = "Intro\n\n| Command | Library call |\n| --- | ---: |\n| `a|b` | `ws.x()`, `ws.y()` |\n\nEnd\n"
    (table,) = read_tables(text)
    assert table == [Row(5, {"Command": "`a|b`", "Library call": "`ws.x()`, `ws.y()`"})]
    assert table[0].spans("Library call") == ["ws.x()", "ws.y()"]
