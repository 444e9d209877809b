"""``pipeline`` commands for the customer's life; each parses, makes one Workspace call, renders.

Registered on the main group by ``pipeline_core.cli`` when it is imported.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import cattrs
import click

from pipeline_core.cli import (
    AppContext,
    cli,
    customers,
    echo,
    format_option,
    membership_rule,
    pass_app,
)
from pipeline_core.domain.activity import PRIORITIES, Priority
from pipeline_core.domain.automation import ACTION_KINDS, Action, Automation
from pipeline_core.domain.custom_fields import FIELD_TYPES, FieldDefinition
from pipeline_core.domain.events import EventKind
from pipeline_core.domain.serialization import converter, structure_error_text
from pipeline_core.domain.statuses import load_status_machine
from pipeline_core.errors import InvalidValue
from pipeline_core.render.common import Format, customer_output, customers_output, json_text
from pipeline_core.render.life import (
    automations_output,
    events_output,
    fields_output,
    folders_output,
    reminders_output,
    summary_output,
    tasks_output,
    time_output,
    tree_output,
)
from pipeline_core.rules.ast import all_of


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


KINDS = click.Choice([kind.value for kind in EventKind])

# customers: the 360 view and the life of one customer ------------------------------


@customers.command("timeline")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--kind", "kinds", multiple=True, type=KINDS, help="Only events of this kind.")
@format_option()
@pass_app
def customers_timeline(
    app: AppContext, customer_id: int, kinds: tuple[str, ...], fmt: Format
) -> None:
    """Show the timeline of customer ID, oldest first."""
    events = app.workspace.timeline(customer_id, kinds or None)
    echo(events_output(events, fmt))


@customers.command("contact")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--notes", help="What was said; goes on top of the lead notes, timestamped.")
@click.option("--channel", help="How: phone, email, whatsapp, visit...")
@format_option()
@pass_app
def customers_contact(
    app: AppContext, customer_id: int, notes: str | None, channel: str | None, fmt: Format
) -> None:
    """Log a contact with customer ID now."""
    echo(customer_output(app.workspace.log_contact(customer_id, notes, channel=channel), fmt))


@customers.command("follow-up")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("day", metavar="DATE")
@click.option("--notes", help="Why; goes on top of the lead notes, timestamped.")
@format_option()
@pass_app
def customers_follow_up(
    app: AppContext, customer_id: int, day: str, notes: str | None, fmt: Format
) -> None:
    """Schedule the next follow-up of customer ID on DATE (YYYY-MM-DD)."""
    on = parse_date(day)
    assert on is not None
    echo(customer_output(app.workspace.schedule_follow_up(customer_id, on, notes), fmt))


@customers.command("follow-up-done")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--notes", help="How it went; goes on top of the lead notes.")
@format_option()
@pass_app
def customers_follow_up_done(
    app: AppContext, customer_id: int, notes: str | None, fmt: Format
) -> None:
    """Mark the follow-up of customer ID done; its reminder stops being due."""
    echo(customer_output(app.workspace.complete_follow_up(customer_id, notes), fmt))


@customers.command("deal")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("value")
@click.option("--currency", help="ISO 4217 code (needed unless the customer has one).")
@format_option()
@pass_app
def customers_deal(
    app: AppContext, customer_id: int, value: str, currency: str | None, fmt: Format
) -> None:
    """Set the deal VALUE (a decimal; '' clears) of customer ID."""
    echo(customer_output(app.workspace.set_deal(customer_id, value, currency), fmt))


@customers.command("convert")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("order_id", metavar="ORDER")
@click.option("--force", is_flag=True, help="Record another order on a converted customer.")
@format_option()
@pass_app
def customers_convert(
    app: AppContext, customer_id: int, order_id: str, force: bool, fmt: Format
) -> None:
    """Convert customer ID to order ORDER (lead -> order)."""
    echo(customer_output(app.workspace.convert_to_order(customer_id, order_id, force=force), fmt))


@customers.command("parent")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("parent_id", type=int, metavar="PARENT", required=False)
@format_option()
@pass_app
def customers_parent(app: AppContext, customer_id: int, parent_id: int | None, fmt: Format) -> None:
    """Make PARENT the parent of customer ID (no PARENT: detach it); cycles are refused."""
    echo(customer_output(app.workspace.set_parent(customer_id, parent_id), fmt))


@customers.command("children")
@click.argument("customer_id", type=int, metavar="ID")
@format_option()
@pass_app
def customers_children(app: AppContext, customer_id: int, fmt: Format) -> None:
    """List the direct sub-customers of customer ID."""
    echo(customers_output(app.workspace.children(customer_id), fmt))


@customers.command("tree")
@click.argument("customer_id", type=int, metavar="ID")
@click.option("--from-root", is_flag=True, help="Start from the topmost ancestor.")
@format_option()
@pass_app
def customers_tree(app: AppContext, customer_id: int, from_root: bool, fmt: Format) -> None:
    """Show customer ID and all its sub-customers."""
    echo(tree_output(app.workspace.tree(customer_id, from_root=from_root), fmt))


@customers.command("folder")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("folder", required=False)
@click.option("--status", help="Status to take there, if the folder's machine lacks the current.")
@click.option("--reason", help="Lost reason, if that status is a lost one.")
@click.option("--reason-text", help="Free text for lost reason 'other'.")
@format_option()
@pass_app
def customers_folder(
    app: AppContext,
    customer_id: int,
    folder: str | None,
    status: str | None,
    reason: str | None,
    reason_text: str | None,
    fmt: Format,
) -> None:
    """Move customer ID into FOLDER (none: out of any folder)."""
    moved = app.workspace.set_folder(
        customer_id, folder, status=status, reason=reason, reason_text=reason_text
    )
    echo(customer_output(moved, fmt))


@customers.command("activity")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("kind")
@click.argument("summary")
@click.option("--at", help="When it happened (ISO date-time with offset; default now).")
@click.option("--ref", help="An id or link in the system it came from.")
@format_option()
@pass_app
def customers_activity(
    app: AppContext,
    customer_id: int,
    kind: str,
    summary: str,
    at: str | None,
    ref: str | None,
    fmt: Format,
) -> None:
    """Record external activity KIND (email_sent, order_paid...) on customer ID's timeline."""
    event = app.workspace.record_activity(customer_id, kind, summary, at=parse_moment(at), ref=ref)
    echo(events_output([event], fmt))


