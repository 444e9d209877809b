"""``pipeline tasks``: tasks on customers, with checklists."""

from __future__ import annotations

import click

from pipeline_core.commands._common import (
    AppContext,
    echo,
    echo_list,
    format_option,
    nl_option,
    parse_date,
    pass_app,
)
from pipeline_core.domain.activity import PRIORITIES, Priority
from pipeline_core.render.common import Format
from pipeline_core.render.life import task_output, task_record, tasks_output


@click.group()
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
    task = workspace.tasks.add(
        customer_id,
        title,
        description=description,
        due=parse_date(due),
        worker=worker,
        priority=priority,
        steps=steps,
    )
    echo(task_output(task, fmt, workspace.today()))


@tasks.command("list")
@click.option("--customer", "customer_id", type=int, help="Only this customer's tasks.")
@click.option("--worker", help="Only this worker's tasks.")
@click.option("--open", "open_only", is_flag=True, help="Only tasks not done.")
@click.option("--overdue", is_flag=True, help="Only open tasks due before today.")
@format_option()
@nl_option()
@pass_app
def tasks_list(
    app: AppContext,
    customer_id: int | None,
    worker: str | None,
    open_only: bool,
    overdue: bool,
    fmt: Format,
    nl: bool,
) -> None:
    """List tasks by due date."""
    workspace = app.workspace
    if overdue:
        found = workspace.tasks.overdue(customer_id=customer_id, worker=worker)
    else:
        found = workspace.tasks.list(customer_id=customer_id, worker=worker, open_only=open_only)
    today = workspace.today()
    echo_list(
        nl,
        fmt,
        found,
        lambda task: task_record(task, overdue=task.overdue(today)),
        lambda items: tasks_output(items, fmt, today),
    )


@tasks.command("done")
@click.argument("task_id", type=int, metavar="TASK")
@format_option()
@pass_app
def tasks_done(app: AppContext, task_id: int, fmt: Format) -> None:
    """Mark TASK done."""
    workspace = app.workspace
    echo(task_output(workspace.tasks.done(task_id), fmt, workspace.today()))


@tasks.command("reopen")
@click.argument("task_id", type=int, metavar="TASK")
@format_option()
@pass_app
def tasks_reopen(app: AppContext, task_id: int, fmt: Format) -> None:
    """Open a done TASK again."""
    workspace = app.workspace
    echo(task_output(workspace.tasks.reopen(task_id), fmt, workspace.today()))


@tasks.command("tick")
@click.argument("task_id", type=int, metavar="TASK")
@click.argument("step", type=click.IntRange(min=1))
@click.option("--undo", is_flag=True, help="Un-tick the step.")
@format_option()
@pass_app
def tasks_tick(app: AppContext, task_id: int, step: int, undo: bool, fmt: Format) -> None:
    """Tick off checklist STEP (from 1) of TASK."""
    workspace = app.workspace
    echo(task_output(workspace.tasks.tick(task_id, step, not undo), fmt, workspace.today()))
