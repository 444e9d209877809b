"""Use cases of duplicates: settings, the policy applied on add and edit, clusters and merges.

See docs/duplicates.md. Contact keys are matched over every live customer; when a
match is outside the actor's scope, the refusal says so without naming it,
whatever the policy asked (merging into or updating a customer one cannot see is
no better), unless duplicates are allowed. An actor contact data is hidden from
is refused in the same words whichever customer and key matched: naming them
would confirm a guessed email or phone. The store-facing half is in
``pipeline_core.workspace.dedupe``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.access import masked_merge
from pipeline_core.domain.duplicate_settings import (
    KEY_FIELDS,
    DuplicateSettings,
    duplicate_settings,
    settings_data,
)
from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicates import (
    DuplicateCluster,
    DuplicatePolicy,
    MergeResult,
    check_policy,
    clusters,
    collector_paused,
)
from pipeline_core.domain.normalize import ContactKey, customer_keys
from pipeline_core.errors import DuplicateCustomer, InvalidValue, NotFound
from pipeline_core.workspace.changes import save_changes
from pipeline_core.workspace.dedupe import (
    absorb,
    duplicate_error,
    matches,
    merge_records,
    updated_with,
)
from pipeline_core.workspace.permissions import contacts_hidden, hides_contacts, shown_all
from pipeline_core.workspace.session import Session

_CONTACTS = ("emails", "phones", "whatsapp", "country")

HIDDEN_MATCH = (
    "a customer with the same email, phone or WhatsApp already exists; contact data is"
    " hidden from agents (access setting hide_contacts_from_agents), so it is not named"
)
"""The duplicate refusal of an actor contact data is hidden from, whatever matched."""


class DryRunRollback(Exception):
    """Raised by ``merge_many(dry_run=True)``: carries the results out so that the session rolls back."""

    def __init__(self, results: list[MergeResult]) -> None:
        super().__init__("dry run")
        self.results = results


# settings ----------------------------------------------------------------------------


def settings(s: Session) -> DuplicateSettings:
    """The default phone region, whether duplicates are allowed, gmail folding."""
    return duplicate_settings(s.get_setting(DUPLICATES_KEY))


def configure(
    s: Session,
    *,
    default_region: str | None = None,
    allow_duplicates: bool | None = None,
    fold_gmail: bool | None = None,
) -> DuplicateSettings:
    """Change some duplicate settings ('' clears the region); the others stay.

    Changing the region or gmail folding recomputes every customer's contact
    keys in the same transaction.
    """
    current = settings(s)
    changes: dict[str, object] = {}
    if default_region is not None:
        changes["default_region"] = default_region
    if allow_duplicates is not None:
        changes["allow_duplicates"] = allow_duplicates
    if fold_gmail is not None:
        changes["fold_gmail"] = fold_gmail
    updated = attrs.evolve(current, **changes)  # type: ignore[arg-type]
    s.put_setting(DUPLICATES_KEY, settings_data(updated))
    if any(getattr(current, n) != getattr(updated, n) for n in KEY_FIELDS):
        s.rebuild_contact_keys()
    return updated


def unreadable_phones(s: Session, customer: Customer) -> tuple[str, ...]:
    """The customer's phones and WhatsApp that cannot be read (no region, not a number).

    Such a number is kept as typed but takes no part in duplicate checks.
    """
    keys = customer_keys(customer, settings(s).normalize_options)
    return tuple(key.key for key in keys if key.kind == "phone" and not key.valid)


# the policy on add and edit -------------------------------------------------------------


def on_add(s: Session, draft: Customer, policy: DuplicatePolicy | None) -> Customer | None:
    """Apply the duplicate policy to a customer about to be added.

    Returns the existing customer when ``merge`` or ``update`` took care of
    it, None when the draft is to be inserted; ``block`` raises.
    """
    current = settings(s)
    options = current.normalize_options
    keys = customer_keys(draft, options, strict=True)  # a malformed email is refused here
    chosen = _chosen(current, policy)
    if chosen == "allow":
        return None
    found = matches(s, keys)
    _refuse_hidden_duplicates(s, found)
    if not found:
        return None
    existing_id = min(customer_id for _, customer_id in found)
    if chosen == "merge":
        return absorb(s, existing_id, draft, found, options=options, now=s.now(), event=s.event)
    if chosen == "update":
        before, after = updated_with(s, existing_id, draft, options)
        return save_changes(s, before, after)
    raise duplicate_error(s, draft, found, options)


def check_edit(s: Session, current: Customer, edited: Customer, policy: str | None) -> None:
    """Refuse an edit that adds a contact key another live customer holds (unless allowed)."""
    if all(getattr(current, name) == getattr(edited, name) for name in _CONTACTS):
        return
    now = settings(s)
    options = now.normalize_options
    keys = customer_keys(edited, options, strict=True)
    chosen = _chosen(now, policy)
    if chosen == "allow":
        return
    held = set(s.contact_keys(current.id))
    found = matches(s, [key for key in keys if key not in held], exclude=current.id)
    _refuse_hidden_duplicates(s, found)
    if chosen in ("merge", "update"):
        raise InvalidValue(
            f"an edit can only block or allow duplicates, not {chosen!r}; use merge to combine"
        )
    if found:
        raise duplicate_error(s, edited, found, options)


def _chosen(current: DuplicateSettings, policy: str | None) -> DuplicatePolicy:
    """The policy asked for, else the workspace's default."""
    return check_policy(policy or ("allow" if current.allow_duplicates else "block"))


