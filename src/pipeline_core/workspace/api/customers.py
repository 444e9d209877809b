"""``ws.customers``: the customer records and everything done to one."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol

from pipeline_core.customer import Customer
from pipeline_core.domain.duplicates import DuplicateCluster, DuplicatePolicy, MergeResult
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.search import DEFAULT_LIMIT
from pipeline_core.domain.view import CustomerTree, CustomerView, ListedCustomer
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace import (
    customers,
    duplicates,
    life,
    paging,
    records,
)
from pipeline_core.workspace.rules import RuleLike
from pipeline_core.workspace.session import Session, SessionOpener

if TYPE_CHECKING:
    # The file formats and the import engine (multiprocessing, readers) load when a
    # bulk method first runs: a board or a move never pays for them.
    from pipeline_core.importing.export import ExportFormat
    from pipeline_core.importing.options import (
        Companies,
        ImportOptions,
        ImportProgress,
        ImportSummary,
    )
    from pipeline_core.importing.template import Template, TemplateFormat

P = ParamSpec("P")


class TrackingOpener(SessionOpener, Protocol):
    """A session opener that also tells which customers the automations changed."""

    def write_tracked(
        self,
        expected_version: int | None,
        use_case: Callable[Concatenate[Session, P], Customer],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> tuple[Customer, set[int]]:
        """``write``, and the ids of customers that automations it set off changed."""
        ...


class Customers:
    """The customer records: ``ws.customers.add(...)``, ``.get(id)``, ``.list(where)``...

    Methods that change a customer return it as stored after the automations
    its change set off have run.
    """

    def __init__(self, opener: TrackingOpener) -> None:
        self._opener = opener

    def _changed(
        self,
        expected_version: int | None,
        use_case: Callable[Concatenate[Session, P], Customer],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Customer:
        result, touched = self._opener.write_tracked(expected_version, use_case, *args, **kwargs)
        if result.id in touched:
            return self._opener.run(customers.get, result.id)
        return result

    # the record ------------------------------------------------------------------------------

    def add(self, customer: Customer, *, on_duplicate: DuplicatePolicy | None = None) -> Customer:
        """Store a new customer; see ``pipeline_core.workspace.customers.add``.

        Duplicates by phone, email or WhatsApp: ``on_duplicate`` is ``block``
        (``DuplicateCustomer``), ``allow``, ``merge`` or ``update`` (default: the
        ``allow_duplicates`` setting, else ``block``). See docs/duplicates.md.
        """
        # Retried like an unpinned write: on PostgreSQL two writers adding the same
        # new phone or email at once collide on a unique index, and the one that
        # lost re-runs and finds the other's customer (see docs/storage.md).
        return self._changed(None, customers.add, customer, on_duplicate=on_duplicate)

    def unreadable_phones(self, customer: Customer) -> tuple[str, ...]:
        """The customer's phones that cannot be read (no country or default region, not a number).

        Such numbers take no part in duplicate checks; ``pipeline customers add`` warns of them.
        """
        return self._opener.run(duplicates.unreadable_phones, customer)

    def get(self, customer_id: int) -> Customer:
        """The customer with that id (a merged one's id leads to its primary)."""
        return self._opener.run(customers.get, customer_id)

    def show(self, customer_id: int, *, recent: int = life.RECENT_EVENTS) -> CustomerView:
        """The 360-degree view: profile, family, tasks, follow-up, time, latest events."""
        return self._opener.run(life.view, customer_id, recent=recent)

    def list(
        self, where: RuleLike = MATCH_ALL, *, limit: int | None = None, offset: int = 0
    ) -> builtins.list[Customer]:
        """Customers satisfying ``where`` (a rule, rule text or saved filter name), oldest first."""
        return self._opener.run(customers.list_customers, where, limit=limit, offset=offset)

    def listing(
        self,
        where: RuleLike = MATCH_ALL,
        *,
        unseen: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[ListedCustomer]:
        """``iter`` with each customer's new-activity badge: the events others made since
        the acting user last opened it (``show``); ``unseen``: only those with some."""
        return records.listing(self._opener, where, unseen=unseen, limit=limit, offset=offset)

    def badges(self, customer_ids: Sequence[int]) -> dict[int, int]:
        """Per customer, the events others made since the acting user last opened it."""
        return self._opener.run(records.badges, customer_ids)

    def iter(
        self,
        where: RuleLike = MATCH_ALL,
        *,
        page: int = paging.EXPORT_PAGE,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[Customer]:
        """``list``, read ``page`` customers at a time, each page in a session of its own.

        Memory stays flat however many customers match: what ``pipeline customers
        list --nl`` prints from. The rule is checked at once; the pages are read by
        id as the iterator is consumed, so it is not one snapshot (a customer added
        meanwhile may appear). See ``pipeline_core.workspace.paging.iterate``.
        """
        return paging.iterate(self._opener, where, page=page, limit=limit, offset=offset)

    def count(self, where: RuleLike = MATCH_ALL) -> int:
        """How many customers satisfy ``where``."""
        return self._opener.run(customers.count, where)

    def search(
        self, text: str, *, where: RuleLike = MATCH_ALL, limit: int = DEFAULT_LIMIT
    ) -> builtins.list[Customer]:
        """Customers found by name, email, phone or tag, best match first."""
        return self._opener.run(customers.search, text, where=where, limit=limit)

    def edit(
        self,
        /,  # so that ``**changes`` may hold any name (and AsyncCustomers.edit type-checks)
        customer_id: int,
        *,
        expected_version: int | None = None,
        on_duplicate: DuplicatePolicy | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: Iterable[str] = (),
        **changes: Any,
    ) -> Customer:
        """Change fields of a customer; one event per changed field.

        Only fields in ``EDITABLE_FIELDS`` may change here: status moves go
        through ``move``. ``expected_version`` guards against lost updates.
        ``add_tags``/``remove_tags`` and ``set_fields``/``remove_fields`` change
        tags and custom fields relative to what is stored, in the same
        transaction (``tags=``/``fields=`` replace them whole). A phone, email or
        WhatsApp the edit adds that another live customer holds raises
        ``DuplicateCustomer`` unless ``on_duplicate`` is ``allow``.
        """
        relative = customers.RelativeEdit(
            tuple(add_tags), tuple(remove_tags), dict(set_fields or {}), tuple(remove_fields)
        )
        return self._changed(
            expected_version,
            customers.edit,
            customer_id,
            expected_version=expected_version,
            on_duplicate=on_duplicate,
            relative=relative,
            **changes,
        )

    def move(
        self,
        customer_id: int,
        status: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Move a customer to ``status`` through its folder's status machine.

        ``TransitionNotAllowed`` if the machine does not allow it; a move into a
        lost status needs ``reason`` (``other`` with ``reason_text``).
        """
        return self._changed(
            expected_version,
            customers.move,
            customer_id,
            status,
            expected_version=expected_version,
            reason=reason,
            reason_text=reason_text,
        )

    def timeline(
        self, customer_id: int, kinds: Iterable[EventKind | str] | None = None
    ) -> builtins.list[Event]:
        """Every event of a customer, oldest first; only those of ``kinds`` if given."""
        return self._opener.run(customers.timeline, customer_id, kinds)

    # the customer's life ---------------------------------------------------------------------

    def contact(
        self, customer_id: int, notes: str | None = None, *, channel: str | None = None
    ) -> Customer:
        """Record that someone contacted the customer now; notes go on top of the lead notes."""
        return self._changed(None, life.log_contact, customer_id, notes, channel=channel)

    def follow_up(self, customer_id: int, on: date, notes: str | None = None) -> Customer:
        """Set the customer's next follow-up date."""
        return self._changed(None, life.schedule_follow_up, customer_id, on, notes)

    def follow_up_done(self, customer_id: int, notes: str | None = None) -> Customer:
        """Mark the customer's follow-up done."""
        return self._changed(None, life.complete_follow_up, customer_id, notes)

    def deal(
        self,
        customer_id: int,
        value: Decimal | int | str | None,
        currency: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> Customer:
        """Set the deal value (a decimal) and its currency; a value needs a currency."""
        return self._changed(
            expected_version,
            life.set_deal,
            customer_id,
            value,
            currency,
            expected_version=expected_version,
        )

    def convert(self, customer_id: int, order_id: str, *, force: bool = False) -> Customer:
        """Record the order the customer became; stamps ``converted_at`` the first time."""
        return self._changed(None, life.convert_to_order, customer_id, order_id, force=force)

    def parent(self, customer_id: int, parent_id: int | None) -> Customer:
        """Make ``parent_id`` the customer's parent (None: none); a cycle is refused."""
        return self._changed(None, life.set_parent, customer_id, parent_id)

    def children(self, customer_id: int) -> builtins.list[Customer]:
        """The customer's direct sub-customers, oldest first."""
        return self._opener.run(life.children, customer_id)

    def tree(self, customer_id: int, *, from_root: bool = False) -> CustomerTree:
        """The customer and all its sub-customers; ``from_root``: its topmost ancestor's tree."""
        return self._opener.run(life.tree, customer_id, from_root=from_root)

    def folder(
        self,
        customer_id: int,
        folder: str | None,
        *,
        status: str | None = None,
        reason: str | None = None,
        reason_text: str | None = None,
    ) -> Customer:
        """Move a customer into ``folder`` (None: out of any), switching status machine."""
        return self._changed(
            None,
            life.set_folder,
            customer_id,
            folder,
            status=status,
            reason=reason,
            reason_text=reason_text,
        )

    def activity(
        self,
        customer_id: int,
        kind: str,
        summary: str,
        *,
        at: datetime | None = None,
        ref: str | None = None,
        data: Mapping[str, JSONValue] | None = None,
    ) -> Event:
        """Put something the host application did on the customer's timeline; the stored event."""
        return self._opener.write(
            None, life.record_activity, customer_id, kind, summary, at=at, ref=ref, data=data
        )

    # duplicates --------------------------------------------------------------------------------

    def dupes(self, *, with_customers: bool = False) -> builtins.list[DuplicateCluster]:
        """Clusters of live customers sharing a phone, email or WhatsApp key, transitively."""
        return self._opener.run(duplicates.find, with_customers=with_customers)

    def merge(self, primary: int, others: Sequence[int], *, dry_run: bool = False) -> MergeResult:
        """Merge ``others`` into ``primary`` in one transaction; ``dry_run`` changes nothing.

        The primary's values win and its blanks are filled from the others in order;
        contacts, tags and workers are unions; events, tasks, time entries,
        sub-customers and flow hides move to the primary; the others become
        tombstones whose ids lead to it. See docs/duplicates.md.
        """
        return self.merge_many([(primary, others)], dry_run=dry_run)[0]

    def merge_many(
        self, merges: Sequence[tuple[int, Sequence[int]]], *, dry_run: bool = False
    ) -> builtins.list[MergeResult]:
        """Several merges in one transaction, in order; a record one consumed cannot be used again.

        The customers are locked first; a merge that another writer's change raced
        (PostgreSQL) is re-run on fresh data, and one that lost a customer to a
        concurrent merge is refused naming where it went. See docs/duplicates.md.
        """
        try:
            # Retried like an unpinned write: the merge is re-read and re-checked whole.
            return self._opener.write(None, duplicates.merge_many, merges, dry_run=dry_run)
        except duplicates.DryRunRollback as rolled_back:
            return rolled_back.results

    # bulk --------------------------------------------------------------------------------------

    def import_file(
        self,
        source: str | Path | IO[bytes],
        options: ImportOptions | None = None,
        *,
        profile: str | None = None,
        progress: Callable[[ImportProgress], None] | None = None,
        name: str | None = None,
    ) -> ImportSummary:
        """Import customers from a file (a path, or a binary stream such as stdin).

        Each batch is one transaction with its ledger entry: an interrupted import
        run again resumes after the last committed line. ``progress`` is called with
        an ``ImportProgress`` when the rows start and after each batch; Ctrl-C raises
        ``ImportInterrupted`` (a ``KeyboardInterrupt``) naming the last committed line.
        See docs/import-export.md.
        """
        from pipeline_core.workspace import bulk

        return bulk.import_file(
            self._opener, source, options, profile=profile, progress=progress, name=name
        )

    def export(
        self,
        out: str | Path | IO[Any],
        format: ExportFormat = "csv",
        *,
        where: RuleLike = MATCH_ALL,
        columns: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
        raw: bool = False,
    ) -> int:
        """Write customers satisfying ``where`` to ``out``, oldest first; returns how many.

        ``out`` is a stream, or a path written whole or not at all (a temporary file
        beside it, renamed over it when complete). ``progress`` is called with the
        number of customers of each page written. CSV, TSV and xlsx cells a
        spreadsheet would run as a formula get an apostrophe in front unless ``raw``.
        See docs/import-export.md.
        """
        from pipeline_core.workspace import bulk

        return bulk.export(
            self._opener, out, format, where=where, columns=columns, progress=progress, raw=raw
        )

    def template(
        self, out: str | Path | IO[Any] | None = None, format: TemplateFormat = "csv"
    ) -> Template:
        """The import template (columns, an example row, a guide); written to ``out`` if given.

        ``out`` is a path (written whole or not at all) or a stream (text for CSV,
        binary for xlsx). Filled in, it imports with no mapping.
        """
        from pipeline_core.workspace import bulk

        sheet = self._opener.run(bulk.template)
        return sheet if out is None else bulk.write_template(out, format, sheet)

    def import_profiles(self) -> dict[str, dict[str, JSONValue]]:
        """Every saved mapping profile by name."""
        from pipeline_core.workspace import import_engine

        return self._opener.run(import_engine.profiles)

    def save_import_profile(
        self,
        name: str,
        mapping: Mapping[str, str] | Sequence[str],
        *,
        keep_unknown: bool = False,
        region: str | None = None,
        map_status: Mapping[str, str] | None = None,
        companies: Companies = "field",
    ) -> dict[str, JSONValue]:
        """Save a named mapping (``Header=field`` pairs, status values, companies) for ``profile=``."""
        from pipeline_core.workspace import bulk

        return self._opener.run(
            bulk.save_profile,
            name,
            mapping,
            keep_unknown=keep_unknown,
            region=region,
            map_status=map_status,
            companies=companies,
        )
