"""One leader among scheduler processes: a PostgreSQL advisory lock held on a
dedicated connection. The lock lives as long as that connection, so a process
that dies (or loses its connection) loses leadership, and a standby polling for
the lock takes over. Every tick re-checks the lock on that connection.

On SQLite the same role falls to an exclusive lock (flock) on a file beside the
database file: the kernel releases it when the process dies, so a standby takes
over there too. An in-memory SQLite database has one process by nature.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from config.logging import mask_phones_in
from grids.storage.database import Database

log = logging.getLogger(__name__)

LOCK_KEY = 0x487A6875
"""`Hzhu`: the advisory lock key of the scheduler (classid 0, objid this, objsubid 1)."""


def error_line(error: BaseException) -> str:
    """The first line of what the driver said: for a log line, not a traceback."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
    lines = str(cause).strip().splitlines()
    return mask_phones_in(lines[0] if lines else type(error).__name__)


class Leadership:
    def __init__(self, database: Database, key: int = LOCK_KEY) -> None:
        self.database = database
        self.key = key
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def needs_lock(self) -> bool:
        return self.database.is_postgresql

    @property
    def lock_file(self) -> Path | None:
        """The file whose lock marks the leader on SQLite (None: no lock needed)."""
        if self.database.is_postgresql:
            return None
        name = self.database.engine.url.database
        if not name or name == ":memory:" or name.startswith("file::memory:"):
            return None
        return Path(f"{name}.scheduler-lock")

    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process leads."""
        if not self.needs_lock:
            return self._try_file_lock()
        with self._lock:
            if self._connection is not None:
                return self._check()
            try:
                connection = self.database.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            except Exception as error:
                log.warning(
                    "scheduler: cannot reach the database for the leader lock: %s",
                    error_line(error),
                )
                return False
            try:
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar()
            except Exception as error:
                log.warning("scheduler: leader lock query failed: %s", error_line(error))
                connection.invalidate()
                return False
            if got:
                self._connection = connection
                return True
            connection.close()
            return False

    def _try_file_lock(self) -> bool:
        path = self.lock_file
        if path is None:
            return True
        with self._lock:
            if self._file is not None:
                return True
            try:
                handle = path.open("ab")
            except OSError as error:
                log.warning("scheduler: cannot open the leader lock file %s: %s", path, error)
                return False
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True

    def still_held(self) -> bool:
        """Whether this process still leads; a lost connection means it does not."""
        if not self.needs_lock:
            return self.lock_file is None or self._file is not None
        with self._lock:
            if self._connection is None:
                return False
            return self._check()

    def _check(self) -> bool:
        assert self._connection is not None
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid() AND classid = 0 AND objid = :key "
                    "AND objsubid = 1 AND granted"
                ),
                {"key": self.key},
            ).scalar()
        except Exception as error:
            log.warning("scheduler: leader connection lost: %s", error_line(error))
            self._drop()
            return False
        if not held:
            self._drop()
        return bool(held)

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            self._connection = None

    def release(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
                self._file = None
            if self._connection is None:
                return
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.close()
            except Exception:
                self._drop()
            self._connection = None