# notes ---------------------------------------------------------------------------


@cli.group()
def notes() -> None:
    """Notes on a customer's timeline."""


@notes.command("add")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("text")
@format_option()
@pass_app
def notes_add(app: AppContext, customer_id: int, text: str, fmt: Format) -> None:
    """Add note TEXT to customer ID."""
    echo(events_output([app.workspace.add_note(customer_id, text)], fmt))


@notes.command("list")
@click.argument("customer_id", type=int, metavar="ID")
@format_option()
@pass_app
def notes_list(app: AppContext, customer_id: int, fmt: Format) -> None:
    """List the notes of customer ID, oldest first."""
    echo(events_output(app.workspace.notes(customer_id), fmt))


# reminders -----------------------------------------------------------------------


@cli.group()
def reminders() -> None:
    """Follow-up reminders."""


@reminders.command("due")
@click.option("--at", help="The moment to ask about (ISO date-time with offset; default now).")
@format_option()
@pass_app
def reminders_due(app: AppContext, at: str | None, fmt: Format) -> None:
    """List the follow-ups due (and not done) at a moment."""
    echo(reminders_output(app.workspace.due_reminders(parse_moment(at)), fmt))


# tasks ---------------------------------------------------------------------------


@cli.group()
def tasks() -> None:
    """Tasks on customers, with checklists."""


@tasks.command("add")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("title")
@click.option("--description", default="", help="Longer text.")
@click.option("--due", help="Due date, YYYY-MM-DD.")
@click.option("--worker", help="Who is responsible.")
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True)
@click.option("--step", "steps", multiple=True, help="A checklist step (repeatable, in order).")
@format_option()
@pass_app
def tasks_add(
    app: AppContext,
    customer_id: int,
    title: str,
    description: str,
    due: str | None,
    worker: str | None,
    priority: Priority,
    steps: tuple[str, ...],
    fmt: Format,
) -> None:
    """Add task TITLE to customer ID."""
    workspace = app.workspace
    task = workspace.add_task(
        customer_id,
        title,
        description=description,
        due=parse_date(due),
        worker=worker,
        priority=priority,
        steps=steps,
    )
    echo(tasks_output([task], fmt, workspace.today()))


