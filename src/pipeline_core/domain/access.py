"""Who is acting and what they may see: users, roles, teams and the visibility scope.

The scope is one rule (``scope_rule``) that says which customers an actor may
see. The Session of every use case composes it with the rule of every read
(``all_of(scope, rule)``) and hands the combination to the store, which
compiles it into the query: nothing is ever filtered after the fact. Every read
path, including ones added later (exports, reports, duplicate clusters), reads
through the Session (``pipeline_core.workspace.session``); its ``unscoped``
transaction bypasses visibility and is reserved for the checks that must see
everything (duplicate detection), which never return what they saw to the actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from pipeline_core.customer import Customer, checked_text
from pipeline_core.domain.duplicates import MergeResult
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL, InSet, MatchAll, Not, Rule, SetTest, any_of

Role = Literal["admin", "manager", "agent"]
ROLES: tuple[Role, ...] = ("admin", "manager", "agent")

SYSTEM = "system"
"""The actor scripts use: sees and may do everything. No user may take this name."""

SETTINGS_KEY = "access"
"""The key of the access settings in the store's settings."""

NOTHING: Rule = Not(MATCH_ALL)
"""The rule no customer satisfies: the scope of a manager without teams."""

HIDDEN = "(hidden)"
"""What an agent sees instead of contact data when the workspace hides it."""


def checked_name(value: str, what: str = "user") -> str:
    """A user or team name: non-blank text without NUL, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(f"a {what} needs a non-blank name")
    return checked_text(value).strip()


def _user_name(value: str) -> str:
    name = checked_name(value)
    if name == SYSTEM:
        raise InvalidValue(f"{SYSTEM!r} is the system actor; choose another user name")
    return name


def _role(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise InvalidValue(f"role must be one of {', '.join(ROLES)}, not {value!r}")


def _teams(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted({checked_name(value, "team") for value in values}))


@attrs.frozen
class User:
    """A person using the workspace: a role and the teams they belong to."""

    name: str = attrs.field(converter=_user_name)
    role: Role = attrs.field(converter=_role)
    teams: tuple[str, ...] = attrs.field(default=(), converter=_teams)


@attrs.frozen
class Principal:
    """The actor a workspace is opened as: a user, or the system actor (``user`` None)."""

    user: User | None = None

    @property
    def name(self) -> str:
        """The name recorded on events."""
        return SYSTEM if self.user is None else self.user.name

    @property
    def role(self) -> Role:
        """The system actor has the admin role."""
        return "admin" if self.user is None else self.user.role

    @property
    def sees_all(self) -> bool:
        """Whether the scope is every customer (admins and the system actor)."""
        return self.role == "admin"


SYSTEM_PRINCIPAL = Principal()


def scope_rule(principal: Principal) -> Rule:
    """The customers ``principal`` may see, as a rule.

    Admins and the system: all. Managers: their teams'. Agents: their teams'
    and those they are assigned to as a worker.
    """
    user = principal.user
    if user is None or user.role == "admin":
        return MATCH_ALL
    parts: list[Rule] = []
    if user.teams:
        parts.append(InSet("team", user.teams))
    if user.role == "agent":
        parts.append(SetTest("workers", "any", (user.name,)))
    return any_of(*parts) if parts else NOTHING


def is_everything(rule: Rule) -> bool:
    """Whether ``rule`` is the scope that lets everything through."""
    return isinstance(rule, MatchAll)


@attrs.frozen(kw_only=True)
class AccessSettings:
    """Workspace-wide access settings."""

    hide_contacts_from_agents: bool = False


def masked(customer: Customer) -> Customer:
    """The customer with its emails, phones and WhatsApp replaced by a placeholder."""
    return attrs.evolve(
        customer,
        emails=(HIDDEN,) if customer.emails else (),
        phones=(HIDDEN,) if customer.phones else (),
        whatsapp=HIDDEN if customer.whatsapp else None,
    )


CONTACT_FIELDS = frozenset({"emails", "phones", "whatsapp"})
"""The customer fields that hold contact data."""


def masked_event(event: Event) -> Event:
    """The event with the contact data it carries replaced by a placeholder.

    Edits of emails, phones and WhatsApp carry the values before and after;
    merges carry the contacts each merged record brought and the keys matched.
    """
    if event.kind is EventKind.EDITED and event.data.get("field") in CONTACT_FIELDS:
        return attrs.evolve(event, data={**event.data, "before": HIDDEN, "after": HIDDEN})
    if event.kind is EventKind.MERGED:
        return attrs.evolve(event, data=masked_merge_data(event.data))
    return event


def masked_merge_data(data: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    """A merge's data (a ``merged`` event's, a merge result's details) with contacts masked.

    Each merged part carries the contacts it brought and the keys it matched.
    """
    merged = data.get("merged")
    if not isinstance(merged, list):
        return dict(data)
    hidden = [
        {k: HIDDEN if k in CONTACT_FIELDS or k == "matched" else v for k, v in part.items()}
        if isinstance(part, dict)
        else part
        for part in merged
    ]
    return {**data, "merged": hidden}


def masked_merge(result: MergeResult) -> MergeResult:
    """A merge result as an actor contact data is hidden from sees it."""
    return attrs.evolve(
        result, customer=masked(result.customer), details=masked_merge_data(result.details)
    )


def _roles(values: tuple[str, ...] | list[str]) -> tuple[Role, ...]:
    return tuple(sorted({_role(value) for value in values}, key=ROLES.index))


@attrs.frozen(kw_only=True)
class FolderAccess:
    """Which roles may move customers into and out of one folder (empty: every role)."""

    enter: tuple[Role, ...] = attrs.field(default=(), converter=_roles)
    leave: tuple[Role, ...] = attrs.field(default=(), converter=_roles)

    def may_enter(self, role: Role) -> bool:
        """Whether ``role`` may move a customer into the folder."""
        return not self.enter or role in self.enter

    def may_leave(self, role: Role) -> bool:
        """Whether ``role`` may move a customer out of the folder."""
        return not self.leave or role in self.leave
