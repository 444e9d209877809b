"""Use cases of access: who is acting, users and teams, access settings.

Visibility itself is in the Session: every customer read any use case makes is
limited to the actor's scope (see ``pipeline_core.domain.access``).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from pipeline_core.domain.access import SETTINGS_KEY as ACCESS_KEY
from pipeline_core.domain.access import AccessSettings, Principal, Role, User, checked_name
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.workspace.definitions import access_settings
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session


def whoami(s: Session) -> Principal:
    """The actor of this session, with their current role and teams."""
    return s.principal


def list_users(s: Session) -> list[User]:
    """Every user, by name."""
    return s.list_users()


def get_user(s: Session, name: str) -> User:
    """The user called ``name``."""
    return s.get_user(name)


def add_user(s: Session, name: str, role: Role | str, teams: Iterable[str] = ()) -> User:
    """Create a user with a role and teams (the teams must exist); admins only."""
    user = User(name, role, tuple(teams))
    require_admin(s, "add users")
    try:
        s.get_user(user.name)
    except NotFound:
        pass
    else:
        raise InvalidValue(f"a user called {user.name!r} already exists")
    s.put_user(user)
    return user


def set_role(s: Session, name: str, role: Role | str) -> User:
    """Change a user's role; admins only."""
    require_admin(s, "change roles")
    user = attrs.evolve(s.get_user(name), role=role)
    s.put_user(user)
    return user


def list_teams(s: Session) -> list[str]:
    """Every team, by name."""
    return s.list_teams()


def add_team(s: Session, name: str) -> str:
    """Create a team; admins only."""
    team = checked_name(name, "team")
    require_admin(s, "add teams")
    if not s.add_team(team):
        raise InvalidValue(f"a team called {team!r} already exists")
    return team


def set_membership(s: Session, name: str, team: str, *, member: bool) -> User:
    """Make a user a member of a team, or take them out (effective at once); admins only."""
    require_admin(s, "change team memberships")
    user = s.get_user(name)
    if team not in s.list_teams():
        raise NotFound(f"no team called {team!r}")
    if (team in user.teams) != member:
        teams = (*user.teams, team) if member else tuple(t for t in user.teams if t != team)
        user = attrs.evolve(user, teams=teams)
        s.put_user(user)
    return user


def settings(s: Session) -> AccessSettings:
    """The workspace's access settings."""
    return access_settings(s)


def configure(s: Session, *, hide_contacts_from_agents: bool | None = None) -> AccessSettings:
    """Change access settings; admins only."""
    require_admin(s, "change access settings")
    updated = access_settings(s)
    if hide_contacts_from_agents is not None:
        updated = attrs.evolve(updated, hide_contacts_from_agents=hide_contacts_from_agents)
    s.put_setting(ACCESS_KEY, converter.unstructure(updated))
    return updated
