"""The project's own promises: README's commands and the CI script agree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_starts_with_the_demo_and_test_commands() -> None:
    demo, tests = readme_commands()
    assert "pip install" in demo and "pipeline demo" in demo
    assert "pip install" in tests and "pytest" in tests


def test_ci_runs_readmes_test_command_and_the_checks() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    _, tests = readme_commands()
    assert tests in script.splitlines()
    for check in ("ruff check", "ruff format --check", "mypy"):
        assert check in script
