"""docs/json.md is the JSON contract, and it is checked against the real commands.

- Every command with a ``--format json`` option is in the docs' table, with the noun it
  prints and its shape (``object``: one thing; ``array``: several), and only those are.
- The schema blocks of docs/json.md are the ones ``render.schemas.json_schemas``
  generates from the record types (``python scripts/generate_json_schemas.py``).
- Each command, run through click's CliRunner against a SQLite store holding a bit of
  everything, prints JSON that satisfies the documented schema of its noun, in the
  documented shape; the JSON examples of the page satisfy their nouns' schemas too.
- New events carry the ids the store gave them: what ``notes add`` and ``customers
  activity`` print is what the timeline reads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from pipeline_core import Customer
from pipeline_core.cli import cli
from pipeline_core.render.schemas import NOUNS, json_schemas
from pipeline_core.render.shapes import Schema
from pipeline_core.workspace.facade import Workspace

from .conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "json.md"
SCRIPT = ROOT / "scripts" / "generate_json_schemas.py"


script = load_script(SCRIPT)
TEXT = DOCS.read_text(encoding="utf-8")
DEFS: dict[str, Schema] = script.schema_blocks(TEXT)


# the docs' table: command -> noun(s) and shape -------------------------------------------

ROW = re.compile(
    r"^\|\s*`pipeline (?P<command>[a-z -]+)`\s*\|(?P<nouns>[^|]+)\|\s*(?P<shape>\w+)\s*\|"
)
LINK = re.compile(r"\[(?P<text>[^\]]+)\]\([^)]*\)")


def documented() -> dict[str, tuple[tuple[str, ...], str]]:
    """The table of docs/json.md: each command's nouns (one, or alternatives) and shape."""
    table: dict[str, tuple[tuple[str, ...], str]] = {}
    for line in TEXT.splitlines():
        row = ROW.match(line)
        if row:
            command = row["command"].strip()
            assert command not in table, f"{command} is in the table twice"
            nouns = LINK.sub(lambda m: m["text"], row["nouns"]).strip()
            table[command] = (tuple(n.strip() for n in nouns.split(" or ")), row["shape"])
    return table


TABLE = documented()


def json_commands() -> set[str]:
    """Every command whose ``--format`` offers json."""

    def walk(command: click.Command, path: tuple[str, ...]) -> Iterator[str]:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk(sub, (*path, name))
            return
        for param in command.params:
            if isinstance(param, click.Option) and "--format" in param.opts:
                assert isinstance(param.type, click.Choice)
                if "json" in param.type.choices:
                    yield " ".join(path)

    return set(walk(cli, ()))


def test_every_command_with_json_output_is_in_the_table() -> None:
    commands = json_commands()
    assert sorted(commands - set(TABLE)) == [], "add these to the table of docs/json.md"
    assert sorted(set(TABLE) - commands) == [], "docs/json.md lists commands without JSON"


def test_the_table_names_documented_nouns_and_shapes() -> None:
    for command, (nouns, shape) in TABLE.items():
        assert shape in ("object", "array"), f"{command}: shape {shape!r}"
        for noun in nouns:
            assert noun in DEFS, f"{command}: no schema block for {noun!r} in docs/json.md"


# the schemas: generated, complete, and in the subset the validator below knows ------------


def test_the_schema_blocks_are_the_generated_ones() -> None:
    assert sorted(DEFS) == sorted(NOUNS), "one schema block per noun of render.schemas.NOUNS"
    assert json_schemas() == DEFS, (
        f"docs/json.md's schemas are out of date; regenerate them: {script.REGENERATE}"
    )
    assert script.rewrite(TEXT) == TEXT, f"regenerate the schema blocks: {script.REGENERATE}"


KEYWORDS = {
    "type",
    "enum",
    "format",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "items",
    "anyOf",
    "$ref",
}


def _keywords(schema: Schema) -> Iterator[str]:
    for key, value in schema.items():
        yield key
        if key in ("properties", "patternProperties"):
            for inner in value.values():
                yield from _keywords(inner)
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            yield from _keywords(value)
        elif key == "anyOf":
            for inner in value:
                yield from _keywords(inner)


