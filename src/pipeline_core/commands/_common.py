"""What the command modules share: the context object, error handling, options and parsers.

``pipeline --help`` imports this module, so it imports only click and the standard
library at its top; whatever needs more imports it inside the function that uses it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

import click

from pipeline_core.errors import InvalidValue, PipelineError, RuleSyntaxError

if TYPE_CHECKING:
    from pipeline_core.rules.ast import Rule
    from pipeline_core.workspace.facade import Workspace

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

DEFAULT_STORE_URL: Final = "sqlite:///pipeline.db"
"""``pipeline_core.workspace.facade.DEFAULT_STORE_URL``, written out so that ``pipeline --help``
does not import the workspace; tests/test_cli_structure.py checks that the two agree."""

SYSTEM: Final = "system"
"""``pipeline_core.domain.access.SYSTEM`` (the actor when none is given), likewise."""


class AppContext:
    """The CLI's context object: the store URL, the actor, and the workspace, opened on first use."""

    def __init__(self, store_url: str, actor: str = SYSTEM) -> None:
        self.store_url = store_url
        self.actor = actor
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        """The open workspace (opened, and closed with the command, on first use).

        A store that does not exist is an error: a mistyped ``--store`` must not
        quietly make an empty one. Only ``init`` and ``demo`` create (``open_workspace``).
        """
        return self.open_workspace(create=False)

    def open_workspace(self, *, create: bool) -> Workspace:
        """The workspace, opened on first use; ``create``: make the store if it does not exist."""
        if self._workspace is None:
            from pipeline_core.workspace.facade import Workspace

            self._workspace = Workspace.open(self.store_url, actor=self.actor, create=create)
            click.get_current_context().call_on_close(self._workspace.close)
        return self._workspace


pass_app = click.make_pass_decorator(AppContext)


class PipelineGroup(click.Group):
    """A group that turns library errors into one ``Error: ...`` line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RuleSyntaxError as error:
            pointer = error.pointer()
            shown = "".join(f"\n  {line}" for line in pointer.split("\n")) if pointer else ""
            raise click.ClickException(f"{error}{shown}") from error
        except PipelineError as error:
            raise click.ClickException(str(error)) from error


class LazyCommand(NamedTuple):
    """A command known by where it lives, loaded only when it is run or its own help is asked.

    ``help`` is the first paragraph of the command's help: the group lists it without
    importing the module (tests/test_cli_structure.py checks that it matches).
    """

    module: str
    attribute: str
    help: str

    def load(self) -> click.Command:
        """Import the module and return the command."""
        command = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command

    def stand_in(self, name: str) -> click.Command:
        """A command with only this help, for the group's list of commands."""
        return click.Command(name, help=self.help)


_LISTING = "pipeline_core.listing"


class LazyGroup(PipelineGroup):
    """A group whose commands are imported when used, as in click's "LazyGroup" pattern.

    Listing the commands in the group's help takes each short help from its
    ``LazyCommand`` and imports nothing; running a command, or asking for its own
    help, imports its module and attaches the command with ``add_command``.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            if ctx.meta.get(_LISTING):
                return lazy.stand_in(cmd_name)
            self.add_command(lazy.load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing, with stand-ins for the commands not imported yet.
        ctx.meta[_LISTING] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            del ctx.meta[_LISTING]


# options ---------------------------------------------------------------------------


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format`` with the given choices (table, json and csv by default)."""
    from pipeline_core.render.common import FORMATS

    options = choices or FORMATS
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(options),
        default=options[0],
        show_default=True,
        help="Output format.",
    )


def nl_option() -> Callable[[F], F]:
    """``--nl``: JSON Lines, the objects of ``--format json`` one a line, printed as they come."""
    return click.option(
        "--nl",
        "nl",
        is_flag=True,
        help="JSON Lines: one JSON object per line (those of --format json), printed as read.",
    )


def wants_lines(nl: bool, fmt: str) -> bool:
    """Whether to print JSON Lines: ``--nl``, which goes with no ``--format`` or with json."""
    if not nl:
        return False
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source("fmt")
    if fmt != "json" and source not in (None, ParameterSource.DEFAULT):
        raise click.UsageError(f"--nl prints JSON Lines; it does not go with --format {fmt}")
    return True


