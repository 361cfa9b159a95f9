"""The login rate limit: at most so many failed password checks per username and per address.

Each check takes one of the window's allowed failures first, with one conditional
UPDATE per counter (the row lock makes concurrent takers wait and see the new count);
a successful login gives it back. The caller commits the taking before it compares the
password, so a slow hash never holds the lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from grids.accounts.models import LoginCounter

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20


def _counters(username: str, remote_addr: str) -> list[tuple[str, str, int]]:
    # Always the username first: every taker locks the rows in the same order.
    return [
        ("username", username[:80], MAX_FAILURES_PER_USERNAME),
        ("address", remote_addr[:64], MAX_FAILURES_PER_ADDRESS),
    ]


def _ensure_row(session: Session, scope: str, key: str, now: datetime) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(LoginCounter)
        .values(scope=scope, key=key, window_start=now, failures=0)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )


def take_check(session: Session, username: str, remote_addr: str, now: datetime) -> bool:
    """Take one allowed failure for the username and for the address; False (and nothing
    taken once the caller rolls back) when either has none left in its window."""
    since = now - LOGIN_WINDOW
    expired = LoginCounter.window_start < since
    for scope, key, limit in _counters(username, remote_addr):
        _ensure_row(session, scope, key, now)
        taken = session.execute(
            update(LoginCounter)
            .where(LoginCounter.scope == scope, LoginCounter.key == key)
            .where(expired | (LoginCounter.failures < limit))
            .values(
                failures=case((expired, 1), else_=LoginCounter.failures + 1),
                window_start=case((expired, now), else_=LoginCounter.window_start),
            )
            .returning(LoginCounter.failures)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is None:
            return False
    return True


def give_back(session: Session, username: str, remote_addr: str) -> None:
    """A check that succeeded is not a failure."""
    for scope, key, _limit in _counters(username, remote_addr):
        session.execute(
            update(LoginCounter)
            .where(LoginCounter.scope == scope, LoginCounter.key == key)
            .where(LoginCounter.failures > 0)
            .values(failures=LoginCounter.failures - 1)
            .execution_options(synchronize_session=False)
        )