def test_the_schemas_use_only_what_the_validator_checks() -> None:
    for noun, schema in DEFS.items():
        unknown = set(_keywords(schema)) - KEYWORDS
        assert not unknown, f"{noun}: {unknown}"


# a validator for that subset of JSON Schema ---------------------------------------------

TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _format_holds(name: str, text: str) -> bool:
    try:
        if name == "date-time":
            return datetime.fromisoformat(text).tzinfo is not None
        if name == "date":
            return len(text) == 10 and bool(date.fromisoformat(text))
        if name == "decimal":
            return Decimal(text).is_finite()
    except (ValueError, InvalidOperation):
        return False
    raise AssertionError(f"unknown format {name!r}")


def problems(value: Any, schema: Schema, where: str = "$") -> list[str]:
    """What is wrong with ``value`` under ``schema`` (refs resolved in the docs' schemas)."""
    if "$ref" in schema:
        return problems(value, DEFS[schema["$ref"].removeprefix("#/$defs/")], where)
    if "anyOf" in schema:
        options = [problems(value, option, where) for option in schema["anyOf"]]
        return [] if [] in options else [f"{where}: no option fits: {options}"]
    if "enum" in schema and not any(
        value == option and type(value) is type(option) for option in schema["enum"]
    ):
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(TYPES[kind](value) for kind in kinds):
            return [f"{where}: {value!r} is not {' or '.join(kinds)}"]
    found: list[str] = []
    if "format" in schema and isinstance(value, str) and not _format_holds(schema["format"], value):
        found.append(f"{where}: {value!r} is not in format {schema['format']}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{index}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties", True)
        found += [
            f"{where}: {key!r} is missing" for key in schema.get("required", ()) if key not in value
        ]
        for key, item in value.items():
            inner = f"{where}.{key}"
            if key in properties:
                found += problems(item, properties[key], inner)
            elif matching := [p for p in patterns if re.search(p, key)]:
                for pattern in matching:
                    found += problems(item, patterns[pattern], inner)
            elif extra is False:
                found.append(f"{where}: unknown key {key!r}")
            elif isinstance(extra, dict):
                found += problems(item, extra, inner)
    return found


def test_the_validator_catches_what_it_should(printed: dict[str, Any]) -> None:
    customer = {"$ref": "#/$defs/customer"}
    assert problems({"id": 1}, customer)  # keys missing
    good = printed["customers add"]
    assert problems(good, customer) == []
    assert problems({**good, "colour": "red"}, customer) == ["$: unknown key 'colour'"]
    assert problems({**good, "id": True}, customer) == ["$.id: True is not integer"]
    assert problems({**good, "value": "12,5"}, customer) == [
        "$.value: '12,5' is not in format decimal"
    ]
    assert problems({**good, "outcome": "maybe"}, customer)
    assert problems({**good, "fields": {"x": {"y": 1}}}, customer)


# the commands, run against one store with a bit of everything ----------------------------

SETUP: list[list[str]] = [
    ["init"],
    ["teams", "add", "North"],
    ["teams", "add", "South"],
    ["fields", "add", "plan", "select", "--option", "gold", "--option", "silver"],
    ["folders", "add", "Leads"],
    ["customers", "add", "Ada Lovelace", "--email", "ada@example.com", "--field", "plan=gold"],
    ["customers", "add", "Ada L.", "--email", "ADA@example.com", "--on-duplicate", "allow"],
    ["customers", "add", "Analytical Engines Ltd", "--source", "web"],
    ["flows", "add", "Sales", "--column", "New=Lead", "--column", "Talking=Prospect",
     "--column", "Won=Customer"],
    ["filters", "save", "vip", 'tags any ("VIP")', "--shared"],
    ["automations", "add", "tagger", "--on", "external", "--activity", "never",
     "--action", "add_tag=seen"],
    ["reports", "save", "funnel", "--flow", "Sales"],
    ["reports", "alias", "Web", "web", "WEB"],
    ["automations", "add", "tell", "--on", "status_changed", "--action", "notify=team:North",
     "--action", "webhook=http://127.0.0.1:9/hook", "--body", "$name moved"],
    ["flows", "hide", "Sales", "3"],
]  # fmt: skip
"""Plain commands that give the store something of every noun (their output is not checked)."""

