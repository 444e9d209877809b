"""``ws.users``, ``ws.teams``, ``ws.access``, ``ws.filters``: who may see and do what."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from pipeline_core.domain.access import AccessSettings, Role, User
from pipeline_core.domain.saved_filters import SavedFilter
from pipeline_core.workspace import access, filters
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import SessionOpener


class Users:
    """Users of the workspace and their roles."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(self, name: str, role: Role | str, teams: Iterable[str] = ()) -> User:
        """Create a user with a role and teams (the teams must exist); admins only."""
        return self._opener.run(access.add_user, name, role, tuple(teams))

    def list(self) -> builtins.list[User]:
        """Every user, by name."""
        return self._opener.run(access.list_users)

    def get(self, name: str) -> User:
        """The user called ``name``."""
        return self._opener.run(access.get_user, name)

    def role(self, name: str, role: Role | str) -> User:
        """Change a user's role; admins only."""
        return self._opener.run(access.set_role, name, role)


class Teams:
    """Teams and their members."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def add(self, name: str) -> str:
        """Create a team; admins only."""
        return self._opener.run(access.add_team, name)

    def list(self) -> builtins.list[str]:
        """Every team, by name."""
        return self._opener.run(access.list_teams)

    def join(self, team: str, user: str) -> User:
        """Make a user a member of a team; admins only."""
        return self._opener.run(access.set_membership, user, team, member=True)

    def leave(self, team: str, user: str) -> User:
        """Take a user out of a team (effective at once); admins only."""
        return self._opener.run(access.set_membership, user, team, member=False)


class Access:
    """The workspace's access settings."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def show(self) -> AccessSettings:
        """The access settings in force."""
        return self._opener.run(access.settings)

    def set(self, *, hide_contacts_from_agents: bool | None = None) -> AccessSettings:
        """Change access settings; admins only."""
        return self._opener.run(
            access.configure, hide_contacts_from_agents=hide_contacts_from_agents
        )


class Filters:
    """Saved filters: rules kept under a name, private or shared."""

    def __init__(self, opener: SessionOpener) -> None:
        self._opener = opener

    def save(self, name: str, rule: RuleLike, *, shared: bool = False) -> SavedFilter:
        """Save a rule under a name, private to the actor or ``shared`` with everyone."""
        return self._opener.run(filters.save, name, rule, shared=shared)

    def list(self) -> builtins.list[SavedFilter]:
        """The filters the actor may use: their own and the shared ones, by name."""
        return self._opener.run(filters.list_filters)

    def get(self, name: str) -> SavedFilter:
        """The saved filter the actor gets under ``name`` (their own before a shared one)."""
        return self._opener.run(filters.get, name)

    def delete(self, name: str) -> None:
        """Delete a saved filter: one's own, or (admins) a shared one."""
        self._opener.run(filters.delete, name)
