"""Use cases of folders: groups of customers with their own status machine, fields and access."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from pipeline_core.domain.access import FolderAccess, Role
from pipeline_core.domain.folders import Folder
from pipeline_core.domain.statuses import StatusMachine
from pipeline_core.errors import InvalidValue, NotFound
from pipeline_core.rules.ast import InSet
from pipeline_core.workspace.definitions import (
    field_definitions,
    folder_named,
    folders,
    put_folders,
)
from pipeline_core.workspace.permissions import require_admin
from pipeline_core.workspace.session import Session


def add(
    s: Session, name: str, machine: StatusMachine | None = None, fields: Iterable[str] = ()
) -> Folder:
    """Define a folder with its own status machine (None: the workspace's) and fields."""
    folder = Folder(name=name, machine=machine, fields=tuple(fields))
    require_admin(s, "define folders")
    defined = folders(s)
    if folder.name in defined:
        raise InvalidValue(f"a folder called {folder.name!r} already exists")
    known = field_definitions(s)
    unknown = [key for key in folder.fields if key not in known]
    if unknown:
        raise InvalidValue(
            f"folder {folder.name!r} names undefined custom field(s): {', '.join(unknown)}"
        )
    defined[folder.name] = folder
    put_folders(s, defined)
    return folder


def list_folders(s: Session) -> list[Folder]:
    """Every defined folder, by name."""
    return [f for _, f in sorted(folders(s).items())]


def get(s: Session, name: str) -> Folder:
    """The folder called ``name``."""
    found = folder_named(s, name)
    if found is None:
        raise NotFound(f"no folder called {name!r}")
    return found


def remove(s: Session, name: str) -> None:
    """Delete a folder definition; refused while customers are in it."""
    require_admin(s, "remove folders")
    defined = folders(s)
    if name not in defined:
        raise NotFound(f"no folder called {name!r}")
    inside = s.count_customers(InSet("folder", (name,)))
    if inside:
        raise InvalidValue(f"{inside} customer(s) are in folder {name!r}; move them first")
    del defined[name]
    put_folders(s, defined)


def set_access(
    s: Session,
    folder: str,
    *,
    enter: Iterable[Role | str] | None = None,
    leave: Iterable[Role | str] | None = None,
) -> FolderAccess:
    """Say which roles may move customers into and out of a folder (empty: every role)."""
    require_admin(s, "change folder permissions")
    defined = folders(s)
    found = defined.get(folder)
    if found is None:
        raise NotFound(f"no folder called {folder!r}")
    changes: dict[str, Any] = {}
    if enter is not None:
        changes["enter"] = tuple(enter)
    if leave is not None:
        changes["leave"] = tuple(leave)
    access = attrs.evolve(found.access, **changes)
    defined[folder] = attrs.evolve(found, access=access)
    put_folders(s, defined)
    return access
