"""Who may do what, and what they see: checks every use case applies to its session's actor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline_core.customer import Customer
from pipeline_core.domain.access import CONTACT_FIELDS, masked, masked_event
from pipeline_core.domain.events import Event
from pipeline_core.errors import PermissionDenied
from pipeline_core.rules.evaluate import compile_predicate
from pipeline_core.workspace.definitions import access_settings, folder_named
from pipeline_core.workspace.session import Session


def require_admin(s: Session, what: str) -> None:
    """Refuse ``what`` unless the actor is an admin or the system."""
    if s.principal.role != "admin":
        raise PermissionDenied(
            f"{s.principal.name!r} ({s.principal.role}) may not {what}; admins only"
        )


def hides_contacts(s: Session) -> bool:
    """Whether contact data is masked for the actor (an agent, when the setting says so)."""
    return s.principal.role == "agent" and access_settings(s).hide_contacts_from_agents


def shown(s: Session, customer: Customer) -> Customer:
    """The customer as the actor may see it (contact data masked if hidden from them)."""
    return masked(customer) if hides_contacts(s) else customer


def shown_all(s: Session, customers: list[Customer]) -> list[Customer]:
    """``shown`` for many customers, reading the setting once."""
    if not hides_contacts(s):
        return customers
    return [masked(customer) for customer in customers]


def shown_events(s: Session, events: list[Event]) -> list[Event]:
    """Events as the actor may see them: edits of hidden contact data masked."""
    if not hides_contacts(s):
        return events
    return [masked_event(event) for event in events]


def check_folder_change(s: Session, before: str | None, after: str | None) -> None:
    """Refuse moving a customer out of ``before`` or into ``after`` if the role may not."""
    if before == after:
        return
    role = s.principal.role
    leaving = folder_named(s, before)
    if leaving is not None and not leaving.access.may_leave(role):
        raise PermissionDenied(
            f"{role}s may not move customers out of folder {before!r}"
            f" (allowed: {', '.join(leaving.access.leave)})"
        )
    entering = folder_named(s, after)
    if entering is not None and not entering.access.may_enter(role):
        raise PermissionDenied(
            f"{role}s may not move customers into folder {after!r}"
            f" (allowed: {', '.join(entering.access.enter)})"
        )


def check_within_scope(s: Session, customer: Customer, verb: str) -> None:
    """Refuse a write that would leave the customer outside the actor's own scope."""
    if s.principal.sees_all or compile_predicate(s.scope)(customer):
        return
    teams = ", ".join(s.principal.user.teams) if s.principal.user else ""
    raise PermissionDenied(
        f"{s.principal.name!r} may not {verb} a customer of team {customer.team!r}"
        f" that they could not see (their teams: {teams or 'none'})"
    )


def contacts_hidden(s: Session, what: str) -> PermissionDenied:
    """The refusal of ``what`` to an actor contact data is hidden from, naming the setting."""
    return PermissionDenied(
        "contact data is hidden from agents (access setting hide_contacts_from_agents);"
        f" {s.principal.name!r} may not {what}"
    )


def check_contact_edit(s: Session, changes: Mapping[str, Any]) -> None:
    """Agents who cannot see contact data cannot change it either."""
    touched = sorted(CONTACT_FIELDS.intersection(changes))
    if touched and hides_contacts(s):
        raise contacts_hidden(s, f"change {', '.join(touched)}")


def check_contact_rule(s: Session, fields: Iterable[str]) -> None:
    """Agents who cannot see contact data cannot test it in a rule of their own either.

    Each test of a hidden field would tell them a little of it (``emails ~ "a"``,
    then ``"ab"``...): the rule is refused, whatever the data.
    """
    tested = sorted(CONTACT_FIELDS.intersection(fields))
    if tested and hides_contacts(s):
        raise contacts_hidden(s, f"filter by {', '.join(tested)}")
