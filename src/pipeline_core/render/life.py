"""Rendering the customer's life: timelines, tasks, time, reminders, the 360-degree view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any

from pipeline_core.domain.activity import Task, TimeEntry
from pipeline_core.domain.automation import Automation
from pipeline_core.domain.custom_fields import FieldDefinition
from pipeline_core.domain.events import Event
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.reminders import Reminder
from pipeline_core.domain.serialization import converter
from pipeline_core.domain.view import CustomerTree, CustomerView, TimeSummary
from pipeline_core.render.common import (
    Format,
    cell,
    customer_record,
    flatten_fields,
    json_text,
    key_value_table,
    printable,
    records_csv,
    records_output,
    records_table,
)
from pipeline_core.render.shapes import (
    EventRecord,
    TaskObject,
    TimeSummaryRecord,
    ViewRecord,
)

EVENT_COLUMNS = ("id", "at", "kind", "actor", "details")
TASK_COLUMNS = (
    "id",
    "customer_id",
    "title",
    "due",
    "worker",
    "priority",
    "steps",
    "done",
    "overdue",
)


TIME_COLUMNS = ("id", "customer_id", "worker", "at", "minutes", "note")


def event_record(event: Event) -> EventRecord:
    """An event as its JSON object."""
    return {
        "id": event.id,
        "customer_id": event.customer_id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "data": dict(event.data),
    }


def _details(data: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={cell(value)}" for key, value in data.items() if value not in (None, "", [], {})
    )


def output(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format) -> str:
    """Several records: a JSON array, CSV of every key, or a table of ``columns``."""
    return records_output(records, columns, fmt, every_key_in_csv=True)


def events_output(events: Sequence[Event], fmt: Format) -> str:
    """A timeline in the chosen format; the table folds each event's data into one column."""
    records = [event_record(event) for event in events]
    if fmt == "table":
        rows = [{**r, "details": _details(r["data"])} for r in records]
        return records_table(rows, EVENT_COLUMNS)
    if fmt == "csv":
        return records_csv([{**r, "data": r["data"]} for r in records])
    return json_text(records)


def event_output(event: Event, fmt: Format) -> str:
    """One event: its JSON object, or a timeline of one in a table or CSV."""
    return json_text(event_record(event)) if fmt == "json" else events_output([event], fmt)


def task_record(task: Task, *, overdue: bool) -> TaskObject:
    """A task as its JSON object: the task, ``done``, and ``overdue`` (open, due before today)."""
    record: TaskObject = converter.unstructure(task)
    record["done"] = task.done
    record["overdue"] = overdue
    return record


def task_output(task: Task, fmt: Format, today: date) -> str:
    """One task: its JSON object, or a list of one in a table or CSV."""
    if fmt == "json":
        return json_text(task_record(task, overdue=task.overdue(today)))
    return tasks_output([task], fmt, today)


def tasks_output(tasks: Sequence[Task], fmt: Format, today: date) -> str:
    """Tasks in the chosen format; the table shows checklist progress as ticked/total."""
    records = [task_record(task, overdue=task.overdue(today)) for task in tasks]
    if fmt == "json":
        return json_text(records)
    rows = [
        {
            **r,
            "steps": f"{sum(s['done'] for s in r['steps'])}/{len(r['steps'])}"
            if r["steps"]
            else "",
        }
        for r in records
    ]
    return output(rows, TASK_COLUMNS, fmt)


def time_record(entry: TimeEntry) -> dict[str, Any]:
    """A time entry as its JSON object."""
    record: dict[str, Any] = converter.unstructure(entry)
    return record


def time_output(entries: Sequence[TimeEntry], fmt: Format) -> str:
    """Time entries in the chosen format."""
    return output([time_record(entry) for entry in entries], TIME_COLUMNS, fmt)


def time_entry_output(entry: TimeEntry, fmt: Format) -> str:
    """One time entry: its JSON object, or a list of one in a table or CSV."""
    return json_text(time_record(entry)) if fmt == "json" else time_output([entry], fmt)


