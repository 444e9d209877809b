"""Every example in README.md and docs/*.md runs as part of the suite.

The fenced code blocks of each markdown file are read in order; a test per block
(``README.md:2``: the file and the block's index among all its fenced blocks,
counting from 0) runs it. What runs:

- ```python blocks are executed, in order, in one namespace per markdown file (a
  later block uses the names an earlier one made), with a fresh temporary directory
  of that file as the current directory, so ``sqlite:///crm.db`` is a new file there.
- ```sh, ```bash, ```shell and ```console blocks: each line that starts with
  ``pipeline `` or ``$ pipeline `` is run through click's CliRunner against
  ``pipeline_core.cli:cli``, in order, with ``PIPELINE_STORE`` naming a new SQLite
  store per markdown file (``sqlite:///<tmp>/docs.db``, which does not exist yet: as
  on a reader's machine, the file's first commands must create it with ``pipeline
  init`` or ``pipeline demo``; a ``--store`` written in the line wins) and
  ``PIPELINE_USER`` unset. Each must exit with status 0; in a block
  marked ``<!-- expect-error -->`` each must exit with status 1 and a PipelineError
  (the ``Error: ...`` line), not a usage error (2) or a crash.
  A line ending with ``\\`` continues on the next one; a ``# comment`` is dropped; at
  the first shell operator (``|``, ``||``, ``&&``, ``;``, ``>``, ``<``, ``&``...) the
  rest of the line is dropped: the pipeline command before it runs, the redirect,
  pipe or ``|| echo`` after it does not.

What does not run:

- the other lines of a shell block: installation (``python3 -m venv``, ``pip``),
  ``export``, ``.venv/bin/pipeline``, ``.venv/bin/python benchmarks/...``, ``git``,
  a ``pipeline`` command inside ``$(...)`` or after ``if`` (the line does not start
  with it), and the output lines of a console block; a shell block with no
  ``pipeline`` line has no test;
- blocks in any other language: ```text, ```json, ```toml, ```ebnf... are output
  samples, file contents and grammar. One whose first line is ``# file: NAME`` is
  written, without that line (JSON has no comments), when the blocks before it have
  run, to NAME in the file's directory, so that a later command can read it
  (docs/status-machines.md's support.toml, docs/automation.md's paid.json). The
  rule examples of docs/rules.md's ```text block are parsed by
  tests/test_rules_docs.py, which also runs the properties that docs/testing.md's
  first ```python block defines (here that block only runs, defining them);
- a block preceded by ``<!-- not-run: reason -->`` (blank lines may come between),
  which must give its reason.

A new fence language must be added to PYTHON, SHELL or SHOWN below, so that no
example is skipped by accident.
"""

from __future__ import annotations

import re
import shlex
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

