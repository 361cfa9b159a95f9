"""`doctor-digest`: each village doctor's weekly digest, Monday 08:00 (county time),
for the week just ended; useful until the quiet hours begin that day, missed after.

The text is the rollups' (`grids.rollups.digest`); `digest_notices` is the one
place that asks for it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from importlib import import_module

from sqlalchemy.orm import Session

from config.settings import Settings
from grids.core.notices import Notice
from grids.core.weeks import previous_week, week_monday
from grids.storage.database import Database
from scheduling.jobs.common import JobResult, enqueue, local_at, weeks_between, window_start

DIGEST_AT = time(8, 0)
LOOKBACK = timedelta(days=8)
DIGEST_MODULE = "grids.rollups.digest"
DIGEST_FUNCTION = "doctor_digest_notices"
NOT_WIRED = f"digest text not available yet ({DIGEST_MODULE}.{DIGEST_FUNCTION}); nothing queued"


def digest_notices(
    session: Session, settings: Settings, week: str, now: datetime
) -> list[Notice] | None:
    """The digests of `week`, one `Notice` per village doctor, from the rollups; None
    while the rollups offer no digest.

    Expected: `grids.rollups.digest.doctor_digest_notices(session, *, week, now, tz)
    -> list[Notice]`, keys `doctor-digest:{doctor}:{week}`, doctors not reachable left out.
    """
    try:
        module = import_module(DIGEST_MODULE)
    except ImportError:
        return None
    compose = getattr(module, DIGEST_FUNCTION, None)
    if compose is None:
        return None
    return list(compose(session, week=week, now=now, tz=settings.tz))


def digest_available() -> bool:
    try:
        module = import_module(DIGEST_MODULE)
    except ImportError:
        return False
    return hasattr(module, DIGEST_FUNCTION)


def doctor_digest(database: Database, settings: Settings, now: datetime) -> JobResult:
    result = JobResult()
    tz = settings.tz
    with database.unit_of_work() as session:
        since = window_start(session, "doctor-digest", now, LOOKBACK)
        for week in weeks_between(since, now, tz):
            monday = week_monday(week)
            due = local_at(monday, DIGEST_AT, tz)
            if not since < due <= now:
                continue
            if now >= local_at(monday, settings.quiet_hours.start, tz):
                result.missed += 1
                continue
            notices = digest_notices(session, settings, previous_week(week), now)
            if notices is None:
                result.note = NOT_WIRED
                continue
            result.queued += enqueue(session, notices, now)
        session.commit()
    return result
