"""Folders: groups of customers that each choose their status machine and custom fields."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from pipeline_core.domain.access import FolderAccess
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue

SETTINGS_KEY = "folders"
"""The key under which folder definitions live in the store's settings."""


def _name(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("a folder needs a non-blank name")
    return value.strip()


def _keys(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value.strip() for value in values if value.strip()))


@attrs.frozen(kw_only=True)
class Folder:
    """A folder (New Leads, Active Clients, Closed...): its own status machine and fields.

    ``machine`` None means the workspace's status machine; ``fields`` empty means
    every defined custom field applies; ``access`` says which roles may move
    customers into and out of it.
    """

    name: str = attrs.field(converter=_name)
    machine: StatusMachine | None = None
    fields: tuple[str, ...] = attrs.field(default=(), converter=_keys)
    access: FolderAccess = attrs.field(factory=FolderAccess)

    def __attrs_post_init__(self) -> None:
        if self.machine is not None and self.machine.name != f"folder:{self.name}":
            object.__setattr__(
                self, "machine", attrs.evolve(self.machine, name=f"folder:{self.name}")
            )

    def machine_or(self, default: StatusMachine) -> StatusMachine:
        """This folder's machine, or ``default`` when it uses the workspace's."""
        return self.machine or default

    @property
    def applicable(self) -> tuple[str, ...] | None:
        """The custom field keys that apply, or None for all of them."""
        return self.fields or None
