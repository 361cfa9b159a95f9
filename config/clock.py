"""The one clock: every module that needs the current time asks here. No Flask."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, aware, in UTC. Tests move it with time-machine."""
    return datetime.now(UTC)
