"""`member-silence`: who is named to a coordinator is decided by
`grids.silence.nudges`; the seats are shown as the SMS replies show them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from config.settings import Settings
from grids.silence.nudges import member_silence_nudges
from grids.storage.database import Database
from notifications.sms.replies import seat_list
from scheduling.jobs.common import NUMBER_STATES, JobResult, enqueue

SEATS_SHOWN = 6


def _seats(language: str, seats: Sequence[int]) -> str:
    return seat_list(language, seats, limit=SEATS_SHOWN)


def member_silence(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        outreach = member_silence_nudges(session, NUMBER_STATES, settings.tz, _seats, now)
        result = JobResult().add(outreach, enqueue(session, outreach.notices, now))
        session.commit()
    return result
