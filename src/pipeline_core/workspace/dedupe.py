"""Duplicate checks and merges inside one transaction: the store-facing half of the workspace's
duplicate use cases (``Workspace.add_customer``, ``edit_customer``, ``merge``...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import attrs

from pipeline_core.customer import Customer
from pipeline_core.domain.duplicates import (
    MergeResult,
)
from pipeline_core.domain.events import Event, EventKind, JSONValue
from pipeline_core.domain.merge import combine, contribution_data
from pipeline_core.domain.normalize import ContactKey, NormalizeOptions, normalize_phone
from pipeline_core.errors import DuplicateCustomer, InvalidValue, MergedMeanwhile
from pipeline_core.storage import Transaction

EventMaker = Callable[..., Event]
"""``maker(customer_id, kind, **data)``: the workspace's event factory."""


def resolve(tx: Transaction, customer_id: int) -> int:
    """The live customer an id leads to: itself, or the primary a tombstone was merged into."""
    seen = {customer_id}
    target = tx.merged_into(customer_id)
    while target is not None:
        customer_id = target
        if customer_id in seen:  # stores repoint tombstones, so a loop means corrupt data
            raise InvalidValue(f"customer {customer_id} is merged into itself through a loop")
        seen.add(customer_id)
        target = tx.merged_into(customer_id)
    return customer_id


def matches(
    tx: Transaction, keys: Sequence[ContactKey], *, exclude: int = 0
) -> list[tuple[ContactKey, int]]:
    """Live customers (other than ``exclude``) holding one of the valid ``keys``."""
    wanted = [key for key in keys if key.valid]
    if not wanted:
        return []
    return [pair for pair in tx.find_by_keys(wanted) if pair[1] != exclude]


def duplicate_error(
    tx: Transaction,
    customer: Customer,
    found: Sequence[tuple[ContactKey, int]],
    options: NormalizeOptions,
) -> DuplicateCustomer:
    """``DuplicateCustomer`` naming each matched key, the field it came from and the customer."""
    labels = _labels(customer, options)
    existing = tx.get_customers([customer_id for _, customer_id in found])
    names = {c.id: c.name for c in existing}
    parts = [
        f"{labels.get(key, key.kind)} {key.key} matches customer {customer_id} ({names[customer_id]})"
        for key, customer_id in found
    ]
    return DuplicateCustomer(existing, "; ".join(parts), keys=[key for key, _ in found])


def _labels(customer: Customer, options: NormalizeOptions) -> dict[ContactKey, str]:
    region = customer.country or options.default_region
    labels: dict[ContactKey, str] = {}
    for phone in customer.phones:
        labels.setdefault(normalize_phone(phone, region), "phone")
    if customer.whatsapp:
        labels.setdefault(normalize_phone(customer.whatsapp, region, whatsapp=True), "whatsapp")
    return labels


def _parent_check(tx: Transaction, merging: set[int]) -> Callable[[int], bool]:
    def allowed(parent_id: int) -> bool:
        ancestor: int | None = resolve(tx, parent_id)
        steps = 0
        while ancestor is not None and steps < 10_000:
            if ancestor in merging:  # a merged record, or a descendant of one: a cycle
                return False
            ancestor = tx.get_customer(ancestor).parent_id
            steps += 1
        return True

    return allowed


def merge_records(
    tx: Transaction,
    primary_id: int,
    other_ids: Sequence[int],
    *,
    options: NormalizeOptions,
    now: datetime,
    event: EventMaker,
    consumed: dict[int, int] | None = None,
) -> MergeResult:
    """Merge ``other_ids`` into ``primary_id`` within ``tx``; see ``Workspace.merge``.

    ``consumed`` maps ids that earlier merges of the same batch turned into
    tombstones to their primary, so that the error can say so.
    """
    consumed = {} if consumed is None else consumed
    ids = [primary_id, *other_ids]
    if not other_ids:
        raise InvalidValue(f"nothing to merge into customer {primary_id}: give other customers")
    if primary_id in other_ids:
        raise InvalidValue(f"cannot merge customer {primary_id} into itself")
    repeated = sorted({i for i in other_ids if other_ids.count(i) > 1})
    if repeated:
        raise InvalidValue(f"customer {repeated[0]} is listed more than once in the merge")
    for customer_id in ids:
        tx.get_customer(customer_id)
        target = tx.merged_into(customer_id)
        if target is None:
            continue
        when = " by an earlier merge in this batch" if customer_id in consumed else ""
        if customer_id == primary_id:
            raise InvalidValue(
                f"cannot merge into customer {customer_id}: it was merged into {target}{when};"
                f" merge into {resolve(tx, customer_id)} instead"
            )
        raise InvalidValue(f"customer {customer_id} was already merged into {target}{when}")
    locked = _locked(tx, primary_id, ids)
    primary = locked[primary_id]
    others = [locked[i] for i in other_ids]
    combined = combine(primary, others, options, parent_allowed=_parent_check(tx, set(ids)))
    merged = attrs.evolve(combined.customer, updated_at=now)
    details: list[JSONValue] = []
    for other, contribution in zip(others, combined.contributions, strict=True):
        data = contribution_data(contribution, other.name)
        # Everything attached to a merged record moves to the primary: a new kind of
        # attached record must be added to the stores' move_attachments.
        data.update(_move_attachments(tx, other.id, primary_id, set(ids), now, event))
        tx.mark_merged(other.id, primary_id)
        consumed[other.id] = primary_id
        details.append(data)
    record: dict[str, JSONValue] = {"merged": details}
    stored = tx.update_customer(merged)
    tx.append_events([event(primary_id, EventKind.MERGED, **record)])
    return MergeResult(stored, tuple(other_ids), record)


