"""Workspace use cases of access: users and teams, access settings, search, saved filters.

Visibility itself lives in the facade's scoped transaction (see
``pipeline_core.domain.access``): every read any use case makes goes through it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any, cast

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.access import (
    CONTACT_FIELDS,
    AccessSettings,
    FolderAccess,
    Principal,
    Role,
    User,
    checked_name,
)
from pipeline_core.domain.access import SETTINGS_KEY as ACCESS_KEY
from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicate_settings import duplicate_settings
from pipeline_core.domain.normalize import ContactKey, customer_keys
from pipeline_core.domain.saved_filters import SETTINGS_KEY as FILTERS_KEY
from pipeline_core.domain.saved_filters import SavedFilter, filter_name
from pipeline_core.domain.search import DEFAULT_LIMIT, parse_query
from pipeline_core.domain.serialization import converter
from pipeline_core.errors import DuplicateCustomer, InvalidValue, NotFound, PermissionDenied
from pipeline_core.rules.ast import MATCH_ALL, Rule
from pipeline_core.rules.printer import to_text
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import ScopedTransaction
from pipeline_core.workspace.dedupe import DuplicatePolicy, check_policy, matches
from pipeline_core.workspace.duplicates import DuplicatesMixin

_CONTACTS = ("emails", "phones", "whatsapp", "country")


class AccessMixin(DuplicatesMixin):
    """Users, teams, access settings, folder permissions, quick search and saved filters."""

    @abc.abstractmethod
    def _bound(self, tx: Transaction, rule: Rule | str) -> Rule:
        """A checked rule (text, AST or saved filter name) with its relative dates bound."""

    # who is acting --------------------------------------------------------------------

    def whoami(self) -> Principal:
        """The actor this workspace acts as, with their current role and teams."""
        with self._tx() as tx:
            return tx.principal

    # users and teams ------------------------------------------------------------------

    def users(self) -> list[User]:
        """Every user, by name."""
        with self._tx() as tx:
            return tx.list_users()

    def user(self, name: str) -> User:
        """The user called ``name``."""
        with self._tx() as tx:
            return tx.get_user(name)

    def add_user(self, name: str, role: Role | str, teams: Iterable[str] = ()) -> User:
        """Create a user with a role and teams (the teams must exist); admins only."""
        user = User(name, role, tuple(teams))
        with self._tx() as tx:
            self._require_admin(tx, "add users")
            try:
                tx.get_user(user.name)
            except NotFound:
                pass
            else:
                raise InvalidValue(f"a user called {user.name!r} already exists")
            tx.put_user(user)
            return user

    def set_role(self, name: str, role: Role | str) -> User:
        """Change a user's role; admins only."""
        with self._tx() as tx:
            self._require_admin(tx, "change roles")
            user = attrs.evolve(tx.get_user(name), role=role)
            tx.put_user(user)
            return user

    def teams(self) -> list[str]:
        """Every team, by name."""
        with self._tx() as tx:
            return tx.list_teams()

    def add_team(self, name: str) -> str:
        """Create a team; admins only."""
        team = checked_name(name, "team")
        with self._tx() as tx:
            self._require_admin(tx, "add teams")
            if not tx.add_team(team):
                raise InvalidValue(f"a team called {team!r} already exists")
            return team

    def join_team(self, user: str, team: str) -> User:
        """Make a user a member of a team; admins only."""
        return self._membership(user, team, member=True)

    def leave_team(self, user: str, team: str) -> User:
        """Take a user out of a team (effective at once); admins only."""
        return self._membership(user, team, member=False)

    def _membership(self, name: str, team: str, *, member: bool) -> User:
        with self._tx() as tx:
            self._require_admin(tx, "change team memberships")
            current = tx.get_user(name)
            if team not in tx.list_teams():
                raise NotFound(f"no team called {team!r}")
            if (team in current.teams) != member:
                teams = (
                    (*current.teams, team)
                    if member
                    else tuple(t for t in current.teams if t != team)
                )
                current = attrs.evolve(current, teams=teams)
                tx.put_user(current)
            return current

    # settings and folder permissions ------------------------------------------------

    def access_settings(self) -> AccessSettings:
        """The workspace's access settings."""
        with self._tx() as tx:
            return self._access(tx)

    def set_access(self, *, hide_contacts_from_agents: bool | None = None) -> AccessSettings:
        """Change access settings; admins only."""
        with self._tx() as tx:
            self._require_admin(tx, "change access settings")
            settings = self._access(tx)
            if hide_contacts_from_agents is not None:
                settings = attrs.evolve(
                    settings, hide_contacts_from_agents=hide_contacts_from_agents
                )
            tx.put_setting(ACCESS_KEY, converter.unstructure(settings))
            return settings

    def set_folder_access(
        self,
        folder: str,
        *,
        enter: Iterable[Role | str] | None = None,
        leave: Iterable[Role | str] | None = None,
    ) -> FolderAccess:
        """Say which roles may move customers into and out of a folder (empty: every role)."""
        with self._tx() as tx:
            self._require_admin(tx, "change folder permissions")
            folders = self._folders(tx)
            found = folders.get(folder)
            if found is None:
                raise NotFound(f"no folder called {folder!r}")
            changes: dict[str, Any] = {}
            if enter is not None:
                changes["enter"] = tuple(enter)
            if leave is not None:
                changes["leave"] = tuple(leave)
            access = attrs.evolve(found.access, **changes)
            folders[folder] = attrs.evolve(found, access=access)
            self._put_folders(tx, folders)
            return access

    def _check_contact_edit(self, tx: ScopedTransaction, changes: dict[str, Any]) -> None:
        """Agents who cannot see contact data cannot change it either."""
        touched = sorted(CONTACT_FIELDS.intersection(changes))
        if touched and self._hides_contacts(tx):
            raise PermissionDenied(
                f"contact data is hidden from agents; {tx.principal.name!r} may not change "
                f"{', '.join(touched)}"
            )

    # duplicates ---------------------------------------------------------------------
    #
    # Duplicate detection (issue 4) matches contact keys over every live customer
    # (``find_by_keys`` returns ids only). When a match is outside the actor's
    # scope, the refusal says so without naming it, whatever the policy asked
    # (merging into or updating a customer one cannot see is no better), unless
    # duplicates are allowed.

    def _on_duplicate(
        self, tx: Transaction, draft: Customer, policy: DuplicatePolicy | None
    ) -> Customer | None:
        self._refuse_hidden_duplicates(cast(ScopedTransaction, tx), draft, policy)
        return super()._on_duplicate(tx, draft, policy)

    def _check_edit_duplicates(
        self, tx: Transaction, current: Customer, edited: Customer, policy: str | None
    ) -> None:
        if any(getattr(current, name) != getattr(edited, name) for name in _CONTACTS):
            held = set(tx.contact_keys(current.id))
            scoped = cast(ScopedTransaction, tx)
            self._refuse_hidden_duplicates(scoped, edited, policy, exclude=current.id, held=held)
        super()._check_edit_duplicates(tx, current, edited, policy)

    def _refuse_hidden_duplicates(
        self,
        tx: ScopedTransaction,
        customer: Customer,
        policy: str | None,
        *,
        exclude: int = 0,
        held: set[ContactKey] | None = None,
    ) -> None:
        if tx.principal.sees_all:
            return
        settings = duplicate_settings(tx.get_setting(DUPLICATES_KEY))
        chosen = check_policy(policy or ("allow" if settings.allow_duplicates else "block"))
        if chosen == "allow":
            return
        keys = customer_keys(customer, settings.normalize_options, strict=True)
        wanted = [key for key in keys if held is None or key not in held]
        found = sorted({customer_id for _, customer_id in matches(tx, wanted, exclude=exclude)})
        if found and not all(self._visible(tx, customer_id) for customer_id in found):
            raise self._duplicate_refusal(tx, found)

    def _duplicate_refusal(self, tx: ScopedTransaction, found: Sequence[int]) -> DuplicateCustomer:
        """The DuplicateCustomer for matches some of which the actor may not see.

        It carries and names only the visible ones.
        """
        visible = tx.get_customers(found)
        hidden = "a duplicate of this customer exists outside your teams"
        if not visible:
            return DuplicateCustomer((), hidden)
        named = ", ".join(f"{c.id} ({c.name})" for c in visible)
        return DuplicateCustomer(
            self._shown_all(tx, visible), f"duplicates customer(s) {named}; and {hidden}"
        )

    def _visible(self, tx: ScopedTransaction, customer_id: int) -> bool:
        try:
            tx.get_customer(customer_id)
        except NotFound:
            return False
        return True

    # search -------------------------------------------------------------------------

    def search(
        self, text: str, *, where: Rule | str = MATCH_ALL, limit: int = DEFAULT_LIMIT
    ) -> list[Customer]:
        """Customers found by name, email, phone or tag, best match first.

        Names are matched by word prefix, ignoring case and accents; a phone
        query matches any number ending in its digits (at least 4). Only
        customers the actor may see, and that satisfy ``where``.
        """
        query = parse_query(text)
        if limit < 1:
            raise InvalidValue(f"a search limit must be 1 or more, not {limit}")
        with self._tx() as tx:
            found = tx.search_customers(query, self._bound(tx, where), limit=limit)
            return self._shown_all(tx, found)

    # saved filters ------------------------------------------------------------------

    def save_filter(self, name: str, rule: Rule | str, *, shared: bool = False) -> SavedFilter:
        """Save a rule under a name, private to the actor or ``shared`` with everyone."""
        with self._tx() as tx:
            # A filter that does not check is refused now; it is kept as the text given.
            self._bound(tx, rule)
            text = rule if isinstance(rule, str) else to_text(rule)
            saved = SavedFilter(name=name, rule=text, owner=tx.principal.name, shared=shared)
            filters = self._filters(tx)
            if any(
                f.name == saved.name and (f.owner == saved.owner or (f.shared and shared))
                for f in filters
            ):
                raise InvalidValue(f"a saved filter called {saved.name!r} already exists")
            filters.append(saved)
            self._put_filters(tx, filters)
            return saved

    def saved_filters(self) -> list[SavedFilter]:
        """The filters the actor may use: their own and the shared ones, by name."""
        with self._tx() as tx:
            mine = [f for f in self._filters(tx) if f.visible_to(tx.principal.name)]
            return sorted(mine, key=lambda f: (f.name, not f.shared))

    def saved_filter(self, name: str) -> SavedFilter:
        """The saved filter the actor gets under ``name`` (their own before a shared one)."""
        with self._tx() as tx:
            return self._find_filter(tx, filter_name(name))

    def delete_filter(self, name: str) -> None:
        """Delete a saved filter: one's own, or (admins) a shared one."""
        with self._tx() as tx:
            found = self._find_filter(tx, filter_name(name))
            if found.owner != tx.principal.name and tx.principal.role != "admin":
                raise PermissionDenied(
                    f"saved filter {name!r} belongs to {found.owner!r}; only they or an admin "
                    "may delete it"
                )
            self._put_filters(tx, [f for f in self._filters(tx) if f != found])

    def _filters(self, tx: ScopedTransaction) -> list[SavedFilter]:
        data: Any = tx.get_setting(FILTERS_KEY) or []
        return [converter.structure(item, SavedFilter) for item in data]

    def _put_filters(self, tx: ScopedTransaction, filters: list[SavedFilter]) -> None:
        ordered = sorted(filters, key=lambda f: (f.name, f.owner))
        tx.put_setting(FILTERS_KEY, [converter.unstructure(f) for f in ordered])

    def _find_filter(self, tx: ScopedTransaction, name: str) -> SavedFilter:
        usable = [
            f for f in self._filters(tx) if f.name == name and f.visible_to(tx.principal.name)
        ]
        if not usable:
            raise NotFound(f"no saved filter called {name!r}")
        return min(usable, key=lambda f: f.owner != tx.principal.name)

    def _saved_rule_text(self, tx: ScopedTransaction, text: str) -> str:
        """The rule of the saved filter called ``text``, or ``text`` itself if there is none."""
        stripped = text.strip()
        try:
            name = filter_name(stripped)
        except InvalidValue:
            return text
        data = tx.get_setting(FILTERS_KEY)
        if not data:
            return text
        try:
            return self._find_filter(tx, name).rule
        except NotFound:
            return text