@tasks.command("list")
@click.option("--customer", "customer_id", type=int, help="Only this customer's tasks.")
@click.option("--worker", help="Only this worker's tasks.")
@click.option("--open", "open_only", is_flag=True, help="Only tasks not done.")
@click.option("--overdue", is_flag=True, help="Only open tasks due before today.")
@format_option()
@pass_app
def tasks_list(
    app: AppContext,
    customer_id: int | None,
    worker: str | None,
    open_only: bool,
    overdue: bool,
    fmt: Format,
) -> None:
    """List tasks by due date."""
    workspace = app.workspace
    if overdue:
        found = workspace.overdue_tasks(customer_id=customer_id, worker=worker)
    else:
        found = workspace.tasks(customer_id=customer_id, worker=worker, open_only=open_only)
    echo(tasks_output(found, fmt, workspace.today()))


@tasks.command("done")
@click.argument("task_id", type=int, metavar="TASK")
@format_option()
@pass_app
def tasks_done(app: AppContext, task_id: int, fmt: Format) -> None:
    """Mark TASK done."""
    workspace = app.workspace
    echo(tasks_output([workspace.complete_task(task_id)], fmt, workspace.today()))


@tasks.command("reopen")
@click.argument("task_id", type=int, metavar="TASK")
@format_option()
@pass_app
def tasks_reopen(app: AppContext, task_id: int, fmt: Format) -> None:
    """Open a done TASK again."""
    workspace = app.workspace
    echo(tasks_output([workspace.reopen_task(task_id)], fmt, workspace.today()))


@tasks.command("tick")
@click.argument("task_id", type=int, metavar="TASK")
@click.argument("step", type=click.IntRange(min=1))
@click.option("--undo", is_flag=True, help="Un-tick the step.")
@format_option()
@pass_app
def tasks_tick(app: AppContext, task_id: int, step: int, undo: bool, fmt: Format) -> None:
    """Tick off checklist STEP (from 1) of TASK."""
    workspace = app.workspace
    echo(tasks_output([workspace.tick_step(task_id, step, not undo)], fmt, workspace.today()))


# working time --------------------------------------------------------------------


@cli.group("time")
def time_group() -> None:
    """Working time spent on customers."""


@time_group.command("log")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@click.argument("minutes", type=int)
@click.option("--at", help="When (ISO date-time with offset; default now).")
@click.option("--note", default="", help="What the time was for.")
@format_option()
@pass_app
def time_log(
    app: AppContext,
    customer_id: int,
    worker: str,
    minutes: int,
    at: str | None,
    note: str,
    fmt: Format,
) -> None:
    """Record MINUTES of WORKER's time on customer ID."""
    entry = app.workspace.log_time(customer_id, worker, minutes, at=parse_moment(at), note=note)
    echo(time_output([entry], fmt))


@time_group.command("list")
@click.option("--customer", "customer_id", type=int, help="Only this customer's time.")
@click.option("--worker", help="Only this worker's time.")
@format_option()
@pass_app
def time_list(app: AppContext, customer_id: int | None, worker: str | None, fmt: Format) -> None:
    """List time entries, oldest first."""
    echo(time_output(app.workspace.time_entries(customer_id=customer_id, worker=worker), fmt))


@time_group.command("summary")
@click.option("--customer", "customer_id", type=int, help="Only this customer's time.")
@click.option("--worker", help="Only this worker's time.")
@format_option()
@pass_app
def time_summary(app: AppContext, customer_id: int | None, worker: str | None, fmt: Format) -> None:
    """Sum working time per worker and per customer."""
    echo(summary_output(app.workspace.time_summary(customer_id=customer_id, worker=worker), fmt))


# workers -------------------------------------------------------------------------


