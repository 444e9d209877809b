"""Use cases of declarative automations: define, list, remove, and apply one to a customer.

An automation runs after the session whose event triggered it commits, in a
session of its own opened by the facade with the actor ``automation:NAME``
(automations are configured by admins and run with the system's rights).
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.activity import Task
from pipeline_core.domain.automation import SETTINGS_KEY as AUTOMATIONS_KEY
from pipeline_core.domain.automation import Action, Automation, automations_from
from pipeline_core.domain.events import Event, EventKind
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.workspace import records
from pipeline_core.workspace.definitions import lifecycle, today
from pipeline_core.workspace.life import schedule_in
from pipeline_core.workspace.moves import move_in, retag_in, set_folder_in
from pipeline_core.workspace.outbox import write_actions
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.rules import checked
from pipeline_core.workspace.session import Session
from pipeline_core.workspace.work import add_task_in


def stored(s: Session) -> dict[str, Automation]:
    """Every stored automation by name."""
    return automations_from(s.get_setting(AUTOMATIONS_KEY))


def _put(s: Session, automations: dict[str, Automation]) -> None:
    s.put_setting(
        AUTOMATIONS_KEY,
        {name: converter.unstructure(automations[name]) for name in sorted(automations)},
    )


def add(s: Session, automation: Automation) -> Automation:
    """Store a declarative automation; its name must be new, its rule must check here."""
    require_admin(s, "define automations")
    automation = attrs.evolve(automation, rule=checked(s, automation.rule))
    found = stored(s)
    if automation.name in found:
        raise InvalidValue(f"an automation called {automation.name!r} already exists")
    found[automation.name] = automation
    _put(s, found)
    return automation


def list_automations(s: Session) -> list[Automation]:
    """Every stored automation, by name."""
    return [a for _, a in sorted(stored(s).items())]


def get(s: Session, name: str) -> Automation:
    """The automation called ``name``."""
    found = stored(s).get(name)
    if found is None:
        raise NotFound(f"no automation called {name!r}")
    return found


def remove(s: Session, name: str) -> None:
    """Delete an automation."""
    require_admin(s, "remove automations")
    found = stored(s)
    if name not in found:
        raise NotFound(f"no automation called {name!r}")
    del found[name]
    _put(s, found)


def apply(
    s: Session,
    automation: Automation,
    customer_id: int,
    trigger: Event | None,
    *,
    outbound: bool = True,
) -> bool:
    """Run ``automation``'s actions on the customer if its rule holds; whether it ran.

    ``outbound=False`` leaves out webhook, email and notify: when an event
    triggers the automation they were written in that event's own transaction.
    """
    customer = s.get_customer(customer_id)
    # Rules compare UTC days (docs/rules.md); actions use the workspace's zone.
    if not records.predicate(s, automation.rule)(customer):
        return False
    day = today(s)
    for action in automation.in_process:
        customer = apply_action(s, customer, action, day)
    if outbound and automation.outbound:
        write_actions(s, automation, automation.outbound, customer, trigger, lifecycle(s).zone)
    s.append_events(
        [
            s.event(
                customer.id,
                EventKind.AUTOMATION_RAN,
                automation=automation.name,
                trigger="manual" if trigger is None else trigger.kind.value,
            )
        ]
    )
    return True


def apply_action(s: Session, customer: Customer, action: Action, day: date) -> Customer:
    """Do one action to the customer; the customer as it is afterwards."""
    match action.kind:
        case "add_tag" | "remove_tag":
            return retag_in(s, customer, action.value.strip(), action.kind == "add_tag")
        case "set_folder":
            return set_folder_in(s, customer, action.value, action.status, action.reason)
        case "move_status":
            return move_in(s, customer, action.value.strip(), reason=action.reason)
        case "create_task":
            task = Task(
                customer_id=customer.id,
                title=action.value,
                due=day + timedelta(days=action.days),
                worker=action.worker,
                priority=action.priority,
                created_at=s.now(),
            )
            add_task_in(s, task)
            return customer
        case "schedule_follow_up":
            return schedule_in(s, customer, day + timedelta(days=action.days), action.value or None)
    raise InvalidValue(f"unknown action {action.kind!r}")  # pragma: no cover
