"""The project's own promises: README's commands and the CI script agree."""

from __future__ import annotations

import re
import tomllib
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


def distribution_name() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    name: str = data["project"]["name"]
    return name


def test_every_install_command_names_our_own_distribution() -> None:
    # 'pipeline_core' and 'pipeline-core' on the package index are another project.
    name = distribution_name()
    assert name not in ("pipeline_core", "pipeline-core")
    wrong = []
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*.py")]
    for path in files:
        for match in re.finditer(r"pip install '?([A-Za-z0-9_.\-]+)", path.read_text("utf-8")):
            if match.group(1) not in (name, "-e", "-q", "--upgrade"):
                wrong.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert wrong == []


def test_the_version_is_read_from_our_distribution() -> None:
    import pipeline_core

    assert f'version("{distribution_name()}")' in (
        ROOT / "src/pipeline_core/__init__.py"
    ).read_text("utf-8")
    assert pipeline_core.__version__ != "0.0.0"
