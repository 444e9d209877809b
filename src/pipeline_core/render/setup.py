"""Rendering what sets a workspace up: flows and columns, users and teams, saved filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline_core.domain.access import User
from pipeline_core.domain.flows import FlowDefinition
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.domain.serialization import converter
from pipeline_core.render.common import (
    Format,
    json_text,
    key_value_table,
    records_csv,
    records_output,
    records_table,
)
from pipeline_core.render.shapes import TeamRecord

COLUMN_COLUMNS = ("position", "name", "status", "colour")


def unstructured(value: object) -> dict[str, Any]:
    """An attrs object of the domain as its JSON object (``converter.unstructure``)."""
    record: dict[str, Any] = converter.unstructure(value)
    return record


def flows_output(flows: Sequence[FlowDefinition], fmt: Format) -> str:
    """Flows: JSON flow objects, or one row per flow with its column names and rule."""
    records = [unstructured(flow) for flow in flows]
    rows = [
        {"name": r["name"], "columns": [c["name"] for c in r["columns"]], "rule": r["rule"]}
        for r in records
    ]
    return (
        json_text(records)
        if fmt == "json"
        else records_output(rows, ("name", "columns", "rule"), fmt)
    )


def flow_output(flow: FlowDefinition, fmt: Format) -> str:
    """One flow: its JSON object, or its name and rule over a table (or CSV) of its columns."""
    record = unstructured(flow)
    if fmt == "json":
        return json_text(record)
    if fmt == "csv":
        return records_csv(record["columns"], COLUMN_COLUMNS)
    heading = f"Flow {flow.name}\nRule: {record['rule']}\n"
    return heading + records_table(record["columns"], COLUMN_COLUMNS)


def columns_output(flow: FlowDefinition, fmt: Format) -> str:
    """A flow's columns in position order."""
    return records_output(unstructured(flow)["columns"], COLUMN_COLUMNS, fmt)


USER_COLUMNS = ("name", "role", "teams")


def user_record(user: User) -> dict[str, Any]:
    """A user as its JSON object: name, role and teams (an array)."""
    return unstructured(user)


def _user_row(user: User) -> dict[str, object]:
    return {"name": user.name, "role": user.role, "teams": ", ".join(user.teams)}


def users_output(users: Sequence[User], fmt: Format) -> str:
    """Users: JSON user objects, or a table (or CSV) with the teams joined by commas."""
    if fmt == "json":
        return json_text([user_record(user) for user in users])
    return records_output([_user_row(user) for user in users], USER_COLUMNS, fmt, none="(none)\n")


def user_output(user: User, fmt: Format, sentence: str) -> str:
    """A user just added or changed: its JSON object, or ``sentence`` saying what happened."""
    return json_text(user_record(user)) if fmt == "json" else sentence + "\n"


def team_records(teams: Sequence[str], users: Sequence[User]) -> list[TeamRecord]:
    """Each team with the names of its members."""
    return [
        {"team": team, "members": [user.name for user in users if team in user.teams]}
        for team in teams
    ]


def teams_output(teams: Sequence[str], users: Sequence[User], fmt: Format) -> str:
    """Teams: JSON team objects, or a table (or CSV) with the members joined by commas."""
    records = team_records(teams, users)
    if fmt == "json":
        return json_text(records)
    rows = [{"team": r["team"], "members": ", ".join(r["members"])} for r in records]
    return records_output(rows, ("team", "members"), fmt, none="(none)\n")


FILTER_COLUMNS = ("name", "rule", "owner", "shared")


def filters_output(filters: Sequence[SavedFilter], fmt: Format) -> str:
    """Saved filters."""
    records = [unstructured(saved) for saved in filters]
    return records_output(records, FILTER_COLUMNS, fmt, none="(none)\n")


def filter_output(saved: SavedFilter, fmt: Format) -> str:
    """One saved filter: its JSON object or a table of its keys."""
    record = unstructured(saved)
    return json_text(record) if fmt == "json" else key_value_table(record)


def settings_output(settings: object, fmt: Format) -> str:
    """Settings (an attrs object): its JSON object, or one ``key: value`` line per setting."""
    record = unstructured(settings)
    if fmt == "json":
        return json_text(record)
    shown = {None: "", True: "true", False: "false"}
    lines = []
    for key, value in record.items():
        if isinstance(value, list):
            text = ", ".join(value)
        elif isinstance(value, bool) or value is None:
            text = shown[value]
        else:
            text = str(value)
        lines.append(f"{key}: {text}\n")
    return "".join(lines)
