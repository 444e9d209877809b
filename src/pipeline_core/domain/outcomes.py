"""What entering a status does to a customer: converted_at, outcome, close date, lost reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline_core.customer import Customer, checked_text, trusted_replace
from pipeline_core.domain.statuses import EntryAction, Status
from pipeline_core.errors import InvalidValue


def enter_status(
    customer: Customer, status: Status, now: datetime, lost_reason: str | None = None
) -> Customer:
    """``customer`` as it is after entering ``status`` at ``now`` (its ``updated_at``).

    - ``converted_at`` is stamped by the entry action, once: never overwritten.
    - A won or lost status sets the outcome and stamps ``closed_at``; moving
      between two statuses of the same outcome keeps the first close date.
    - An open status (no marker) clears the outcome, close date and lost reason.
    - ``lost_reason`` is kept only while the outcome is lost.
    """
    # Every change is the library's own (a machine's status, the clock, a listed
    # reason): the converters of ``attrs.evolve`` would only check them again.
    return trusted_replace(customer, **status_changes(customer, status, now, lost_reason))


def status_changes(
    customer: Customer, status: Status, now: datetime, lost_reason: str | None = None
) -> dict[str, Any]:
    """The attribute changes of ``enter_status``, to apply together with others in one copy."""
    changes: dict[str, Any] = {"status": status.name, "updated_at": now}
    if EntryAction.STAMP_CONVERTED_AT in status.actions and customer.converted_at is None:
        changes["converted_at"] = now
    if status.outcome is None:
        changes.update(outcome=None, closed_at=None, lost_reason=None)
    else:
        same = customer.outcome == status.outcome and customer.closed_at is not None
        changes.update(
            outcome=status.outcome,
            closed_at=customer.closed_at if same else now,
            lost_reason=lost_reason if status.outcome == "lost" else None,
        )
    if now.tzinfo is None:
        raise InvalidValue(f"timestamp {now.isoformat()} must carry a time zone")
    if changes.get("lost_reason") is not None:
        changes["lost_reason"] = checked_text(changes["lost_reason"]).strip() or None
    return changes