def _locked(tx: Transaction, primary_id: int, ids: Sequence[int]) -> dict[int, Customer]:
    """Lock the customers of a merge and read them as committed; refuse one merged meanwhile.

    In ascending id order, so that two merges sharing customers never wait on
    each other in a circle. A merge that lost the race to another one waited
    here for it to commit and now refuses, naming where the customer went.
    """
    locked: dict[int, Customer] = {}
    for customer_id in sorted(ids):
        try:
            customer = tx.lock_customer(customer_id)
        except MergedMeanwhile as error:  # a bare store transaction does not follow
            into = error.into
        else:
            if customer.id == customer_id:
                locked[customer_id] = customer
                continue
            into = customer.id  # the session followed the old id to its primary
        if customer_id == primary_id:
            raise InvalidValue(
                f"cannot merge into customer {customer_id}: it was merged into {into}"
                f" meanwhile; merge into {into} instead"
            )
        else:
            raise InvalidValue(f"customer {customer_id} was merged into {into} meanwhile")
    return locked


def _move_attachments(
    tx: Transaction,
    from_id: int,
    to_id: int,
    merging: set[int],
    now: datetime,
    event: EventMaker,
) -> dict[str, JSONValue]:
    moved: dict[str, JSONValue] = {}
    # Notes and contacts are events; follow-ups are a field (filled like scalars).
    for kind, ids in tx.move_attachments(from_id, to_id).items():
        if ids:
            moved[kind] = list[JSONValue](ids)
    moved_records, conflicts = tx.move_records(from_id, to_id)
    if moved_records:
        moved["records"] = list[JSONValue](moved_records)
    if conflicts:
        # Both held a record of one kind and reference: the primary's is kept, the other
        # stays on the merged customer (readable by its id), and the merge says so.
        report: list[JSONValue] = []
        for kept, left in conflicts:
            record = tx.get_record(left)
            report.append({"kind": record.kind, "ref": record.ref, "kept": kept, "left": left})
        moved["record_conflicts"] = report
    children: list[int] = []
    for listed in tx.children(from_id):
        if listed.id in merging:
            continue
        child = tx.lock_customer(listed.id)
        if child.id != listed.id or child.parent_id != from_id:
            continue  # merged or moved by another writer since it was listed
        tx.update_customer(attrs.evolve(child, parent_id=to_id, updated_at=now))
        tx.append_events(
            [event(child.id, EventKind.EDITED, field="parent_id", before=from_id, after=to_id)]
        )
        children.append(child.id)
    if children:
        moved["children"] = list[JSONValue](children)
    flows = tx.hidden_flows(from_id)
    for flow in flows:
        # The hide moves with who made it and when (unknown for hides before schema 11).
        mark = next((h for h in tx.flow_hides(flow) if h.customer_id == from_id), None)
        if mark is not None and mark.hidden_by is not None and mark.hidden_at is not None:
            tx.hide_from_flow(flow, to_id, mark.hidden_by, mark.hidden_at)
        else:
            tx.set_hidden(flow, to_id, True)
        tx.set_hidden(flow, from_id, False)
    if flows:
        moved["hidden_from"] = list[JSONValue](flows)
    return moved


def absorb(
    tx: Transaction,
    existing_id: int,
    incoming: Customer,
    found: Sequence[tuple[ContactKey, int]],
    *,
    options: NormalizeOptions,
    now: datetime,
    event: EventMaker,
) -> Customer:
    """Fold a new record into an existing customer (policy ``merge``): nothing is inserted."""
    existing = tx.lock_customer(existing_id)
    combined = combine(
        existing, [incoming], options, parent_allowed=_parent_check(tx, {existing_id})
    )
    data = contribution_data(combined.contributions[0], incoming.name)
    data["id"] = None
    data["matched"] = [f"{key.kind} {key.key}" for key, i in found if i == existing_id]
    stored = tx.update_customer(attrs.evolve(combined.customer, updated_at=now))
    tx.append_events([event(existing_id, EventKind.MERGED, merged=[data])])
    return stored


def updated_with(
    tx: Transaction, existing_id: int, incoming: Customer, options: NormalizeOptions
) -> tuple[Customer, Customer]:
    """(existing, existing updated with the new record's values) for policy ``update``.

    The new non-empty values win; contacts, tags and workers are unions;
    status and its timestamps stay (a status changes only through a move).
    """
    existing = tx.lock_customer(existing_id)
    combined = combine(
        attrs.evolve(incoming, id=existing_id),
        [existing],
        options,
        parent_allowed=_parent_check(tx, {existing_id}),
    )
    kept = {
        name: getattr(existing, name)
        for name in ("status", "outcome", "converted_at", "created_at", "version")
    }
    return existing, attrs.evolve(combined.customer, **kept)
