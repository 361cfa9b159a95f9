"""Critical readings: what makes a reported reading dangerous, and the ladder of its case.

The national basic public-health service rules (国家基本公共卫生服务规范, 第三版) ask for
urgent referral at systolic ≥ 180 or diastolic ≥ 110 mmHg, or fasting glucose ≥ 16.7 or
≤ 3.9 mmol/L; the values are settings (`CRITICAL_*`). A reading at or beyond either part
opens a `critical` case at once. Its ladder is the grid's own with hours for minutes:
the doctor has `CRITICAL_ACK_HOURS` to acknowledge, then the township duty phone and the
county each have `LATER_STEP_MINUTES` (the clinic's colleagues and the doctor's call are
left out: a critical reading is serious, not an emergency). Its messages are sent at
once between 07:00 and 22:00 local time; outside those hours they go at 07:00.

Plain functions; no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from config.settings import CriticalThresholds
from grids.escalation.ladder import Hold, Ladder

LATER_STEP_MINUTES = 240
"""How long the township and the county each have to acknowledge a critical case."""
DAY_STARTS = time(7, 0)
DAY_ENDS = time(22, 0)
SKIPPED_LEVELS = frozenset({"clinic"})


@dataclass(frozen=True)
class Finding:
    """A critical reading of the member in `seat`."""

    seat: int
    systolic: int | None = None
    diastolic: int | None = None
    glucose_mmol: Decimal | None = None

    @property
    def has_blood_pressure(self) -> bool:
        return self.systolic is not None and self.diastolic is not None


def findings(
    readings: Iterable[tuple[int, int | None, int | None, Decimal | None]],
    thresholds: CriticalThresholds,
) -> list[Finding]:
    """The critical readings among (seat, systolic, diastolic, glucose), one per seat;
    a reading that is not critical is left out of its finding."""
    result: list[Finding] = []
    for seat, systolic, diastolic, glucose in readings:
        bp = thresholds.bp_critical(systolic, diastolic) and systolic is not None
        sugar = thresholds.glucose_critical(glucose)
        if bp or sugar:
            result.append(
                Finding(
                    seat,
                    systolic if bp else None,
                    diastolic if bp else None,
                    glucose if sugar else None,
                )
            )
    return result


def hold(timezone: str) -> Hold:
    return Hold(DAY_ENDS.strftime("%H:%M"), DAY_STARTS.strftime("%H:%M"), timezone)


def critical_ladder(ladder: Ladder, *, ack_hours: int, timezone: str) -> Ladder:
    """The grid's urgent `ladder` made hours-scale for a critical case."""
    steps = tuple(
        replace(
            step,
            timeout_minutes=ack_hours * 60 if step.level == "doctor" else LATER_STEP_MINUTES,
            call_after_minutes=None,
        )
        for step in ladder.steps
        if step.level not in SKIPPED_LEVELS
    )
    return replace(ladder, steps=steps, parallel=(), kind="critical", hold=hold(timezone))


def release_at(moment: datetime, held: Hold) -> datetime | None:
    """When a message of a held case written at `moment` may go: None for at once."""
    tz = ZoneInfo(held.timezone)
    local = moment.astimezone(tz)
    start = time.fromisoformat(held.start)
    end = time.fromisoformat(held.end)
    clock = local.time()
    quiet = (clock >= start or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tz)
