"""Finding a store backend by URL scheme: built-ins plus the ``pipeline_core.storage`` entry points."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from pipeline_core.errors import StoreError
from pipeline_core.storage.protocol import Store

Opener = Callable[..., Store]
"""A backend: called with the URL, and with ``create=False`` when it accepts that keyword."""

ENTRY_POINT_GROUP = "pipeline_core.storage"

_registered: dict[str, Opener] = {}


def register_backend(scheme: str, opener: Opener) -> None:
    """Make ``scheme:`` URLs open with ``opener`` (for backends not installed as packages)."""
    _registered[scheme] = opener


def _builtin(scheme: str) -> Opener | None:
    # Imported lazily so that opening a memory store never imports sqlite3, and vice versa.
    if scheme == "memory":
        from pipeline_core.storage.memory import open_memory_store

        return open_memory_store
    if scheme == "sqlite":
        from pipeline_core.storage.sqlite import open_sqlite_store

        return open_sqlite_store
    if scheme in ("postgresql", "postgres"):
        from pipeline_core.storage.postgres import open_postgres_store

        return open_postgres_store
    return None


def known_schemes() -> list[str]:
    """Every scheme a URL may use here."""
    names = {"memory", "sqlite", "postgresql", *_registered}
    from importlib.metadata import entry_points  # slow to import; only for this look-up

    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def open_store(url: str, *, create: bool = True) -> Store:
    """Open the store a URL names: ``memory:``, ``sqlite:///path.db``, ``postgresql://...``,
    or a scheme registered by ``register_backend`` or the ``pipeline_core.storage`` entry points.

    With ``create=False`` a store that does not exist yet (a missing SQLite file, an
    empty database) is refused with ``StoreError`` instead of being made. A
    third-party backend whose opener takes no ``create`` keyword opens as it always does.
    """
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise StoreError(f"store URL {url!r} has no scheme; try sqlite:///pipeline.db or memory:")
    opener = _registered.get(scheme) or _builtin(scheme)
    if opener is None:
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP, name=scheme):
            opener = entry.load()
            break
    if opener is None:
        raise StoreError(
            f"unknown store URL scheme {scheme!r} in {url!r}; known: {', '.join(known_schemes())}"
        )
    if create or not _takes_create(opener):
        return opener(url)
    return opener(url, create=False)


def _takes_create(opener: Opener) -> bool:
    # Backends written before the keyword existed take the URL alone.
    try:
        parameters = inspect.signature(opener).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return "create" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
