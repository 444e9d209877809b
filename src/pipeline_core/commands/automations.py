"""``pipeline automations``: when an event happens to a matching customer, act."""

from __future__ import annotations

import json
from pathlib import Path

import cattrs
import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    event_kind_choice,
    format_option,
    membership_rule,
    pass_app,
)
from pipeline_core.domain.automation import ACTION_KINDS, Action, Automation
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.serialization import converter, structure_error_text
from pipeline_core.errors import InvalidValue
from pipeline_core.render.common import Format
from pipeline_core.render.life import automations_output
from pipeline_core.rules.ast import all_of

KINDS = event_kind_choice()


def parse_action(
    text: str,
    days: int,
    status: str | None,
    reason: str | None,
    worker: str | None,
    subject: str = "",
    body: str = "",
) -> Action:
    """``KIND[=VALUE]`` (``add_tag=VIP``) as an action sharing the other options."""
    kind, _, value = text.partition("=")
    return Action(
        kind=kind.strip(),
        value=value,
        days=days,
        status=status,
        reason=reason,
        worker=worker,
        subject=subject,
        body=body,
    )


def load_automation(path: str) -> Automation:
    """An automation from a JSON file in the shape ``automations list --format json`` prints."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return converter.structure(data, Automation)
    except OSError as error:
        raise InvalidValue(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InvalidValue(f"{path} is not valid JSON: {error}") from None
    except cattrs.BaseValidationError as error:
        raise InvalidValue(f"{path}: {structure_error_text(error)}") from None


@click.group()
def automations() -> None:
    """Declarative automations: when an event happens to a matching customer, act."""


@automations.command("add")
@click.argument("name", required=False)
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Automation as JSON.")
@click.option("--on", "on", type=KINDS, help="The event kind that triggers it.")
@click.option("--activity", help="With --on external: only this activity kind.")
@click.option("--rule", "rule_text", metavar="RULE", help="Condition (see docs/rules.md).")
@click.option("--folder", "folders_", multiple=True, help="Customer is in one of these folders.")
@click.option("--status", "statuses", multiple=True, help="Customer is in one of these statuses.")
@click.option("--tags-any", multiple=True, help="Customer has at least one of these tags.")
@click.option("--tags-all", multiple=True, help="Customer has all of these tags.")
@click.option("--tags-none", multiple=True, help="Customer has none of these tags.")
@click.option(
    "--action",
    "actions",
    multiple=True,
    metavar="KIND[=VALUE]",
    help=f"An action, in order: {', '.join(ACTION_KINDS)}.",
)
@click.option("--days", default=0, show_default=True, help="Task due / follow-up in N days.")
@click.option("--target-status", help="Status for set_folder when the folder needs one.")
@click.option("--reason", help="Lost reason for a move to a lost status.")
@click.option("--worker", help="Responsible worker of created tasks.")
@click.option("--subject", default="", help="Email subject template ($name, $due_at...).")
@click.option("--body", default="", help="Email body or notification template ($name...).")
@pass_app
def automations_add(
    app: AppContext,
    name: str | None,
    path: str | None,
    on: str | None,
    activity: str | None,
    rule_text: str | None,
    folders_: tuple[str, ...],
    statuses: tuple[str, ...],
    tags_any: tuple[str, ...],
    tags_all: tuple[str, ...],
    tags_none: tuple[str, ...],
    actions: tuple[str, ...],
    days: int,
    target_status: str | None,
    reason: str | None,
    worker: str | None,
    subject: str,
    body: str,
) -> None:
    """Store automation NAME (or the one in --file)."""
    if path is not None:
        automation = load_automation(path)
    else:
        if name is None or on is None or not actions:
            raise click.UsageError("give NAME, --on and at least one --action (or --file)")
        rule = membership_rule(folders_, statuses, tags_any, tags_all, tags_none)
        if rule_text is not None:
            rule = all_of(app.workspace.rules.check(rule_text), rule)
        automation = Automation(
            name=name,
            on=EventKind(on),
            activity=activity,
            rule=rule,
            actions=tuple(
                parse_action(a, days, target_status, reason, worker, subject, body) for a in actions
            ),
        )
    stored = app.workspace.automations.add(automation)
    click.echo(f"Added automation {stored.name!r} on {stored.on.value}")


@automations.command("list")
@format_option()
@pass_app
def automations_list(app: AppContext, fmt: Format) -> None:
    """List the automations."""
    echo(automations_output(app.workspace.automations.list(), fmt))


@automations.command("remove")
@click.argument("name")
@pass_app
def automations_remove(app: AppContext, name: str) -> None:
    """Delete automation NAME."""
    app.workspace.automations.remove(name)
    click.echo(f"Removed automation {name!r}")


@automations.command("run")
@click.argument("name")
@click.argument("customer_id", type=int, metavar="ID")
@pass_app
def automations_run(app: AppContext, name: str, customer_id: int) -> None:
    """Run automation NAME by hand on customer ID."""
    workspace = app.workspace
    ran = workspace.automations.run(name, customer_id)
    failures = workspace.hooks.failures
    if ran:
        click.echo(f"Ran {name!r} on #{customer_id}")
    else:
        click.echo(f"#{customer_id} does not match {name!r}'s rule; nothing done")
    for failure in failures:
        click.echo(f"Warning: {failure.handler} failed: {failure.error}", err=True)