def _refuse_hidden_duplicates(s: Session, found: Sequence[tuple[ContactKey, int]]) -> None:
    """Refuse, naming nothing the actor may not see, when a match is hidden from them.

    Matches are over every live customer; an actor who sees all is told as usual.
    """
    if not found or s.principal.sees_all:
        return
    if hides_contacts(s):
        raise DuplicateCustomer((), HIDDEN_MATCH)
    ids = sorted({customer_id for _, customer_id in found})
    if not all(_visible(s, customer_id) for customer_id in ids):
        raise _duplicate_refusal(s, ids)


def _duplicate_refusal(s: Session, found: Sequence[int]) -> DuplicateCustomer:
    """The DuplicateCustomer for matches some of which the actor may not see.

    It carries and names only the visible ones.
    """
    visible = s.get_customers(found)
    hidden = "a duplicate of this customer exists outside your teams"
    if not visible:
        return DuplicateCustomer((), hidden)
    named = ", ".join(f"{c.id} ({c.name})" for c in visible)
    return DuplicateCustomer(shown_all(s, visible), f"duplicates customer(s) {named}; and {hidden}")


def _visible(s: Session, customer_id: int) -> bool:
    try:
        s.get_customer(customer_id)
    except NotFound:
        return False
    return True


# clusters and merges ------------------------------------------------------------------


def find(s: Session, *, with_customers: bool = False) -> list[DuplicateCluster]:
    """Clusters of live customers sharing a phone, email or WhatsApp key, transitively.

    Grouped in the store by key (an index scan), joined with union-find:
    never a pairwise comparison. ``with_customers`` loads the records too.
    Refused to an actor contact data is hidden from.
    """
    if hides_contacts(s):
        # A cluster says which customers share a contact: that is the hidden data itself.
        raise contacts_hidden(s, "list duplicate clusters, which are made of contact data")
    with collector_paused():
        found = clusters(s.duplicate_groups())
        if not with_customers:
            return found
        wanted = [customer_id for cluster in found for customer_id in cluster.customer_ids]
        records = {c.id: c for c in s.get_customers(wanted)}
        return [
            attrs.evolve(cluster, customers=tuple(records[i] for i in cluster.customer_ids))
            for cluster in found
        ]


def merge_many(
    s: Session, merges: Sequence[tuple[int, Sequence[int]]], *, dry_run: bool = False
) -> list[MergeResult]:
    """Several merges in this session, in order; a record one consumed cannot be used again.

    With ``dry_run`` the merges are made and ``DryRunRollback`` carries the results
    out of the session, which then rolls back.
    """
    options = settings(s).normalize_options
    consumed: dict[int, int] = {}
    now = s.now()
    results = [
        merge_records(
            s, primary, list(others), options=options, now=now, event=s.event, consumed=consumed
        )
        for primary, others in merges
    ]
    if hides_contacts(s):
        results = [masked_merge(result) for result in results]
    if dry_run:
        raise DryRunRollback([attrs.evolve(r, dry_run=True) for r in results])
    return results
