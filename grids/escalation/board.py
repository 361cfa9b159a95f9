"""Cases as pages show them: open ones first with their age and current step, then the
recent closed ones with their outcome, each within what the account may see; and one
case's timeline with who was told, how, and whether it was delivered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from grids.escalation.ladder import Ladder
from grids.escalation.models import Escalation, EscalationEvent, EscalationState
from grids.escalation.outcomes import CLOSE_REMINDERS
from grids.models import Grid

RECENT_DAYS = 30
CLOSED_SHOWN = 100
OPEN_SHOWN = 500


@dataclass(frozen=True)
class CaseLine:
    code: str
    kind: str
    state: str
    """`open`, `acknowledged`, `to_close` (待结案: reminded 3 times) or `closed`."""
    grid_code: str | None
    seat: int | None
    name: str
    text: str
    opened_at: datetime
    level: str | None
    """The ladder level the case is at (open cases)."""
    acknowledged_by: str | None
    outcome: str | None
    closed_at: datetime | None
    followup_due: str | None
    followup_outcome: str | None


def _state(case: Escalation) -> str:
    if case.state == EscalationState.ACKNOWLEDGED and case.close_reminders >= CLOSE_REMINDERS:
        return "to_close"
    return case.state


def _level(case: Escalation) -> str | None:
    if case.state != EscalationState.OPEN:
        return None
    steps = Ladder.from_json(case.ladder).steps
    return steps[case.step].level if 0 <= case.step < len(steps) else "county_duty"


def line_of(case: Escalation, grid_code: str | None) -> CaseLine:
    return CaseLine(
        code=case.code,
        kind=case.kind,
        state=_state(case),
        grid_code=grid_code,
        seat=case.seat,
        name=str(case.params.get("name", "")),
        text=case.text,
        opened_at=case.opened_at,
        level=_level(case),
        acknowledged_by=case.acknowledged_by,
        outcome=case.outcome,
        closed_at=case.closed_at,
        followup_due=case.followup_due.isoformat() if case.followup_due else None,
        followup_outcome=case.followup_outcome,
    )


def case_lines(
    session: Session, sees_grid: Callable[[Grid], bool], now: datetime
) -> tuple[list[CaseLine], list[CaseLine]]:
    """(open and acknowledged cases, oldest first; closed in the last 30 days, newest
    first), of the grids `sees_grid` allows."""
    rows = session.execute(
        select(Escalation, Grid)
        .outerjoin(Grid, Grid.id == Escalation.grid_id)
        .where(
            or_(
                Escalation.state != EscalationState.CLOSED,
                Escalation.closed_at >= now - timedelta(days=RECENT_DAYS),
            )
        )
        .order_by(Escalation.opened_at, Escalation.id)
        .limit(OPEN_SHOWN + CLOSED_SHOWN)
    ).all()
    allowed: dict[int, bool] = {}
    current: list[CaseLine] = []
    closed: list[CaseLine] = []
    for case, grid in rows:
        if grid is None:
            continue
        if grid.id not in allowed:
            allowed[grid.id] = sees_grid(grid)
        if not allowed[grid.id]:
            continue
        line = line_of(case, grid.code)
        (closed if case.state == EscalationState.CLOSED else current).append(line)
    closed.sort(key=lambda line: line.closed_at or line.opened_at, reverse=True)
    return current, closed[:CLOSED_SHOWN]


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    kind: str
    step_level: str | None
    recipient: str | None
    recipient_name: str | None
    channel: str | None
    detail: str | None


def timeline(session: Session, case: Escalation, show: Callable[[str], str]) -> list[TimelineRow]:
    """The case's timeline, oldest first; `show` writes a phone number as the reader may
    see it (masked or not)."""
    steps = Ladder.from_json(case.ladder).steps
    rows = session.scalars(
        select(EscalationEvent)
        .where(EscalationEvent.escalation_id == case.id)
        .order_by(EscalationEvent.at, EscalationEvent.id)
    )
    return [
        TimelineRow(
            at=row.at,
            kind=row.kind,
            step_level=(
                steps[row.step].level
                if row.step is not None and 0 <= row.step < len(steps)
                else None
            ),
            recipient=show(row.recipient) if row.recipient else None,
            recipient_name=row.recipient_name,
            channel=row.channel,
            detail=row.detail,
        )
        for row in rows
    ]


def patient_cases(session: Session, patient_id: int) -> list[CaseLine]:
    """A member's cases, newest first."""
    rows = session.execute(
        select(Escalation, Grid.code)
        .outerjoin(Grid, Grid.id == Escalation.grid_id)
        .where(Escalation.patient_id == patient_id)
        .order_by(Escalation.opened_at.desc())
        .limit(50)
    ).all()
    return [line_of(case, grid_code) for case, grid_code in rows]


def followups_due(session: Session, grid_ids: list[int], today: date) -> list[CaseLine]:
    """Referral follow-ups of these grids due by `today` and not yet recorded, the most
    overdue first (the doctor's Monday page lists them until done)."""
    if not grid_ids:
        return []
    rows = session.execute(
        select(Escalation, Grid.code)
        .join(Grid, Grid.id == Escalation.grid_id)
        .where(
            Escalation.grid_id.in_(grid_ids),
            Escalation.followup_due <= today,
            Escalation.followup_outcome.is_(None),
        )
        .order_by(Escalation.followup_due, Escalation.id)
    ).all()
    return [line_of(case, grid_code) for case, grid_code in rows]
