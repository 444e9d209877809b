"""``pipeline reminders``: follow-up reminders, fired once each, and the watch loop."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from pipeline_core.commands._common import AppContext, echo, format_option, parse_moment, pass_app
from pipeline_core.render.common import Format
from pipeline_core.render.life import reminders_output
from pipeline_core.render.outbox import fired_output
from pipeline_core.workspace.firing import Fired
from pipeline_core.workspace.runner import RunReport


@click.group()
def reminders() -> None:
    """Follow-up reminders."""


@reminders.command("due")
@click.option("--at", help="The moment to ask about (ISO date-time with offset; default now).")
@format_option()
@pass_app
def reminders_due(app: AppContext, at: str | None, fmt: Format) -> None:
    """List the follow-ups due (and not done) at a moment."""
    workspace = app.workspace
    due = workspace.reminders.due(parse_moment(at))
    echo(reminders_output(due, fmt, workspace.settings.show().zone))


@reminders.command("run")
@click.option(
    "--at", help="Fire what is due at this moment (ISO date-time with offset; default now)."
)
@format_option()
@pass_app
def reminders_run(app: AppContext, at: str | None, fmt: Format) -> None:
    """Fire every due reminder and overdue task once: a reminder_due or task_due event each."""
    workspace = app.workspace
    fired = workspace.reminders.run(parse_moment(at))
    echo(fired_output(fired.events, fmt, workspace.settings.show().zone))


@reminders.command("watch")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds between rounds.",
)
@pass_app
def reminders_watch(app: AppContext, interval: float) -> None:
    """Fire reminders and send deliveries every --interval seconds until SIGINT or SIGTERM."""
    workspace = app.workspace
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()  # the round in progress finishes; the loop then ends

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_on)

    def report(fired: Fired, sent: RunReport) -> None:
        if fired.events or sent.delivered or sent.retried or sent.failed:
            click.echo(
                f"fired {len(fired.events)}; delivered {sent.delivered},"
                f" to retry {sent.retried}, failed {sent.failed}",
                err=True,
            )

    rounds = workspace.reminders.watch(interval=interval, stop=stop, on_round=report)
    click.echo(f"Stopped after {rounds} round(s)")
