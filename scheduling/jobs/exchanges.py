"""`exchange-reminders` and `attendance-prompts`: who and when is decided by
`grids.exchanges.reminders`; the job covers the window since its last run."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.settings import Settings
from grids.exchanges import reminders
from grids.outreach import Timing
from grids.storage.database import Database
from scheduling.job_ids import ATTENDANCE_PROMPTS, EXCHANGE_REMINDERS
from scheduling.jobs.common import NUMBER_STATES, JobResult, enqueue, enqueue_fanout, window_start

LOOKBACK = timedelta(days=2)
"""Catch-up horizon: reminders and prompts due longer ago are not looked for."""


def exchange_reminders(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        since = window_start(session, EXCHANGE_REMINDERS, now, LOOKBACK)
        outreach = reminders.exchange_reminders(
            session, NUMBER_STATES, Timing.of(settings), since, now
        )
        result = JobResult().add(outreach, enqueue_fanout(session, outreach.notices, now))
        session.commit()
    return result


def attendance_prompts(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        since = window_start(session, ATTENDANCE_PROMPTS, now, LOOKBACK)
        outreach = reminders.attendance_prompts(
            session, NUMBER_STATES, Timing.of(settings), since, now
        )
        result = JobResult().add(outreach, enqueue(session, outreach.notices, now))
        session.commit()
    return result