def summary_record(summary: TimeSummary) -> TimeSummaryRecord:
    """A time summary as JSON (customer ids as text keys)."""
    return {
        "total_minutes": summary.total_minutes,
        "by_worker": summary.by_worker,
        "by_customer": {str(k): v for k, v in summary.by_customer.items()},
    }


def summary_output(summary: TimeSummary, fmt: Format) -> str:
    """A time summary: one row per worker and per customer, and the total."""
    if fmt == "json":
        return json_text(summary_record(summary))
    rows = [{"by": "worker", "who": w, "minutes": m} for w, m in summary.by_worker.items()]
    rows += [{"by": "customer", "who": c, "minutes": m} for c, m in summary.by_customer.items()]
    rows.append({"by": "total", "who": "", "minutes": summary.total_minutes})
    return output(rows, ("by", "who", "minutes"), fmt)


def reminders_output(reminders: Sequence[Reminder], fmt: Format, zone: tzinfo | None = None) -> str:
    """Due reminders in the chosen format; ``due_at`` in ``zone`` (with its offset) if given."""
    records = [converter.unstructure(reminder) for reminder in reminders]
    if zone is not None:
        for record, reminder in zip(records, reminders, strict=True):
            record["due_at"] = reminder.due_at.astimezone(zone).isoformat()
    return output(records, ("customer_id", "name", "due_on", "due_at", "workers", "notes"), fmt)


def tree_record(tree: CustomerTree) -> dict[str, Any]:
    """A family tree as nested JSON: each node a customer object and its ``children`` nodes."""
    return {
        "customer": customer_record(tree.customer),
        "children": [tree_record(child) for child in tree.children],
    }


def tree_output(tree: CustomerTree, fmt: Format) -> str:
    """A family tree: indented names, nested JSON, or CSV rows with depth and parent."""
    if fmt == "json":
        return json_text(tree_record(tree))
    rows: list[dict[str, Any]] = [
        {"depth": depth, "id": c.id, "name": c.name, "parent_id": c.parent_id, "status": c.status}
        for depth, c in tree.walk()
    ]
    if fmt == "csv":
        return records_csv(rows)
    lines = (f"{'  ' * depth}#{c.id} {c.name} ({c.status})" for depth, c in tree.walk())
    return "".join(printable(line) + "\n" for line in lines)


def view_record(view: CustomerView) -> ViewRecord:
    """The 360-degree view (the "customer view") as one JSON object."""
    overdue = set(view.overdue_tasks)
    return {
        "customer": customer_record(view.customer),
        "parent": None if view.parent is None else {"id": view.parent.id, "name": view.parent.name},
        "children": [{"id": c.id, "name": c.name, "status": c.status} for c in view.children],
        "open_tasks": [task_record(t, overdue=t.id in overdue) for t in view.open_tasks],
        "overdue_tasks": list(view.overdue_tasks),
        "follow_up_due_at": None
        if view.follow_up_due_at is None
        else view.follow_up_due_at.isoformat(),
        "time": summary_record(view.time),
        "event_count": view.event_count,
        "recent_events": [event_record(e) for e in view.recent_events],
        "records": converter.unstructure(view.records),
    }


def view_output(view: CustomerView, fmt: Format) -> str:
    """The 360-degree view: sections as text tables, one JSON object, or the profile as CSV."""
    record = view_record(view)
    if fmt == "json":
        return json_text(record)
    if fmt == "csv":
        return records_csv([flatten_fields(record["customer"])])
    profile = flatten_fields(record["customer"])
    profile["parent"] = f"#{view.parent.id} {view.parent.name}" if view.parent else None
    profile["children"] = [f"#{c.id} {c.name}" for c in view.children]
    profile["follow_up_due_at"] = record["follow_up_due_at"]
    profile["time_minutes"] = view.time.total_minutes
    parts = [key_value_table(profile)]
    if view.open_tasks:
        rows = [{**task, "steps": len(task["steps"])} for task in record["open_tasks"]]
        parts.append(
            "\nOpen tasks\n"
            + records_table(rows, ("id", "title", "due", "worker", "priority", "overdue"))
        )
    parts.extend(profile_sections(view))
    shown = len(view.recent_events)
    parts.append(
        f"\nLatest {shown} of {view.event_count} event(s)\n"
        + events_output(view.recent_events, "table")
    )
    return "".join(parts)


