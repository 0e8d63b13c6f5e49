"""One writer per run directory: a lock held for the run's life, its holder recorded beside it.

Two processes on one directory corrupt it (a resume started while the run still trains loads a
checkpoint being written and overwrites the other's manifest), so every command that writes a run
directory holds ``.suite.lock`` (an OS file lock, ``filelock``) and records who holds it in
``.suite.lock.json``: host, process id and since when. The OS drops the lock of a process that
dies; its record stays, so the next writer says whose lock it takes over. A record from another
host (a shared filesystem, where the OS lock may not reach) is never taken over silently.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from suite.atomic import write_json_atomic
from suite.errors import SuiteError

LOCK_NAME = ".suite.lock"
HOLDER_NAME = ".suite.lock.json"


class RunDirectoryInUse(SuiteError):
    """Another process writes this run directory, or may (``doubt``: why the record is not trusted
    to be stale; such a lock can be broken on purpose)."""

    def __init__(self, out: Path, holder: dict, doubt: str | None = None):
        who = describe_holder(holder)
        if doubt:
            super().__init__(f"{out} is locked by {who}: {doubt}; if that run is over, break the lock",
                             override="break_lock")  # fmt: skip
        else:
            super().__init__(f"{out} is in use by {who}; wait for it to finish, or stop it")
        self.out = out
        self.holder = holder


def describe_holder(holder: dict) -> str:
    """The holder in words: ``pid 123 on host (since 2025-01-01T10:00:00+00:00)``."""
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} (since {holder.get('since', '?')})"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one we may not signal still exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunLock:
    """The lock of run directory ``out``: :meth:`acquire` it before writing, :meth:`release` after.

    ``break_lock`` takes over a lock recorded by another host, which is otherwise refused."""

    def __init__(self, out: Path, break_lock: bool = False):
        self.out = Path(out)
        self.break_lock = break_lock
        self._lock = FileLock(str(self.out / LOCK_NAME), thread_local=False)
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": _now()}

    @property
    def holder_path(self) -> Path:
        return self.out / HOLDER_NAME

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> RunLock:
        """Take the lock (the directory must exist), or refuse in one line naming its holder."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise RunDirectoryInUse(self.out, self._recorded() or {}) from None
        except OSError as exc:
            raise SuiteError(f"{self.out}: cannot lock it ({exc.strerror}); is it writable?") from exc
        try:
            self._take_over(self._recorded())
            write_json_atomic(self.holder_path, self.holder)
        except BaseException:
            self._lock.release()
            raise
        return self

    def _take_over(self, previous: dict | None) -> None:
        """Check a record left by a holder that no longer holds the OS lock: a process gone from
        this host is taken over (saying so); one from another host only with ``break_lock``."""
        if not previous or previous == self.holder:
            return
        here = previous.get("host") == self.holder["host"]
        pid = previous.get("pid")
        if here and pid == os.getpid():
            return  # an earlier run of this process, which left its record
        if not self.break_lock:
            if not here:
                raise RunDirectoryInUse(self.out, previous, "on another host, it may still be running")
            if isinstance(pid, int) and pid_alive(pid):  # a filesystem without OS locks?
                raise RunDirectoryInUse(self.out, previous, "that process still exists")
        how = "breaking the lock of" if self.break_lock else "taking over the lock of"
        gone = "" if self.break_lock else ", which is gone"
        print(f"{self.out}: {how} {describe_holder(previous)}{gone}", file=sys.stderr, flush=True)

    def _recorded(self) -> dict | None:
        """The holder's record, or None (none, or unreadable: a holder died while writing it)."""
        try:
            record = json.loads(self.holder_path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def release(self) -> None:
        """Drop the lock and its record (only ours: never a record another process wrote)."""
        if not self._lock.is_locked:
            return
        try:
            if self._recorded() == self.holder:
                self.holder_path.unlink()
        except OSError:
            pass  # the record of a released lock is only informative
        finally:
            self._lock.release(force=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