@cli.group()
def workers() -> None:
    """Team members assigned to customers."""


@workers.command("assign")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@format_option()
@pass_app
def workers_assign(app: AppContext, customer_id: int, worker: str, fmt: Format) -> None:
    """Assign WORKER to customer ID."""
    echo(customer_output(app.workspace.assign(customer_id, worker), fmt))


@workers.command("unassign")
@click.argument("customer_id", type=int, metavar="ID")
@click.argument("worker")
@format_option()
@pass_app
def workers_unassign(app: AppContext, customer_id: int, worker: str, fmt: Format) -> None:
    """Take WORKER off customer ID."""
    echo(customer_output(app.workspace.unassign(customer_id, worker), fmt))


@workers.command("customers")
@click.argument("worker")
@format_option()
@pass_app
def workers_customers(app: AppContext, worker: str, fmt: Format) -> None:
    """List the customers WORKER is assigned to."""
    echo(customers_output(app.workspace.customers_of(worker), fmt))


# settings ------------------------------------------------------------------------


@cli.group()
def settings() -> None:
    """Workspace settings: time zone, reminder hour, lost reasons."""


@settings.command("show")
@format_option("table", "json")
@pass_app
def settings_show(app: AppContext, fmt: str) -> None:
    """Show the settings."""
    record = converter.unstructure(app.workspace.lifecycle_settings())
    if fmt == "json":
        echo(json_text(record))
    else:
        for key, value in record.items():
            click.echo(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@settings.command("set")
@click.option("--time-zone", help="IANA zone name, e.g. Europe/Lisbon.")
@click.option("--reminder-hour", type=int, help="Local hour (0-23) reminders fall due.")
@click.option("--lost-reason", "lost_reasons", multiple=True, help="Replace the lost reasons.")
@pass_app
def settings_set(
    app: AppContext,
    time_zone: str | None,
    reminder_hour: int | None,
    lost_reasons: tuple[str, ...],
) -> None:
    """Change some settings; the others stay."""
    updated = app.workspace.configure(
        time_zone=time_zone, reminder_hour=reminder_hour, lost_reasons=lost_reasons or None
    )
    click.echo(
        f"time zone {updated.time_zone}, reminders at {updated.reminder_hour:02d}:00, "
        f"lost reasons: {', '.join(updated.lost_reasons)}"
    )


# folders -------------------------------------------------------------------------


@cli.group()
def folders() -> None:
    """Folders, each with its own status machine and custom fields."""


@folders.command("add")
@click.argument("name")
@click.option("--machine", type=click.Path(dir_okay=False), help="Status machine .json/.toml.")
@click.option("--field", "fields", multiple=True, help="A custom field that applies (repeatable).")
@pass_app
def folders_add(app: AppContext, name: str, machine: str | None, fields: tuple[str, ...]) -> None:
    """Define folder NAME."""
    loaded = None if machine is None else load_status_machine(machine)
    folder = app.workspace.add_folder(name, loaded, fields)
    click.echo(f"Added folder {folder.name!r}")


@folders.command("list")
@format_option()
@pass_app
def folders_list(app: AppContext, fmt: Format) -> None:
    """List the folders."""
    echo(folders_output(app.workspace.folders(), fmt))


@folders.command("remove")
@click.argument("name")
@pass_app
def folders_remove(app: AppContext, name: str) -> None:
    """Delete folder NAME (refused while customers are in it)."""
    app.workspace.remove_folder(name)
    click.echo(f"Removed folder {name!r}")


# custom fields -------------------------------------------------------------------


@cli.group()
def fields() -> None:
    """Typed custom field definitions."""


@fields.command("add")
@click.argument("key")
@click.argument("type_", metavar="TYPE", type=click.Choice(FIELD_TYPES))
@click.option("--label", default="", help="What people see (default: KEY).")
@click.option("--required", is_flag=True, help="Every customer must have a value.")
@click.option("--option", "options", multiple=True, help="A select option (repeatable).")
@pass_app
def fields_add(
    app: AppContext,
    key: str,
    type_: str,
    label: str,
    required: bool,
    options: tuple[str, ...],
) -> None:
    """Define custom field KEY of TYPE."""
    definition = FieldDefinition(
        key=key, type=type_, label=label, required=required, options=options
    )
    stored = app.workspace.define_field(definition)
    click.echo(f"Defined {stored.type} field {stored.key!r}")


@fields.command("list")
@format_option()
@pass_app
def fields_list(app: AppContext, fmt: Format) -> None:
    """List the custom field definitions."""
    echo(fields_output(app.workspace.field_definitions(), fmt))


@fields.command("rename-option")
@click.argument("key")
@click.argument("old")
@click.argument("new")
@click.option("--expected-version", type=int, help="Refuse if the definition changed since.")
@pass_app
def fields_rename_option(
    app: AppContext, key: str, old: str, new: str, expected_version: int | None
) -> None:
    """Rename option OLD of select field KEY to NEW, on every customer too."""
    result = app.workspace.rename_option(key, old, new, expected_version=expected_version)
    click.echo(
        f"Renamed {old!r} to {new!r} in {key!r} (now version {result.definition.version}); "
        f"{result.changed} customer(s) changed"
    )


@fields.command("add-option")
@click.argument("key")
@click.argument("options", nargs=-1, required=True)
@click.option("--expected-version", type=int, help="Refuse if the definition changed since.")
@pass_app
def fields_add_option(
    app: AppContext, key: str, options: tuple[str, ...], expected_version: int | None
) -> None:
    """Add OPTIONS to select field KEY."""
    updated = app.workspace.add_options(key, options, expected_version=expected_version)
    click.echo(f"{key!r} options: {', '.join(updated.options)}")


@fields.command("remove")
@click.argument("key")
@pass_app
def fields_remove(app: AppContext, key: str) -> None:
    """Delete field KEY (refused while customers hold a value)."""
    app.workspace.remove_field(key)
    click.echo(f"Removed field {key!r}")


# automations ---------------------------------------------------------------------


def parse_action(
    text: str, days: int, status: str | None, reason: str | None, worker: str | None
) -> Action:
    """``KIND[=VALUE]`` (``add_tag=VIP``) as an action sharing the other options."""
    kind, _, value = text.partition("=")
    return Action(
        kind=kind.strip(), value=value, days=days, status=status, reason=reason, worker=worker
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


@cli.group()
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
) -> None:
    """Store automation NAME (or the one in --file)."""
    if path is not None:
        automation = load_automation(path)
    else:
        if name is None or on is None or not actions:
            raise click.UsageError("give NAME, --on and at least one --action (or --file)")
        rule = membership_rule(folders_, statuses, tags_any, tags_all, tags_none)
        if rule_text is not None:
            rule = all_of(app.workspace.check_rule(rule_text), rule)
        automation = Automation(
            name=name,
            on=EventKind(on),
            activity=activity,
            rule=rule,
            actions=tuple(parse_action(a, days, target_status, reason, worker) for a in actions),
        )
    stored = app.workspace.add_automation(automation)
    click.echo(f"Added automation {stored.name!r} on {stored.on.value}")


@automations.command("list")
@format_option()
@pass_app
def automations_list(app: AppContext, fmt: Format) -> None:
    """List the automations."""
    echo(automations_output(app.workspace.automations(), fmt))


@automations.command("remove")
@click.argument("name")
@pass_app
def automations_remove(app: AppContext, name: str) -> None:
    """Delete automation NAME."""
    app.workspace.remove_automation(name)
    click.echo(f"Removed automation {name!r}")


@automations.command("run")
@click.argument("name")
@click.argument("customer_id", type=int, metavar="ID")
@pass_app
def automations_run(app: AppContext, name: str, customer_id: int) -> None:
    """Run automation NAME by hand on customer ID."""
    workspace = app.workspace
    ran = workspace.run_automation(name, customer_id)
    failures = workspace.hooks.failures
    if ran:
        click.echo(f"Ran {name!r} on #{customer_id}")
    else:
        click.echo(f"#{customer_id} does not match {name!r}'s rule; nothing done")
    for failure in failures:
        click.echo(f"Warning: {failure.handler} failed: {failure.error}", err=True)