def _money(totals: dict[str, Any]) -> str:
    return ", ".join(f"{amount} {currency}" for currency, amount in totals.items()) or "-"


def profile_sections(view: CustomerView) -> list[str]:
    """The text sections of a profile's linked records; none for a customer without any."""
    found = view.records
    if not found.counts:
        return []
    columns = ("id", "ref", "state", "title", "amount", "currency")
    parts = [
        "\nLinked records\n"
        + key_value_table(
            {
                **{f"{kind}s": count for kind, count in found.counts.items()},
                "invoices_open": _money(found.open_invoice_totals),
                "invoices_overdue": _money(found.overdue_invoice_totals),
                "payments_received": _money(found.payments_received),
            }
        )
    ]
    sections: list[tuple[str, Sequence[Any], tuple[str, ...]]] = [
        ("Open invoices", found.open_invoices, (*columns, "due")),
        ("Upcoming appointments", found.upcoming_appointments, ("id", "ref", "state", "title", "start", "end")),
        ("Latest conversations", list(found.latest_conversations.values()), ("id", "channel", "ref", "state", "title", "at")),
        ("Orders", found.orders, (*columns, "at")),
        ("Subscriptions", found.subscriptions, (*columns, "start", "end")),
    ]  # fmt: skip
    for title, items, shown in sections:
        if items:
            rows = [converter.unstructure(item) for item in items]
            parts.append(f"\n{title}\n" + records_table(rows, shown))
    if found.files:
        rows = [
            {"id": f.id, "ref": f.ref, "title": f.title, **converter.unstructure(f.file)}
            for f in found.files
        ]
        parts.append(
            "\nFiles\n" + records_table(rows, ("id", "ref", "title", "uri", "media_type", "size"))
        )
    return parts


def folder_record(folder: Folder) -> dict[str, Any]:
    """A folder as JSON."""
    record: dict[str, Any] = converter.unstructure(folder)
    return record


def folders_output(folders: Sequence[Folder], fmt: Format) -> str:
    """Folders: name, statuses of their machine, applicable fields."""
    if fmt == "json":
        return json_text([folder_record(f) for f in folders])
    rows = [
        {
            "name": f.name,
            "statuses": list(f.machine.names) if f.machine else "(workspace machine)",
            "fields": list(f.fields) or "(all)",
        }
        for f in folders
    ]
    return output(rows, ("name", "statuses", "fields"), fmt)


def fields_output(definitions: Sequence[FieldDefinition], fmt: Format) -> str:
    """Custom field definitions."""
    records = [converter.unstructure(d) for d in definitions]
    return output(records, ("key", "label", "type", "required", "options", "version"), fmt)


def automation_record(automation: Automation) -> dict[str, Any]:
    """An automation as JSON."""
    record: dict[str, Any] = converter.unstructure(automation)
    return record


def automations_output(automations: Sequence[Automation], fmt: Format) -> str:
    """Automations: name, trigger, rule and actions."""
    records = [automation_record(a) for a in automations]
    if fmt == "json":
        return json_text(records)
    rows = [
        {
            "name": r["name"],
            "on": r["on"] + (f" ({r['activity']})" if r["activity"] else ""),
            "rule": r["rule"],
            "actions": [f"{a['kind']}:{a['value']}" for a in r["actions"]],
            "enabled": r["enabled"],
        }
        for r in records
    ]
    return output(rows, ("name", "on", "rule", "actions", "enabled"), fmt)