RUNS: list[tuple[str, list[str]]] = [
    ("users add", ["bob", "--role", "manager", "--team", "North"]),
    ("users role", ["bob", "admin"]),
    ("teams join", ["South", "bob"]),
    ("teams leave", ["South", "bob"]),
    ("users list", []),
    ("teams list", []),
    ("customers add", ["Grace Hopper", "--email", "grace@example.com", "--phone",
                       "+1 415 555 0132", "--tag", "VIP", "--field", "plan=silver",
                       "--value", "1200.50", "--currency", "usd"]),
    ("customers show", ["1"]),
    ("customers list", []),
    ("customers search", ["ada"]),
    ("customers edit", ["1", "--add-tag", "Math"]),
    ("customers contact", ["1", "--notes", "called", "--channel", "phone"]),
    ("customers follow-up", ["1", "2026-01-02"]),
    ("reminders due", ["--at", "2099-01-01T00:00+00:00"]),
    ("reminders run", ["--at", "2099-01-01T00:00+00:00"]),
    ("customers follow-up-done", ["1"]),
    ("customers deal", ["1", "1500", "--currency", "GBP"]),
    ("customers convert", ["1", "ORD-1"]),
    ("customers parent", ["1", "3"]),
    ("customers children", ["3"]),
    ("customers tree", ["3"]),
    ("customers folder", ["4", "Leads"]),
    ("customers activity", ["1", "email_sent", "Sent brochure", "--ref", "mail:9"]),
    ("records add", ["1", "invoice", "INV-1", "--amount", "10.50", "--currency", "EUR",
                     "--due", "2026-02-01", "--data", "lines=3"]),
    ("records set-state", ["2", "overdue"]),  # record 1 is the order of customers convert
    ("records show", ["2"]),
    ("records list", []),
    ("records kinds", []),
    ("records define-kind", ["parcel", "--state", "posted", "--state", "delivered"]),
    ("records import", ["{tmp}/records.csv"]),
    ("notes add", ["1", "likes tea"]),
    ("notes list", ["1"]),
    ("customers timeline", ["1"]),
    ("tasks add", ["1", "Call back", "--due", "2020-01-01", "--step", "dial", "--step", "talk"]),
    ("tasks tick", ["1", "1"]),
    ("tasks done", ["1"]),
    ("tasks reopen", ["1"]),
    ("tasks list", []),
    ("time log", ["1", "eve", "25", "--note", "call"]),
    ("time list", []),
    ("time summary", []),
    ("workers assign", ["1", "eve"]),
    ("workers customers", ["eve"]),
    ("workers unassign", ["1", "eve"]),
    ("move", ["4", "Prospect"]),
    ("deliveries list", []),
    ("notifications list", []),
    ("board", ["Sales"]),
    ("flows list", []),
    ("flows show", ["Sales"]),
    ("flows explain", ["Sales", "1"]),
    ("flows set-rule", ["Sales", 'tags any ("VIP")', "--dry-run"]),
    ("flows history", ["Sales"]),
    ("flows hidden", ["Sales"]),
    ("columns list", ["Sales"]),
    ("statuses show", []),
    ("folders list", []),
    ("fields list", []),
    ("filters list", []),
    ("filters show", ["vip"]),
    ("automations list", []),
    ("settings show", []),
    ("settings duplicates", []),
    ("rules sql", ['tags any ("VIP") and field.plan = "gold"']),
    ("reports pipeline", ["Sales"]),
    ("reports group", ["--by", "status", "--sub", "source"]),
    ("reports list", []),
    ("reports run", ["funnel"]),
    ("reports aliases", []),
    ("customers dupes", []),
    ("customers merge", ["1", "2", "--dry-run"]),
    ("customers import", ["{tmp}/people.csv"]),
    ("customers export", []),
    ("migrate", ["--to", "sqlite:///{tmp}/copy.db"]),
]  # fmt: skip
"""Each command with JSON output once, in an order where each finds what it needs."""


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What each command of RUNS printed with ``--format json``, parsed."""
    tmp = tmp_path_factory.mktemp("json-shapes")
    (tmp / "people.csv").write_text("Name,Email,plan\nZed,zed@example.com,gold\n", "utf-8")
    (tmp / "records.csv").write_text(
        "customer_id,kind,ref,channel,address,at\n"
        "1,conversation,wa:1,whatsapp,+14155550132,2026-01-02T10:00:00+00:00\n",
        "utf-8",
    )
    store = ["--store", f"sqlite:///{tmp / 'shapes.db'}"]
    runner = CliRunner()
    for args in SETUP:
        result = runner.invoke(cli, [*store, *args])
        assert result.exit_code == 0, f"{args}: {result.output}{result.exception!r}"
    outputs: dict[str, Any] = {}
    for command, args in RUNS:
        words = [*command.split(), *(arg.format(tmp=tmp) for arg in args), "--format", "json"]
        result = runner.invoke(cli, [*store, *words])
        assert result.exit_code == 0, f"{words}: {result.output}{result.exception!r}"
        outputs[command] = json.loads(result.stdout)
    return outputs


def test_every_command_in_the_table_is_run() -> None:
    assert sorted(command for command, _ in RUNS) == sorted(TABLE)


@pytest.mark.parametrize("command", sorted(TABLE))
def test_the_output_has_its_documented_shape(command: str, printed: dict[str, Any]) -> None:
    nouns, shape = TABLE[command]
    output = printed[command]
    schema: Schema = {"anyOf": [{"$ref": f"#/$defs/{noun}"} for noun in nouns]}
    if shape == "array":
        assert isinstance(output, list), f"{command} prints {type(output).__name__}, not an array"
        assert output, f"{command}: the setup should give it something to list"
        items = output
    else:
        assert isinstance(output, dict), f"{command} prints {type(output).__name__}, not an object"
        items = [output]
    for item in items:
        assert problems(item, schema) == [], f"{command} {nouns}"


def test_new_events_print_the_ids_the_timeline_reads(printed: dict[str, Any]) -> None:
    note, activity = printed["notes add"], printed["customers activity"]
    timeline = {event["id"]: event for event in printed["customers timeline"]}
    assert note["id"] > 0 and activity["id"] > 0 and note["id"] != activity["id"]
    assert timeline[note["id"]] == note
    assert timeline[activity["id"]] == activity


def test_a_customer_prints_the_same_everywhere(printed: dict[str, Any]) -> None:
    # The customer object is one shape: in a view, a board, a tree, a cluster, a merge.
    ada = printed["customers convert"]
    assert printed["customers show"]["customer"]["id"] == 1
    for command in ("customers edit", "customers contact", "customers deal", "move"):
        assert set(printed[command]) == set(ada)
    assert set(printed["customers tree"]["customer"]) == set(ada)
    assert set(printed["customers merge"]["customer"]) == set(ada)
    assert all(set(c) == set(ada) for c in printed["customers dupes"][0]["customers"])


@pytest.mark.parametrize("backend", ["memory:", "sqlite"])
def test_the_library_returns_stored_events(backend: str, tmp_path: Path) -> None:
    url = backend if backend == "memory:" else f"sqlite:///{tmp_path / 'ids.db'}"
    with Workspace.open(url) as ws:
        customer = ws.customers.add(Customer(name="Ada"))
        note = ws.notes.add(customer.id, "likes tea")
        done = ws.customers.activity(customer.id, "email_sent", "Sent brochure")
        timeline = ws.customers.timeline(customer.id)
    assert note.id > 0 and done.id > note.id
    assert [e for e in timeline if e.id in (note.id, done.id)] == [note, done]


# the examples of the page ----------------------------------------------------------------

EXAMPLE = re.compile(
    r"^<!-- example: (?P<noun>[a-z ]+?)(?P<array> array)? -->\n+```json\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


def test_the_examples_satisfy_their_schemas() -> None:
    examples = list(EXAMPLE.finditer(TEXT))
    assert examples, "docs/json.md shows examples marked <!-- example: NOUN -->"
    for example in examples:
        value = json.loads(example["body"])
        items = value if example["array"] else [value]
        for item in items:
            schema = {"$ref": f"#/$defs/{example['noun']}"}
            assert problems(item, schema) == [], example["noun"]
