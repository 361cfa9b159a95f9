"""What `/healthz` says of the scheduler: its heartbeat and the jobs whose last run failed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.models import SchedulerHeartbeat, SchedulerJobState

STALE_AFTER = timedelta(minutes=5)


def scheduler_health(session: Session, now: datetime) -> dict[str, Any]:
    """`{"scheduler": {"status": "ok|stale|not_running", "last_beat", "failed_jobs"}}`."""
    last_beat = session.scalar(
        select(func.max(SchedulerHeartbeat.beat_at)).where(SchedulerHeartbeat.role == "leader")
    )
    if last_beat is None:
        status = "not_running"
    elif now - last_beat > STALE_AFTER:
        status = "stale"
    else:
        status = "ok"
    failed = sorted(
        session.scalars(
            select(SchedulerJobState.job_id).where(SchedulerJobState.last_status == "failed")
        )
    )
    return {
        "scheduler": {
            "status": status,
            "last_beat": last_beat.isoformat(timespec="seconds") if last_beat else None,
            "failed_jobs": failed,
        }
    }
