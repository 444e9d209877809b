"""The status machine: validation when built, allowed moves, files, and diagrams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import (
    InvalidStatusMachine,
    NotFound,
    Status,
    StatusMachine,
    TransitionNotAllowed,
    default_status_machine,
)
from pipeline_core.domain.serialization import converter
from pipeline_core.importing.machines import read_status_machine as load_status_machine
from pipeline_core.render.statuses import mermaid

DEFAULT_ALLOWED = {
    "Lead": {"Prospect", "Quoted", "Customer", "Inactive"},
    "Prospect": {"Quoted", "Customer", "Inactive"},
    "Quoted": {"Customer", "Inactive"},
    "Customer": {"Inactive"},
    "Inactive": {"Lead", "Prospect"},
}


def test_default_machine_is_the_lead_pipeline() -> None:
    machine = default_status_machine()
    assert machine.names == ("Lead", "Prospect", "Quoted", "Customer", "Inactive")
    assert machine.initial == "Lead"
    for source, targets in DEFAULT_ALLOWED.items():
        assert set(machine.allowed_from(source)) == targets


@given(st.sampled_from(list(DEFAULT_ALLOWED)), st.sampled_from(list(DEFAULT_ALLOWED)))
def test_check_allows_exactly_the_listed_moves(source: str, target: str) -> None:
    machine = default_status_machine()
    if source == target or target in DEFAULT_ALLOWED[source]:
        assert machine.check(source, target).name == target
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            machine.check(source, target)
        assert refused.value.current == source and refused.value.target == target
        assert set(refused.value.allowed) == DEFAULT_ALLOWED[source]
        assert source in str(refused.value) and target in str(refused.value)


def test_unknown_status_is_not_found() -> None:
    with pytest.raises(NotFound, match="Lead, Prospect"):
        default_status_machine().check("Lead", "Nope")


@pytest.mark.parametrize(
    ("statuses", "transitions", "message"),
    [
        (["A", "A"], {}, "repeat"),
        (["A", "B"], {"A": ["C"]}, "unknown status 'C'"),
        (["A", "B", "C"], {"A": ["B"]}, "reaches status\\(es\\): C"),
        ([], {}, "at least one"),
    ],
)
def test_invalid_machines_are_refused(
    statuses: list[str], transitions: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(InvalidStatusMachine, match=message):
        StatusMachine([Status(name) for name in statuses], transitions)


@st.composite
def machines(draw: st.DrawFn) -> StatusMachine:
    """Valid random machines: every status after the first is reached from an earlier one."""
    names = draw(
        st.lists(
            st.text(min_size=1, max_size=6).filter(str.strip),
            min_size=1,
            max_size=6,
            unique_by=str.strip,
        )
    )
    names = [name.strip() for name in names]
    transitions: dict[str, list[str]] = {}
    for index, name in enumerate(names[1:], start=1):
        source = names[draw(st.integers(0, index - 1))]
        transitions.setdefault(source, []).append(name)
    extra = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=5))
    for source, target in extra:
        if target not in transitions.setdefault(source, []):
            transitions[source].append(target)
    outcomes = draw(
        st.lists(st.sampled_from([None, "won", "lost"]), min_size=len(names), max_size=len(names))
    )
    return StatusMachine([Status(n, o) for n, o in zip(names, outcomes, strict=True)], transitions)


@given(machines())
def test_machines_round_trip_through_the_converter(machine: StatusMachine) -> None:
    data = json.loads(json.dumps(converter.unstructure(machine)))
    assert converter.structure(data, StatusMachine) == machine


@given(machines())
def test_mermaid_names_every_status_and_transition(machine: StatusMachine) -> None:
    text = mermaid(machine)
    edges = sum(len(machine.allowed_from(name)) for name in machine.names)
    assert text.count(" --> ") == edges + 1  # plus the initial arrow
    assert text.count("    state ") == len(machine.names)


def test_load_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "service.toml"
    toml.write_text(
        'initial = "Open"\n'
        '[[statuses]]\nname = "Open"\n'
        '[[statuses]]\nname = "Fixed"\noutcome = "won"\nactions = ["stamp_converted_at"]\n'
        '[transitions]\nOpen = ["Fixed"]\n',
        encoding="utf-8",
    )
    machine = load_status_machine(toml)
    assert machine.names == ("Open", "Fixed")
    assert machine.status("Fixed").outcome == "won"
    as_json = tmp_path / "service.json"
    as_json.write_text(json.dumps(converter.unstructure(machine)), encoding="utf-8")
    assert load_status_machine(as_json) == machine


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid json"),
        ('{"statuses": [{"name": "A"}], "transitions": {"A": ["B"]}}', "unknown status 'B'"),
        ('{"statuses": "A"}', "service.json"),
        (
            '{"statuses": [{"name": "A", "actions": ["explode"]}], "transitions": {}}',
            r"'explode' is not a valid EntryAction; known entry actions: stamp_converted_at",
        ),
        (
            '{"statuses": [{"name": "A", "outcome": "maybe"}], "transitions": {}}',
            r"outcome must be 'won' or 'lost', not 'maybe' \(at statuses\[0\]\)",
        ),
        ('{"statuses": [{"name": "A", "colour": "red"}], "transitions": {}}', "unknown status key"),
    ],
)
def test_bad_machine_files_name_the_file_and_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "service.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidStatusMachine, match=message):
        load_status_machine(path)


def test_missing_machine_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidStatusMachine, match="cannot read"):
        load_status_machine(tmp_path / "absent.toml")
