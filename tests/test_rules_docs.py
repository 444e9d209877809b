"""The examples in docs/testing.md and docs/rules.md run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from pipeline_core.rules import parse, to_text

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(name: str, language: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _guide() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(_blocks("testing.md", "python")[0], namespace)
    return namespace


def test_the_testing_guide_example_runs_and_its_properties_hold() -> None:
    namespace = _guide()
    tests = [value for key, value in namespace.items() if key.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()


# Hypothesis' own default budget (100 examples), not the suite's profile.
DEFAULT_BUDGET = settings.get_profile("default").max_examples

# The wrong property: "no customer is a hot lead". The strategies must find one.
WRONG = (
    "from hypothesis import Phase, given, seed, settings\n"
    "from pipeline_core.testing import customers, customers_for\n"
    "@settings({settings})\n"
    "@given({strategy})\n"
    "def wrong(customer):\n"
    "    assert not is_hot(customer)\n"
)
GUIDE_STRATEGIES = [
    "customers_for(HOT_LEADS, MY_WORDS)",  # what the guide uses
    "customers_for(HOT_LEADS)",  # no vocabulary: the rule's own words
    "customers(MY_WORDS)",  # no rule: the vocabulary alone
]


@pytest.mark.parametrize("strategy", GUIDE_STRATEGIES[:2])
def test_a_wrong_property_in_the_guide_style_fails(strategy: str) -> None:
    namespace = _guide()
    # The default budget (100 examples); derandomized so that CI sees the same run.
    options = f"derandomize=True, database=None, max_examples={DEFAULT_BUDGET}"
    exec(WRONG.format(settings=options, strategy=strategy), namespace)
    with pytest.raises(AssertionError):
        namespace["wrong"]()


@pytest.mark.parametrize("strategy", GUIDE_STRATEGIES)
def test_the_wrong_property_fails_within_the_default_budget_whatever_the_seed(
    strategy: str,
) -> None:
    # Not one lucky seed: ten of them, each failing within 100 examples (shrinking
    # skipped, it is not what is measured).
    for number in range(10):
        namespace = _guide()
        options = f"database=None, phases=[Phase.generate], max_examples={DEFAULT_BUDGET}"
        code = WRONG.format(settings=options, strategy=strategy)
        exec(code.replace("@given", f"@seed({number})\n@given"), namespace)
        with pytest.raises(AssertionError):
            namespace["wrong"]()


def test_the_guide_draws_its_rules_words_at_a_healthy_rate() -> None:
    seen: list[Any] = []
    namespace = {**_guide(), "seen": seen}
    code = (
        "from hypothesis import Phase, given, settings\n"
        "@settings(derandomize=True, database=None, phases=[Phase.generate], max_examples=100)\n"
        "@given(customers_for(HOT_LEADS, MY_WORDS))\n"
        "def record(customer):\n"
        "    seen.append(customer)\n"
    )
    exec(code, namespace)
    namespace["record"]()
    assert len(seen) == 100
    is_hot = namespace["is_hot"]
    hot = sum(1 for customer in seen if is_hot(customer))
    do_not_call = sum(1 for customer in seen if "Do not call" in customer.tags)
    vip_leads = sum(1 for c in seen if c.status == "Lead" and "VIP" in c.tags)
    # Measured: 46 hot, 11 "Do not call", 25 VIP leads in 100; the plain customers()
    # of the previous guide drew "Do not call" 0 times in 100, a hot lead 4 times.
    assert 25 <= hot <= 75
    assert do_not_call >= 8
    assert vip_leads >= 10


def test_every_example_rule_in_the_reference_parses_and_prints_back() -> None:
    examples = [line for line in _blocks("rules.md", "text")[0].splitlines() if line.strip()]
    assert len(examples) >= 8
    for example in examples:
        rule = parse(example)
        assert parse(to_text(rule)) == rule
