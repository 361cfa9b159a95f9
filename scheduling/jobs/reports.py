"""`report-prompts`: who is asked, nudged and whose silence is told is decided by
`grids.reports.prompts`; the job covers the window since its last run."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.settings import Settings
from grids.outreach import Timing
from grids.reports.prompts import report_prompts as due_prompts
from grids.storage.database import Database
from scheduling.job_ids import REPORT_PROMPTS
from scheduling.jobs.common import NUMBER_STATES, JobResult, enqueue, window_start

LOOKBACK = timedelta(days=8)


def report_prompts(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        since = window_start(session, REPORT_PROMPTS, now, LOOKBACK)
        outreach = due_prompts(session, NUMBER_STATES, Timing.of(settings), since, now)
        result = JobResult().add(outreach, enqueue(session, outreach.notices, now))
        session.commit()
    return result
