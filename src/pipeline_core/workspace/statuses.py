"""Use cases of the workspace's status machine."""

from __future__ import annotations

import attrs

from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue
from pipeline_core.rules.ast import MATCH_ALL
from pipeline_core.workspace import duplicates
from pipeline_core.workspace.definitions import machine
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session


def show(s: Session) -> StatusMachine:
    """The workspace's status machine (the default lead pipeline is stored if there is none)."""
    return machine(s)


def init(s: Session, region: str | None = None) -> StatusMachine:
    """Make the workspace ready: its status machine, and with ``region`` its default phone region.

    The region reads phone numbers written without a country code; a number that
    cannot be read takes no part in duplicate checks.
    """
    if region is not None:
        duplicates.configure(s, default_region=region)
    return machine(s)


def replace(s: Session, new: StatusMachine) -> StatusMachine:
    """Replace the status machine; refused if a customer or a column uses a status it lacks."""
    new = attrs.evolve(new, name="default")
    require_admin(s, "change the status machine")
    for status in s.count_by_status(MATCH_ALL):
        if status not in new:
            raise InvalidValue(f"customers are in status {status!r}, which the new machine lacks")
    for flow in s.list_flows():
        for column in flow.columns:
            if column.status not in new:
                raise InvalidValue(
                    f"column {column.name!r} of flow {flow.name!r} maps to status "
                    f"{column.status!r}, which the new machine lacks"
                )
    s.put_status_machine(new)
    return new
