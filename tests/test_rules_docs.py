"""The examples in docs/testing.md and docs/rules.md run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline_core.rules import parse, to_text

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(name: str, language: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_testing_guide_example_runs_and_its_properties_hold() -> None:
    namespace: dict[str, Any] = {}
    exec(_blocks("testing.md", "python")[0], namespace)
    tests = [value for key, value in namespace.items() if key.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()


def test_a_wrong_property_in_the_guide_style_fails() -> None:
    namespace: dict[str, Any] = {}
    exec(_blocks("testing.md", "python")[0], namespace)
    # Derandomized with room to search, so that finding a hot customer is not luck.
    code = (
        "from hypothesis import Phase, given, settings\n"
        "@settings(derandomize=True, max_examples=1000, database=None, phases=[Phase.generate])\n"
        "@given(customers())\n"
        "def wrong(customer):\n"
        "    assert not is_hot(customer)\n"
    )
    exec(code, namespace)
    with pytest.raises(AssertionError):
        namespace["wrong"]()


def test_every_example_rule_in_the_reference_parses_and_prints_back() -> None:
    examples = [line for line in _blocks("rules.md", "text")[0].splitlines() if line.strip()]
    assert len(examples) >= 8
    for example in examples:
        rule = parse(example)
        assert parse(to_text(rule)) == rule
