"""Use cases of saved filters: a rule kept under a name, private or shared."""

from __future__ import annotations

from pipeline_core.domain.saved_filters import SavedFilter, filter_name
from pipeline_core.errors import InvalidValue, PermissionDenied
from pipeline_core.rules.printer import to_text
from pipeline_core.workspace.rules import RuleLike, bound, find_filter, put_filters, stored_filters
from pipeline_core.workspace.session import Session


def save(s: Session, name: str, rule: RuleLike, *, shared: bool = False) -> SavedFilter:
    """Save a rule under a name, private to the actor or ``shared`` with everyone."""
    # A filter that does not check is refused now; it is kept as the text given.
    bound(s, rule)
    text = rule if isinstance(rule, str) else to_text(rule)
    saved = SavedFilter(name=name, rule=text, owner=s.principal.name, shared=shared)
    filters = stored_filters(s)
    if any(
        f.name == saved.name and (f.owner == saved.owner or (f.shared and shared)) for f in filters
    ):
        raise InvalidValue(f"a saved filter called {saved.name!r} already exists")
    filters.append(saved)
    put_filters(s, filters)
    return saved


def list_filters(s: Session) -> list[SavedFilter]:
    """The filters the actor may use: their own and the shared ones, by name."""
    mine = [f for f in stored_filters(s) if f.visible_to(s.principal.name)]
    return sorted(mine, key=lambda f: (f.name, not f.shared))


def get(s: Session, name: str) -> SavedFilter:
    """The saved filter the actor gets under ``name`` (their own before a shared one)."""
    return find_filter(s, filter_name(name))


def delete(s: Session, name: str) -> None:
    """Delete a saved filter: one's own, or (admins) a shared one."""
    found = find_filter(s, filter_name(name))
    if found.owner != s.principal.name and s.principal.role != "admin":
        raise PermissionDenied(
            f"saved filter {name!r} belongs to {found.owner!r}; only they or an admin may delete it"
        )
    put_filters(s, [f for f in stored_filters(s) if f != found])
