"""Files written whole or not at all: a temporary file beside the target, renamed over it.

A reader of ``NAME`` sees the previous file or the finished new one, never a part
of it. The writer writes ``.NAME.partial-PID`` in the same directory (a rename is
atomic only within one file system), and once it has finished, the file is
flushed, fsynced and renamed over ``NAME`` with ``os.replace``. A writer that
fails removes its temporary file and leaves ``NAME`` as it was; a process that is
killed (SIGKILL, power loss) cannot clean up, so it may leave its
``.NAME.partial-PID`` behind, named so that nobody takes it for the export, and
``NAME`` is still the previous file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from pipeline_core.errors import ImportFileError


def partial_name(target: Path, pid: int, attempt: int = 1) -> Path:
    """The temporary file a process ``pid`` writes before renaming it to ``target``."""
    suffix = "" if attempt == 1 else f"-{attempt}"
    return target.with_name(f".{target.name}.partial-{pid}{suffix}")


@contextmanager
def atomic_output(path: Path, *, binary: bool) -> Iterator[IO[Any]]:
    """A stream (UTF-8 text without newline translation, or bytes) that becomes ``path`` on success.

    ``path`` is replaced only when the ``with`` block ends without an error; on an
    error the temporary file is removed and the error raised. A path that is not a
    regular file (``/dev/stdout``, a named pipe) cannot be renamed over, so it is
    written in place. A symbolic link stays a link: its target is replaced.
    """
    try:
        existing: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise _unwritable(path, error) from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:
            handle = _stream(os.open(path, os.O_WRONLY | os.O_TRUNC | _BINARY), binary)
        except OSError as error:
            raise _unwritable(path, error) from None
        with handle:
            yield handle
        return
    target = Path(os.path.realpath(path))
    temporary, descriptor = _create(path, target)
    try:
        if existing is not None:
            # The new file is read by whoever read the old one.
            os.chmod(temporary, stat.S_IMODE(existing.st_mode))
        with _stream(descriptor, binary) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        with suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):  # a full disk, a lost mount: one line, not a traceback
            raise _unwritable(path, error) from None
        raise
    _sync_directory(target.parent)


_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation at the descriptor


def _create(path: Path, target: Path) -> tuple[Path, int]:
    """A new temporary file beside ``target``: ``.NAME.partial-PID``, or ``-2``... if taken."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
    for attempt in range(1, 1000):
        temporary = partial_name(target, os.getpid(), attempt)
        try:
            # 0o666 less the umask: the mode a file made by open() would get.
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue  # another export of this process, or one of a dead one with our pid
        except OSError as error:
            raise _unwritable(path, error) from None
    raise ImportFileError(f"{path}: cannot write: too many unfinished exports beside it")


def _stream(descriptor: int, binary: bool) -> IO[Any]:
    try:
        if binary:
            return os.fdopen(descriptor, "wb")
        return os.fdopen(descriptor, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(descriptor)
        raise


def _sync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); where a directory cannot be opened, skip."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _unwritable(path: Path, error: OSError) -> ImportFileError:
    return ImportFileError(f"{path}: cannot write: {error.strerror or error}")
