"""`doctor-digest`: which digests are due is decided by `grids.rollups.digest`
(Monday 08:00, county time, for the week just ended); the text is the rollups',
as `rollups digest` sends it."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.settings import Settings
from grids.outreach import Timing
from grids.rollups.digest import due_digests
from grids.rollups.service import doctor_timeout_of
from grids.storage.database import Database
from scheduling.job_ids import DOCTOR_DIGEST
from scheduling.jobs.common import JobResult, enqueue, window_start

LOOKBACK = timedelta(days=8)


def doctor_digest(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        since = window_start(session, DOCTOR_DIGEST, now, LOOKBACK)
        outreach = due_digests(
            session,
            Timing.of(settings),
            since,
            now,
            doctor_timeout_s=doctor_timeout_of(settings),
        )
        result = JobResult().add(outreach, enqueue(session, outreach.notices, now))
        session.commit()
    return result
