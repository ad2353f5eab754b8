"""The sidecar lock beside a state file: one planrunner process per state at a time.

`fcntl.flock` on `<state>.lock`, non-blocking. The kernel drops the lock when its holder dies, so a
crashed run never leaves a stale lock behind; the JSON inside the file only says who holds it, for
the error message a second process gets. The file is never deleted on release: deleting a flocked
file would let two processes lock two different inodes under the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from planrunner.errors import StateError, StateLocked


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int
    command: str
    host: str
    since: str  # ISO 8601 UTC

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command}) on {self.host} since {self.since}"


def _read_holder(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        return LockHolder(pid=int(data["pid"]), command=str(data["command"]),
                          host=str(data["host"]), since=str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _holder_now(command: str) -> LockHolder:
    since = datetime.now(UTC).replace(microsecond=0).isoformat()
    return LockHolder(pid=os.getpid(), command=command, host=socket.gethostname(), since=since)


def _locked_error(lock_path: Path, state_path: Path) -> StateLocked:
    holder = _read_holder(lock_path)
    who = holder.describe() if holder else "another process (it has not recorded its details yet)"
    return StateLocked(
        f"{state_path} is locked by {who}. Wait for that run to finish, or stop it; if it is hung, "
        f"`planrunner force-unlock` removes the lock ({lock_path}).")


class StateLock:
    """The lock for one state file. `hold(command)` is a context manager."""

    def __init__(self, state_path: Path):
        self.state_path = Path(state_path)
        self.path = self.state_path.with_name(self.state_path.name + ".lock")

    @contextmanager
    def hold(self, command: str) -> Iterator[LockHolder]:
        fd = self._open(os.O_RDWR | os.O_CREAT)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _locked_error(self.path, self.state_path) from None
            holder = _holder_now(command)
            self._record(fd, json.dumps(_as_dict(holder), sort_keys=True))
            try:
                yield holder
            finally:
                self._record(fd, "")
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """Who holds the lock right now (None when nobody does)."""
        if not self.path.exists():
            return None
        fd = self._open(os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(self.path) or LockHolder(0, "unknown", "unknown", "unknown")
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def force_unlock(self) -> LockHolder | None:
        """Remove the lock file; returns who held it. A hung holder keeps its lock on the old
        inode but no longer blocks anyone."""
        holder = self.holder()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        return holder

    def _open(self, flags: int) -> int:
        try:
            return os.open(self.path, flags, 0o600)
        except IsADirectoryError:
            raise StateError(f"{self.path} is a folder, but planrunner keeps the lock for "
                             f"{self.state_path} there; move that folder away") from None
        except OSError as exc:
            raise StateError(f"cannot open the lock file {self.path} ({exc.strerror or exc}); "
                             "make its folder writable, or choose another --state path") from None

    @staticmethod
    def _record(fd: int, text: str) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("utf-8"), 0)
        os.fsync(fd)


def _as_dict(holder: LockHolder) -> dict[str, object]:
    return {"pid": holder.pid, "command": holder.command, "host": holder.host,
            "since": holder.since}
