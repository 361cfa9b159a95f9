"""The frequent jobs: `escalation-tick` (every 30 s) and `outbox-dispatch` (every few
seconds). Both are safe to run from two processes at once (rows are claimed with
`FOR UPDATE SKIP LOCKED`), so they keep no run rows, only their last state.

Catch-up: an escalation tick advances every overdue escalation at once; the
dispatcher sends what is due, holding non-urgent messages in the quiet hours.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from config.settings import Settings
from grids.storage.database import Database
from notifications import dispatcher
from notifications.escalation.tick import run_escalation_tick
from notifications.providers import SmsProvider
from scheduling.jobs.clearing import clear_pointless
from scheduling.jobs.common import JobResult

log = logging.getLogger(__name__)

DISPATCH_BUDGET_SECONDS = 4.0
"""One outbox-dispatch run sends for at most this long, so the next tick is not late."""


def escalation_tick(database: Database, settings: Settings, now: datetime) -> JobResult:
    advanced = run_escalation_tick(database, settings, now)
    return JobResult(note=str(advanced))


def outbox_dispatch(
    provider: SmsProvider, halt: threading.Event | None = None
) -> Callable[[Database, Settings, datetime], JobResult]:
    """The outbox-dispatch job for `provider`: clear pointless reminders, then send
    due messages for up to DISPATCH_BUDGET_SECONDS, or until `halt` is set (the
    process stopping); rows claimed and not sent go back to pending."""
    stopping = halt or threading.Event()
    limiters: dict[float, dispatcher.RateLimiter] = {}

    def dispatch(database: Database, settings: Settings, now: datetime) -> JobResult:
        result = JobResult()
        with database.unit_of_work() as session:
            result.cleared = clear_pointless(session, settings, now)
            session.commit()
        enough = threading.Event()

        def watch() -> None:
            stopping.wait(DISPATCH_BUDGET_SECONDS)
            enough.set()

        threading.Thread(target=watch, daemon=True).start()
        # One token bucket across runs, so the pace holds from one tick to the next.
        rate = settings.sms_rate_per_second
        limiter = limiters.setdefault(rate, dispatcher.RateLimiter(rate))
        while not enough.is_set():
            stats = dispatcher.dispatch_once(
                database, provider, settings, now=now, limiter=limiter, stop=enough
            )
            result.sent += stats.sent
            result.skipped += stats.suppressed
            if stats.claimed == 0:
                break
        return result

    return dispatch
