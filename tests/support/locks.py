"""Waiting, in a test, until another session is blocked on a row lock."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from grids.storage.database import Database

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def wait_for_a_lock_wait(db: Database, worker: threading.Thread, timeout: float = 30.0) -> bool:
    """Whether some session of this database waits on a lock before `timeout` seconds,
    polling while `worker` is still running.

    PostgreSQL reads `pg_stat_activity` once per transaction, so each poll runs in
    its own (autocommit) transaction; polling inside one transaction would see only
    the first answer. SQLite has no such view: its second writer waits on the
    database file lock, so a short pause stands in for the check.
    """
    if not db.is_postgresql:
        time.sleep(0.5)
        return True
    deadline = time.monotonic() + timeout
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while time.monotonic() < deadline and worker.is_alive():
            if connection.execute(_WAITING).scalar_one():
                return True
            time.sleep(0.02)
    return False
