"""The read replica (DATABASE_READ_URL) and what happens when it does not answer.

A replica that refuses connections must not take the pages down with it: the
read session falls back to the primary, and the replica is left alone for a
while so that every page does not wait for its connection to fail.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from grids.storage.database import Database

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30.0
"""How long reads stay on the primary after the replica failed to answer."""


def masked_url(url: str) -> str:
    """The URL without its password, for logs."""
    return make_url(url).render_as_string(hide_password=True)


class ReadReplica:
    """A streaming replica's engine, and whether it is worth trying now."""

    def __init__(self, database: Database, retry_after_s: float = RETRY_AFTER_SECONDS) -> None:
        self.database = database
        self.retry_after_s = retry_after_s
        self._resting_until = 0.0

    def session(self) -> Session | None:
        """A read-only session on the replica, connected; None when it does not answer
        (then it is not tried again for `retry_after_s`)."""
        if time.monotonic() < self._resting_until:
            return None
        session = self.database.read_sessionmaker()
        try:
            session.connection()
        except SQLAlchemyError as error:
            session.close()
            self._resting_until = time.monotonic() + self.retry_after_s
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            log.warning(
                "read replica %s does not answer (%s): pages read the primary for %.0f s",
                masked_url(self.database.url),
                reason,
                self.retry_after_s,
            )
            return None
        return session

    def dispose(self) -> None:
        self.database.dispose()
