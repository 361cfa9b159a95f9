"""What follows a grid to its new doctor.

`follow_grid` is the one place that re-targets whatever hangs on a grid's doctor
when the grid changes hands. Today: every open urgent report of the grid is sent
again to the new doctor (through the escalation hook, so a grid without an
active doctor reaches the duty phone). The escalation ladder, pending reminders,
the exchange rota and the hierarchy graph extend this function.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.escalation.routing import escalate
from grids.models import UrgentReport


def follow_grid(
    session: Session,
    grid_id: int,
    old_doctor_id: int | None,
    new_doctor_id: int | None,
    now: datetime,
    *,
    default_language: str = "zh_CN",
) -> list[Notice]:
    """Notices that re-target what follows the grid; called after its doctor changed."""
    if old_doctor_id == new_doctor_id:
        return []
    notices: list[Notice] = []
    open_reports = session.scalars(
        select(UrgentReport)
        .where(UrgentReport.grid_id == grid_id, UrgentReport.acknowledged_at.is_(None))
        .order_by(UrgentReport.id)
    )
    for urgent in open_reports:
        notices += escalate(session, urgent, now, default_language=default_language).notices
    return notices
