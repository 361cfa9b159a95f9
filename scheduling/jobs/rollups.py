"""`rollups-refresh`: the current week's stored rollups brought up to date
(`grids.rollups.refresh`), and last week's provisional rows turned into its snapshot
once the week has closed. State-based: a second run in the same minute changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from config.settings import Settings
from grids.rollups.refresh import refresh_rollups
from grids.rollups.service import doctor_timeout_of
from grids.storage.database import Database
from scheduling.jobs.common import JobResult


def rollups_refresh(database: Database, settings: Settings, now: datetime) -> JobResult:
    with database.unit_of_work() as session:
        outcome = refresh_rollups(
            session, now, settings.tz, doctor_timeout_s=doctor_timeout_of(settings)
        )
        session.commit()
    if outcome is None:
        return JobResult()
    kind = "full" if outcome.full else "incremental"
    return JobResult(
        note=f"{outcome.week} {kind}: {outcome.grids} grids counted, {outcome.written} rows stored"
    )


def refresh_trigger(settings: Settings) -> dict[str, Any]:
    """Every ROLLUPS_REFRESH_MINUTES on the clock's minutes (:00, :15, :30, :45 by default)."""
    minutes = settings.rollups_refresh_minutes
    return {"cron": {"minute": "0" if minutes >= 60 else f"*/{minutes}"}}