def _keep_where(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # --filter may have been processed first; an absent --where must not undo it.
    if value is None:
        kept: str | None = ctx.params.get("where")
        return kept
    if ctx.params.get("where") is not None:
        raise click.UsageError("give --where or --filter, not both")
    return value


def _use_filter(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    if ctx.params.get("where") is not None:
        raise click.UsageError("give --where or --filter, not both")
    # Resolved now, so that a name that is not a saved filter is named as such.
    ctx.params["where"] = ctx.find_object(AppContext).workspace.filters.get(value).rule  # type: ignore[union-attr]


def where_option(
    help_text: str = "Only customers satisfying this rule (see docs/rules.md).",
) -> Callable[[F], F]:
    """``--where RULE`` or ``--filter NAME`` (a saved filter): what a read command shows."""
    where = click.option("--where", metavar="RULE", callback=_keep_where, help=help_text)
    saved = click.option(
        "--filter",
        "saved_filter",
        metavar="NAME",
        expose_value=False,
        callback=_use_filter,
        help="Like --where, with the rule of a saved filter (see 'pipeline filters').",
    )

    def decorate(function: F) -> F:
        return where(saved(function))

    return decorate


def event_kind_choice() -> click.Choice[str]:
    """The event kinds, as a ``click.Choice``."""
    from pipeline_core.domain.events import EventKind

    return click.Choice([kind.value for kind in EventKind])


def role_choice() -> click.Choice[str]:
    """The roles (admin, manager, agent), as a ``click.Choice``."""
    from pipeline_core.domain.access import ROLES

    return click.Choice(ROLES)


# parsing and output ----------------------------------------------------------------


def parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict; a pair without ``=`` or with a blank key is refused."""
    fields = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(f"--field {pair!r} is not KEY=VALUE")
        fields[key.strip()] = value
    return fields


def parse_date(text: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date; a clear error otherwise."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"{text!r} is not a date like 2026-03-31") from None


def parse_moment(text: str | None) -> datetime | None:
    """An ISO 8601 date-time with a UTC offset (``2026-03-31T09:00+01:00``)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"{text!r} is not a date-time like 2026-03-31T09:00+01:00") from None
    if moment.tzinfo is None:
        raise InvalidValue(f"{text!r} needs a UTC offset, like 2026-03-31T09:00+01:00 or ...Z")
    return moment


def membership_rule(
    folders: Sequence[str],
    statuses: Sequence[str],
    tags_any: Sequence[str],
    tags_all: Sequence[str],
    tags_none: Sequence[str],
) -> Rule:
    """The rule the ``flows add`` options describe: every given condition must hold."""
    from pipeline_core.rules.ast import InSet, SetTest, all_of

    parts: list[Rule] = []
    if folders:
        parts.append(InSet("folder", tuple(folders)))
    if statuses:
        parts.append(InSet("status", tuple(statuses)))
    for quantifier, tags in (("any", tags_any), ("all", tags_all), ("none", tags_none)):
        if tags:
            parts.append(SetTest("tags", quantifier, tuple(tags)))  # type: ignore[arg-type]
    return all_of(*parts)


def echo(text: str) -> None:
    """Write rendered output without adding a newline of our own."""
    click.echo(text, nl=False)


STREAM_BUFFER = 1 << 16
"""Characters gathered before a write: one write (and flush) per record would be slow."""

BROKEN_PIPE = 141
"""Exit status when the reader of the output went away (128 + SIGPIPE, as shells report it)."""


def echo_stream(chunks: Iterable[str]) -> None:
    """Write output made piece by piece as it is made, in flat memory.

    A reader that stops early (``| head``) ends the command quietly, as it ends
    ``cat``: no traceback, and exit status 141.
    """
    buffered: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            buffered.append(chunk)
            size += len(chunk)
            if size >= STREAM_BUFFER:
                click.echo("".join(buffered), nl=False)
                buffered, size = [], 0
        click.echo("".join(buffered), nl=False)
    except BrokenPipeError:
        _quiet_stdout()
        raise click.exceptions.Exit(BROKEN_PIPE) from None


def _quiet_stdout() -> None:
    # Python flushes stdout at exit, which would fail (and say so) on the closed pipe.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


def echo_json_lines(records: Iterable[Any]) -> None:
    """Print records as JSON Lines (``--nl``), each as it comes."""
    from pipeline_core.render.common import json_lines

    echo_stream(json_lines(records))


def echo_list(
    nl: bool,
    fmt: str,
    items: Sequence[T],
    record: Callable[[T], Any],
    render: Callable[[Sequence[T]], str],
) -> None:
    """A list command's output: with ``--nl`` each item's JSON object a line, else ``render``."""
    if wants_lines(nl, fmt):
        echo_json_lines(map(record, items))
    else:
        echo(render(items))


def wants_colour() -> bool:
    """Whether output may carry ANSI colours: stdout is a terminal and NO_COLOR is not set.

    https://no-color.org: any non-empty NO_COLOR turns colours off.
    """
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def parse_when(text: str) -> date | datetime:
    """A date (``2026-03-31``, a whole UTC day) or a moment with its offset
    (``2026-03-31T09:00+01:00``, ``...Z``); a clear error otherwise."""
    stripped = text.strip()
    if "T" not in stripped.upper() and " " not in stripped:
        parsed = parse_date(stripped)
    else:
        parsed = parse_moment(stripped)
    assert parsed is not None
    return parsed


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> date | datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except InvalidValue as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def when_option(name: str, help_text: str) -> Callable[[F], F]:
    """``--NAME DATE|MOMENT``: a date (a whole UTC day) or a moment with its UTC offset."""
    return click.option(name, metavar="WHEN", callback=_when, help=help_text)
