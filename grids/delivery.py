"""How the domain hands its `Notice`s to the SMS channel: the signature alone, with
no Flask, so services can take a `Deliver` as a plain argument. The registry of
the running application's channel is `grids.channel`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from grids.core.notices import Notice

Deliver = Callable[[Session, Sequence[Notice], datetime], object]
"""(session, notices, now) -> anything: enqueue the notices in the session's transaction."""
