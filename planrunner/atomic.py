"""Crash-safe file replacement, the one way planrunner writes a file it must not lose.

Write a private temp file beside the target, fsync it, rename it over the target, fsync the
folder: a crash at any instant leaves the old file or the new one, whole, never half of one.
Files are created 0600 whatever the umask (they may hold account activity). `replace` and
`fsync` are seams for crash tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, data: bytes, *,
                     replace: Callable[[Path, Path], None] = os.replace,
                     fsync: Callable[[int], None] = os.fsync) -> None:
    """Raises OSError when the folder is missing or unwritable; callers say what to do."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by an earlier crash of this same pid number
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            fsync(fd)
        finally:
            os.close(fd)
        replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent, fsync)


def fsync_folder(folder: Path, fsync: Callable[[int], None] = os.fsync) -> None:
    """Make the rename itself durable, not only the bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