PYTHON = frozenset({"python", "py"})
SHELL = frozenset({"sh", "bash", "shell", "console"})
SHOWN = frozenset({"text", "json", "toml", "ebnf", "csv", "yaml", "diff", "mermaid", "ini"})

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|expect-error)\b\s*:?\s*(?P<reason>.*?)\s*-->\s*$")
OPERATOR = re.compile(r"^[|&;<>()]+$")
FILE_NAME = re.compile(r"^\s*#\s*file:\s*(?P<name>[\w.-]+)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a markdown file."""

    file: str  # relative to the repository
    index: int  # among all the fenced blocks of the file, from 0
    line: int  # of the opening fence, from 1
    language: str
    code: str
    not_run: str | None = None  # the reason given by <!-- not-run: reason -->
    expect_error: bool = False

    @property
    def name(self) -> str:
        """``docs/quickstart.md:3``."""
        return f"{self.file}:{self.index}"

    @property
    def commands(self) -> list[list[str]]:
        """The arguments of each ``pipeline`` command of a shell block, in order."""
        return [words for line in _logical_lines(self.code) if (words := pipeline_words(line))]

    @property
    def writes(self) -> str | None:
        """The file a shown block holds (its first line is ``# file: NAME``), if any."""
        first = FILE_NAME.match(self.code.split("\n", 1)[0])
        return first["name"] if first and self.language in SHOWN else None

    @property
    def runs(self) -> bool:
        """Whether the suite runs this block."""
        if self.not_run is not None:
            return False
        return self.language in PYTHON or (self.language in SHELL and bool(self.commands))


@dataclass(frozen=True)
class Marker:
    """A not-run or expect-error comment, and the line it is on."""

    kind: str
    reason: str
    line: int


def read_blocks(text: str, file: str) -> tuple[list[Block], list[Marker]]:
    """The fenced blocks of a markdown text, and the markers that no block follows."""
    blocks: list[Block] = []
    orphans: list[Marker] = []
    pending: list[Marker] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        marker = MARKER.match(line)
        if marker:
            pending.append(Marker(marker["kind"], marker["reason"], number))
            continue
        opening = FENCE.match(line)
        if not opening:
            if line.strip():
                orphans += pending
                pending = []
            continue
        start, indent, fence = number, len(opening["indent"]), opening["fence"]
        code: list[str] = []
        while number < len(lines):
            inner = lines[number]
            number += 1
            stripped = inner.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                break
            code.append(inner[min(indent, len(inner) - len(inner.lstrip())) :])
        not_run = next((m.reason for m in pending if m.kind == "not-run"), None)
        blocks.append(
            Block(
                file=file,
                index=len(blocks),
                line=start,
                language=opening["info"].lower(),
                code="\n".join(code) + "\n",
                not_run=not_run,
                expect_error=any(m.kind == "expect-error" for m in pending),
            )
        )
        pending = []
    return blocks, orphans + pending


def _logical_lines(code: str) -> Iterator[str]:
    """The lines of a shell block, a line ending with a backslash joined to the next."""
    joined = ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            joined += line.rstrip()[:-1] + " "
            continue
        yield joined + line
        joined = ""
    if joined:
        yield joined


def _without_comment(line: str) -> str:
    """The line up to a ``#`` that starts a word outside quotes."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position]
    return line


def pipeline_words(line: str) -> list[str] | None:
    """The arguments after ``pipeline`` on a command line, or None for any other line."""
    text = line.strip()
    if text.startswith("$ "):
        text = text[2:].lstrip()
    if not text.startswith("pipeline "):
        return None
    lexer = shlex.shlex(_without_comment(text), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    for word in lexer:
        if OPERATOR.match(word):
            break
        words.append(word)
    return words[1:]


def all_blocks() -> list[Block]:
    """Every fenced block of README.md and docs/*.md."""
    found: list[Block] = []
    for path in MARKDOWN:
        found += read_blocks(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())[0]
    return found


BLOCKS = all_blocks()


@dataclass
class FileRun:
    """What the blocks of one markdown file share: a directory, a namespace, a store."""

    directory: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)  # block index -> why it failed
    done: set[int] = field(default_factory=set)

    @property
    def store(self) -> str:
        return f"sqlite:///{self.directory / 'docs.db'}"


_RUNS: dict[str, FileRun] = {}


def _run_python(block: Block, run: FileRun) -> str | None:
    filename = f"<{block.name}>"
    try:
        exec(compile(block.code, filename, "exec"), run.namespace)
    except Exception as error:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
        lines = block.code.splitlines()
        number = frames[-1].lineno if frames else getattr(error, "lineno", None)
        where = f" at `{lines[number - 1].strip()}`" if number and number <= len(lines) else ""
        return f"{type(error).__name__}: {error}{where}"
    return None


def _write_file(block: Block, run: FileRun) -> str | None:
    assert block.writes is not None
    content = block.code.split("\n", 1)[1]  # without its ``# file: NAME`` line
    (run.directory / block.writes).write_text(content, encoding="utf-8")
    return None


def _run_shell(block: Block, run: FileRun) -> str | None:
    from click.testing import CliRunner

    from pipeline_core.cli import cli  # imported here: the CLI's modules are moving

    runner = CliRunner()
    env: dict[str, str | None] = {"PIPELINE_STORE": run.store, "PIPELINE_USER": None}
    for words in block.commands:
        shown = "pipeline " + shlex.join(words)
        result = runner.invoke(cli, words, env=env)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if crashed:
            return f"`{shown}` crashed: {type(result.exception).__name__}: {result.exception}"
        if block.expect_error and result.exit_code != 1:
            return f"`{shown}` was expected to fail with status 1, got {result.exit_code}:\n{result.output}"
        if not block.expect_error and result.exit_code != 0:
            return f"`{shown}` exited with status {result.exit_code}:\n{result.output}"
    return None


def _run(block: Block, run: FileRun) -> None:
    if block.index in run.done:
        return
    run.done.add(block.index)
    runner: Callable[[Block, FileRun], str | None] = (
        _write_file if block.writes else _run_python if block.language in PYTHON else _run_shell
    )
    failure = runner(block, run)
    if failure is not None:
        run.failures[block.index] = failure


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.runs], ids=lambda b: b.name)
def test_the_example_runs(
    block: Block, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _RUNS.get(block.file)
    if run is None:
        run = _RUNS[block.file] = FileRun(tmp_path_factory.mktemp("docs"))
    monkeypatch.chdir(run.directory)
    for earlier in BLOCKS:
        if (
            earlier.file == block.file
            and earlier.index < block.index
            and (earlier.runs or earlier.writes)
        ):
            _run(earlier, run)
    _run(block, run)
    if block.index in run.failures:
        before = sorted(index for index in run.failures if index < block.index)
        note = f"\n(earlier blocks of the file failed too: {before})" if before else ""
        pytest.fail(
            f"{block.name} (line {block.line}, {block.language}) fails: "
            f"{run.failures[block.index]}{note}",
            pytrace=False,
        )


def test_every_opt_out_gives_its_reason_and_precedes_a_block() -> None:
    problems: list[str] = []
    for path in MARKDOWN:
        name = path.relative_to(ROOT).as_posix()
        blocks, orphans = read_blocks(path.read_text(encoding="utf-8"), name)
        problems += [
            f"{name}:{o.line}: <!-- {o.kind} --> is not followed by a block" for o in orphans
        ]
        problems += [
            f"{b.name} (line {b.line}): not-run without a reason" for b in blocks if b.not_run == ""
        ]
    assert not problems, "\n".join(problems)


def test_every_block_has_a_language_the_suite_knows() -> None:
    unknown = [
        f"{b.name} (line {b.line}): ```{b.language}"
        for b in BLOCKS
        if b.language not in PYTHON | SHELL | SHOWN
    ]
    assert not unknown, (
        "blocks in a language that is neither run nor declared as shown only "
        "(add it to PYTHON, SHELL or SHOWN in tests/test_docs_examples.py):\n" + "\n".join(unknown)
    )


SAMPLE = """\
# Sample

```python
x = 1
```

<!-- not-run: needs a PostgreSQL server -->

```sh
pipeline --store postgresql://db/crm migrate
```

```console
$ pipeline teams add North   # a comment
Added team 'North'
$ pip install pipeline_core
$ pipeline customers add "Ada" --colour '#10b981' \\
    --tag VIP > /dev/null
```

<!-- expect-error -->
```sh
pipeline move 1 Lead || echo "exit status $?"
```

```text
pipeline board Sales
```

```json
{"id": 1}
```

```toml
# file: machine.toml
initial = "New"
```

- a list item:

  ```sh
  pipeline board Sales --format json | jq .
  ```

<!-- not-run -->
```python
y = 2
```

<!-- not-run: a marker with no block after it -->
Some text.
"""


def test_the_reader_runs_code_and_commands_and_never_output_samples() -> None:
    blocks, orphans = read_blocks(SAMPLE, "sample.md")
    assert [(b.index, b.language, b.line) for b in blocks] == [
        (0, "python", 3),
        (1, "sh", 9),
        (2, "console", 13),
        (3, "sh", 22),
        (4, "text", 26),
        (5, "json", 30),
        (6, "toml", 34),
        (7, "sh", 41),
        (8, "python", 46),
    ]
    assert [b.index for b in blocks if b.runs] == [0, 2, 3, 7]
    assert [(b.index, b.writes) for b in blocks if b.writes] == [(6, "machine.toml")]
    assert blocks[1].not_run == "needs a PostgreSQL server"
    assert blocks[8].not_run == ""
    assert blocks[3].expect_error and not blocks[2].expect_error
    assert blocks[2].commands == [
        ["teams", "add", "North"],
        ["customers", "add", "Ada", "--colour", "#10b981", "--tag", "VIP"],
    ]
    assert blocks[3].commands == [["move", "1", "Lead"]]
    assert blocks[7].commands == [["board", "Sales", "--format", "json"]]
    assert blocks[7].code == "pipeline board Sales --format json | jq .\n"
    assert [(o.kind, o.reason) for o in orphans] == [("not-run", "a marker with no block after it")]


def test_a_file_block_is_written_without_its_name_line(tmp_path: Path) -> None:
    blocks, _ = read_blocks('```json\n# file: paid.json\n{"name": "paid"}\n```\n', "sample.md")
    assert blocks[0].writes == "paid.json" and not blocks[0].runs
    _write_file(blocks[0], FileRun(tmp_path))
    assert (tmp_path / "paid.json").read_text(encoding="utf-8") == '{"name": "paid"}\n'
