"""One leader among scheduler processes: a PostgreSQL advisory lock held on a
dedicated connection. The lock lives as long as that connection, so a process
that dies (or loses its connection) loses leadership, and a standby polling for
the lock takes over. Every tick re-checks the lock on that connection.

On SQLite there is no lock server: run one scheduler process.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import text
from sqlalchemy.engine import Connection

from grids.storage.database import Database

log = logging.getLogger(__name__)

LOCK_KEY = 0x487A6875
"""`Hzhu`: the advisory lock key of the scheduler (classid 0, objid this, objsubid 1)."""


class Leadership:
    def __init__(self, database: Database, key: int = LOCK_KEY) -> None:
        self.database = database
        self.key = key
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    @property
    def needs_lock(self) -> bool:
        return self.database.is_postgresql

    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process leads."""
        if not self.needs_lock:
            return True
        with self._lock:
            if self._connection is not None:
                return self._check()
            try:
                connection = self.database.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            except Exception as error:
                log.warning("scheduler: cannot reach the database for the leader lock: %s", error)
                return False
            try:
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar()
            except Exception as error:
                log.warning("scheduler: leader lock query failed: %s", error)
                connection.invalidate()
                return False
            if got:
                self._connection = connection
                return True
            connection.close()
            return False

    def still_held(self) -> bool:
        """Whether this process still leads; a lost connection means it does not."""
        if not self.needs_lock:
            return True
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
            log.warning("scheduler: leader connection lost: %s", error)
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
            if self._connection is None:
                return
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.close()
            except Exception:
                self._drop()
            self._connection = None
