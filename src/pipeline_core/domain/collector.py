"""Settings of the cyclic garbage collector that bulk work asks for, safe for threads.

The collector's settings belong to the whole process, while the bulk work that
wants them (an import, a duplicate scan) is one call among others: two threads of
one shared Workspace may run such calls at once. Each setting is therefore held,
not set: the first holder applies it, the last one to leave restores what was
there before, so an early finisher never takes it away from a run still going,
and the process always ends as it began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Restore = Callable[[], None]


class SharedSetting:
    """A process-wide setting held by any number of calls at once (see the module)."""

    def __init__(self, apply: Callable[[], Restore]) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._holders = 0
        self._restore: Restore | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """The setting applied for the block (and for as long as any other holder runs)."""
        with self._lock:
            if self._holders == 0:
                self._restore = self._apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._restore is not None:
                    restore, self._restore = self._restore, None
                    restore()


def _pause() -> Restore:
    was_enabled = gc.isenabled()
    gc.disable()
    return gc.enable if was_enabled else lambda: None


YOUNG_THRESHOLD = 50_000
"""Allocations between the young passes while old objects are set aside (700 by default)."""


def _set_aside() -> Restore:
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])

    def restore() -> None:
        gc.set_threshold(*thresholds)
        gc.unfreeze()

    return restore


PAUSED = SharedSetting(_pause)
"""The collector off: for building many small objects none of which is cyclic
(reference counting still frees them all)."""

OLD_OBJECTS_SET_ASIDE = SharedSetting(_set_aside)
"""The objects that existed before kept out of the passes (``gc.freeze``) and the
young generation collected only every ``YOUNG_THRESHOLD`` allocations."""
