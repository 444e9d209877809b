"""The Workspace's duplicate use cases: settings, duplicate policies, clusters and merges.

See docs/duplicates.md. The transaction-level work is in ``pipeline_core.workspace.dedupe``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.duplicate_settings import (
    KEY_FIELDS,
    DuplicateSettings,
    duplicate_settings,
    settings_data,
)
from pipeline_core.domain.duplicate_settings import SETTINGS_KEY as DUPLICATES_KEY
from pipeline_core.domain.duplicates import DuplicateCluster, clusters, collector_paused
from pipeline_core.domain.events import Event
from pipeline_core.domain.normalize import customer_keys
from pipeline_core.errors import InvalidValue
from pipeline_core.storage import Transaction
from pipeline_core.workspace.base import WorkspaceBase
from pipeline_core.workspace.dedupe import (
    DuplicatePolicy,
    MergeResult,
    absorb,
    check_policy,
    duplicate_error,
    matches,
    merge_records,
    updated_with,
)

_CONTACTS = ("emails", "phones", "whatsapp", "country")


class _DryRun(Exception):
    """Carries dry-run results out of a transaction so that it rolls back."""

    def __init__(self, results: list[MergeResult]) -> None:
        super().__init__("dry run")
        self.results = results


class DuplicatesMixin(WorkspaceBase):
    """Duplicate detection and merging, mixed into ``Workspace``."""

    # settings ----------------------------------------------------------------------

    def duplicate_settings(self) -> DuplicateSettings:
        """The default phone region, whether duplicates are allowed, gmail folding."""
        with self._tx() as tx:
            return duplicate_settings(tx.get_setting(DUPLICATES_KEY))

    def configure_duplicates(
        self,
        *,
        default_region: str | None = None,
        allow_duplicates: bool | None = None,
        fold_gmail: bool | None = None,
    ) -> DuplicateSettings:
        """Change some duplicate settings ('' clears the region); the others stay.

        Changing the region or gmail folding recomputes every customer's contact
        keys in the same transaction.
        """
        with self._tx() as tx:
            current = duplicate_settings(tx.get_setting(DUPLICATES_KEY))
            changes: dict[str, object] = {}
            if default_region is not None:
                changes["default_region"] = default_region
            if allow_duplicates is not None:
                changes["allow_duplicates"] = allow_duplicates
            if fold_gmail is not None:
                changes["fold_gmail"] = fold_gmail
            updated = attrs.evolve(current, **changes)  # type: ignore[arg-type]
            tx.put_setting(DUPLICATES_KEY, settings_data(updated))
            if any(getattr(current, n) != getattr(updated, n) for n in KEY_FIELDS):
                tx.rebuild_contact_keys()
            return updated

    # policies ----------------------------------------------------------------------

    def _on_duplicate(
        self, tx: Transaction, draft: Customer, policy: DuplicatePolicy | None
    ) -> Customer | None:
        """Apply the duplicate policy to a customer about to be added.

        Returns the existing customer when ``merge`` or ``update`` took care of
        it, None when the draft is to be inserted; ``block`` raises.
        """
        settings = duplicate_settings(tx.get_setting(DUPLICATES_KEY))
        options = settings.normalize_options
        keys = customer_keys(draft, options, strict=True)  # a malformed email is refused here
        chosen = check_policy(policy or ("allow" if settings.allow_duplicates else "block"))
        found = [] if chosen == "allow" else matches(tx, keys)
        if not found:
            return None
        existing_id = min(customer_id for _, customer_id in found)
        now = self.clock.now()
        if chosen == "merge":
            return absorb(
                tx, existing_id, draft, found, options=options, now=now, event=self._event
            )
        if chosen == "update":
            before, after = updated_with(tx, existing_id, draft, options)
            return self._save_changes(tx, before, after)
        raise duplicate_error(tx, draft, found, options)

    def _check_edit_duplicates(
        self, tx: Transaction, current: Customer, edited: Customer, policy: str | None
    ) -> None:
        """Refuse an edit that adds a contact key another live customer holds (unless allowed)."""
        if all(getattr(current, name) == getattr(edited, name) for name in _CONTACTS):
            return
        settings = duplicate_settings(tx.get_setting(DUPLICATES_KEY))
        options = settings.normalize_options
        keys = customer_keys(edited, options, strict=True)
        chosen = check_policy(policy or ("allow" if settings.allow_duplicates else "block"))
        if chosen in ("merge", "update"):
            raise InvalidValue(
                f"an edit can only block or allow duplicates, not {chosen!r}; use merge to combine"
            )
        if chosen == "allow":
            return
        held = set(tx.contact_keys(current.id))
        found = matches(tx, [key for key in keys if key not in held], exclude=current.id)
        if found:
            raise duplicate_error(tx, edited, found, options)

    @abc.abstractmethod
    def _edit_events(self, before: Customer, after: Customer) -> list[Event]:
        """One event per changed editable field."""

    def _save_changes(self, tx: Transaction, before: Customer, after: Customer) -> Customer:
        """Store an edited customer with one event per changed field (nothing if unchanged)."""
        events = self._edit_events(before, after)
        if not events:
            return before
        stored = tx.update_customer(attrs.evolve(after, updated_at=self.clock.now()))
        tx.append_events(events)
        return stored

    # clusters and merges -------------------------------------------------------------

    def find_duplicates(self, *, with_customers: bool = False) -> list[DuplicateCluster]:
        """Clusters of live customers sharing a phone, email or WhatsApp key, transitively.

        Grouped in the store by key (an index scan), joined with union-find:
        never a pairwise comparison. ``with_customers`` loads the records too.
        """
        with self._tx() as tx, collector_paused():
            found = clusters(tx.duplicate_groups())
            if not with_customers:
                return found
            wanted = [customer_id for cluster in found for customer_id in cluster.customer_ids]
            records = {c.id: c for c in tx.get_customers(wanted)}
            return [
                attrs.evolve(cluster, customers=tuple(records[i] for i in cluster.customer_ids))
                for cluster in found
            ]

    def merge(self, primary: int, others: Sequence[int], *, dry_run: bool = False) -> MergeResult:
        """Merge ``others`` into ``primary`` in one transaction; ``dry_run`` changes nothing.

        The primary's values win and its blanks are filled from the others in
        order; contacts, tags and workers are unions de-duplicated by normalized
        key; custom fields merge like scalars; the primary keeps its status.
        Events, tasks, time entries, sub-customers and flow hides move to the
        primary; the others become tombstones whose ids lead to it. One
        ``merged`` event records what came from which record.
        """
        return self.merge_many([(primary, others)], dry_run=dry_run)[0]

    def merge_many(
        self, merges: Sequence[tuple[int, Sequence[int]]], *, dry_run: bool = False
    ) -> list[MergeResult]:
        """Several merges in one transaction, in order; a record one consumed cannot be used again."""
        now = self.clock.now()
        try:
            with self._tx() as tx:
                options = duplicate_settings(tx.get_setting(DUPLICATES_KEY)).normalize_options
                consumed: dict[int, int] = {}
                results = [
                    merge_records(
                        tx,
                        primary,
                        list(others),
                        options=options,
                        now=now,
                        event=self._event,
                        consumed=consumed,
                    )
                    for primary, others in merges
                ]
                if dry_run:
                    raise _DryRun([attrs.evolve(r, dry_run=True) for r in results])
                return results
        except _DryRun as rolled_back:
            return rolled_back.results
