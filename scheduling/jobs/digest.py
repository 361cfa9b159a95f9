"""`doctor-digest`: each village doctor's weekly digest, Monday 08:00 (county time),
for the week just ended; useful until the quiet hours begin that day, missed after.

The text is the rollups' (`grids.rollups.digest`), as `rollups digest` sends it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from config.settings import Settings
from grids.core.notices import Notice
from grids.core.weeks import previous_week, week_monday
from grids.rollups.digest import monday_digest
from grids.rollups.service import doctor_timeout_of, snapshot_closed_weeks
from grids.storage.database import Database
from scheduling.jobs.common import JobResult, enqueue, local_at, weeks_between, window_start

DIGEST_AT = time(8, 0)
LOOKBACK = timedelta(days=8)


def digest_notices(session: Session, settings: Settings, week: str, now: datetime) -> list[Notice]:
    """The digests of `week`, one `Notice` per village doctor with grids, after the
    closed weeks are snapshotted (so the digest and the pages agree)."""
    timeout = doctor_timeout_of(settings)
    snapshot_closed_weeks(session, now, settings.tz, doctor_timeout_s=timeout)
    return list(monday_digest(session, now, settings.tz, week, doctor_timeout_s=timeout).notices)


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
            result.queued += enqueue(session, notices, now)
        session.commit()
    return result
