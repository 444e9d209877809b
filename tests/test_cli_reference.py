"""docs/cli.md is generated from the click commands; these tests keep it from drifting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline_core.cli import cli

from .conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "generate_cli_docs.py"


generator = load_script(SCRIPT)


def _every_command(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # Through list_commands and get_command: the root group imports its commands lazily.
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_every_command(command, (*prefix, name)))
    return paths


COMMANDS = _every_command(cli)


def test_docs_cli_md_is_up_to_date() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == generator.render(), (
        "docs/cli.md is out of date with the click commands; "
        "regenerate it with: python scripts/generate_cli_docs.py"
    )


def test_rendering_ignores_terminal_width_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    baseline = generator.render()
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("PIPELINE_STORE", "sqlite:////somewhere/else.db")
    assert generator.render() == baseline
    assert "somewhere" not in baseline


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_reference_shows_the_help_click_prints(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(
        cli,
        [*path, "--help"],
        prog_name="pipeline",
        terminal_width=generator.WIDTH,
        max_content_width=generator.WIDTH,
    )
    assert shown.exit_code == 0, shown.output
    reference = generator.render()
    section = f"## pipeline {' '.join(path)}\n\n```text\n{shown.output.rstrip()}\n```\n"
    assert section in reference


def test_reference_lists_every_command() -> None:
    reference = generator.render()
    headings = {line[3:] for line in reference.splitlines() if line.startswith("## pipeline")}
    assert headings == {"pipeline", *("pipeline " + " ".join(path) for path in COMMANDS)}


def test_check_mode_fails_and_names_the_command_on_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(generator.render().replace("Show one customer.", "Old text."))
    assert generator.main(["--check", "--output", str(stale)]) == 1
    assert "python scripts/generate_cli_docs.py" in capsys.readouterr().err


def test_check_mode_passes_after_writing(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "cli.md"
    assert generator.main(["--check", "--output", str(target)]) == 1
    assert generator.main(["--output", str(target)]) == 0
    assert generator.main(["--check", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == generator.render()


def test_script_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
