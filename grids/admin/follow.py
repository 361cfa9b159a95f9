"""What follows a grid to its new doctor.

`follow_grid` is the one place that re-targets whatever hangs on a grid's doctor
when the grid changes hands: every open escalation of the grid climbs the grid's
new ladder from its first step (the new doctor is told at once; a grid without an
active doctor reaches the clinic's other doctors, then the duty phones). Pending
reminders follow by themselves (jobs read the grid's current doctor when they
run) and the hierarchy graph is rebuilt on its next use (its key changes with the
grid's version).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.escalation.models import Escalation, EscalationState
from grids.escalation.service import EscalationPolicy, retarget


def follow_grid(
    session: Session,
    grid_id: int,
    old_doctor_id: int | None,
    new_doctor_id: int | None,
    now: datetime,
    *,
    default_language: str = "zh_CN",
    policy: EscalationPolicy | None = None,
) -> list[Notice]:
    """Notices that re-target what follows the grid; called after its doctor changed."""
    if old_doctor_id == new_doctor_id:
        return []
    policy = policy or EscalationPolicy(default_language=default_language)
    session.flush()
    notices: list[Notice] = []
    open_cases = session.scalars(
        select(Escalation)
        .where(Escalation.grid_id == grid_id, Escalation.state == EscalationState.OPEN)
        .order_by(Escalation.id)
    )
    for escalation in open_cases:
        notices += retarget(session, escalation, now, policy=policy)
    return notices
