"""`case-followthrough`: reminders to close acknowledged cases and referral follow-ups
due, decided by `grids.escalation.outcomes` (non-urgent: quiet hours hold them)."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from grids.escalation.outcomes import close_reminders, followups_due
from grids.storage.database import Database
from scheduling.jobs.common import JobResult, enqueue


def case_followthrough(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        notices = close_reminders(session, now, settings.default_language)
        notices += followups_due(session, now, settings.tz)
        result = JobResult(queued=enqueue(session, notices, now))
        session.commit()
    return result
