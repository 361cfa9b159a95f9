"""Who is asked for the weekly report, nudged, and whose silence is told, and when.

For ISO week W (county time):
- Sunday 18:00 of W: the coordinator (or the deputy standing in) of a grid with no
  report for W is asked;
  useful until the nudge (Monday 10:00), missed after.
- Monday 10:00 of W+1: a second nudge if still none for W; useful until the
  quiet hours begin that day, missed after.
- At that nudge, a grid with no report for W nor W-1 (two weeks) is marked silent
  (`report_silences`, read by the rollup) and its doctor told, once per silence;
  the mark ends when a report comes.

A grid created after a prompt was due is not asked for it.

Keys: `report-prompt:{grid}:{W}:first|second`, `report-silence:{grid}:{since_week}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.weeks import previous_week, week_monday
from grids.models import Grid, Patient, WeeklyReport
from grids.outreach import NumberStates, Outreach, Timing, leaders, people
from grids.outreach.leaders import GridLeaders
from grids.outreach.timing import local_at, weeks_between
from grids.silence.models import ReportSilence
from grids.storage.id_lists import among

PROMPT_AT = time(18, 0)
NUDGE_AT = time(10, 0)
SILENT_WEEKS = 2
PROMPTS = ("first", "second")
"""The two prompts of a week, as their keys name them."""


def prompt_due(week: str, tz: ZoneInfo) -> datetime:
    return local_at(week_monday(week) + timedelta(days=6), PROMPT_AT, tz)


def nudge_due(week: str, tz: ZoneInfo) -> datetime:
    return local_at(week_monday(week) + timedelta(days=7), NUDGE_AT, tz)


def prompt_key(grid_id: int, week: str, which: str) -> str:
    return f"report-prompt:{grid_id}:{week}:{which}"


def _reported(session: Session, weeks: list[str]) -> set[tuple[int, str]]:
    return set(
        session.execute(
            select(WeeklyReport.grid_id, WeeklyReport.week).where(WeeklyReport.week.in_(weeks))
        ).tuples()
    )


def report_prompts(
    session: Session, states: NumberStates, timing: Timing, since: datetime, now: datetime
) -> Outreach:
    """The prompts and nudges due in (since, now], and the silences found at a nudge
    (marked in the session, no commit); ended silences are closed first."""
    outreach = Outreach()
    tz = timing.tz
    end_silences(session)
    weeks = weeks_between(since - timedelta(days=8), now, tz)
    grids = session.execute(
        select(
            Grid.id, Grid.code, Grid.coordinator_id, Grid.doctor_id, Grid.created_at, Grid.deputy_id
        ).where(or_(Grid.coordinator_id.is_not(None), Grid.deputy_id.is_not(None)))
    ).all()
    reported = _reported(session, [*weeks, *(previous_week(w) for w in weeks)])
    # The coordinator, or the deputy while he stands in (grids.outreach.leaders).
    coordinators = {
        grid_id: lead.person
        for grid_id, lead in leaders.leads(
            session,
            states,
            [GridLeaders(g.id, g.coordinator_id, g.deputy_id, g.created_at) for g in grids],
            now,
            now.astimezone(tz).date(),
        ).items()
    }
    for week in weeks:
        for which, due, until in (
            ("first", prompt_due(week, tz), nudge_due(week, tz)),
            (
                "second",
                nudge_due(week, tz),
                local_at(week_monday(week) + timedelta(days=7), timing.quiet_hours.start, tz),
            ),
        ):
            if not since < due <= now:
                continue
            for grid in grids:
                if (grid.id, week) in reported or grid.created_at > due:
                    continue
                if now >= until:
                    outreach.missed += 1
                    continue
                coordinator = coordinators.get(grid.id)
                if coordinator is None:
                    outreach.skipped += 1
                    continue
                outreach.notices.append(
                    Notice(
                        key=prompt_key(grid.id, week, which),
                        phone=coordinator.phone,
                        language=coordinator.language,
                        template=f"sms.report.{'prompt' if which == 'first' else 'nudge'}",
                        params={},
                        recipient_type="patient",
                        recipient_id=coordinator.id,
                    )
                )
            if which == "second":
                _silences(session, states, grids, week, reported, now, outreach)
    return outreach


def _silences(
    session: Session,
    states: NumberStates,
    grids: Sequence[Any],
    week: str,
    reported: set[tuple[int, str]],
    now: datetime,
    outreach: Outreach,
) -> None:
    """Grids silent for `week` and the one before: marked, and their doctor told once."""
    before = previous_week(week)
    first_monday = week_monday(before)
    silent = [
        g
        for g in grids
        if (g.id, week) not in reported
        and (g.id, before) not in reported
        and g.created_at.date() < first_monday
    ]
    if not silent:
        return
    open_ = {
        grid_id
        for (grid_id,) in session.execute(
            select(ReportSilence.grid_id).where(
                among(session, ReportSilence.grid_id, [g.id for g in silent]),
                ReportSilence.ended_week.is_(None),
            )
        )
    }
    last_reports: dict[int, str] = dict(
        session.execute(
            select(WeeklyReport.grid_id, WeeklyReport.week)
            .where(
                among(session, WeeklyReport.grid_id, [g.id for g in silent]),
                WeeklyReport.week < before,
            )
            .order_by(WeeklyReport.week)
        )
        .tuples()
        .all()
    )
    doctors = people.doctors(session, states, [g.doctor_id for g in silent if g.doctor_id])
    for grid in silent:
        if grid.id in open_:
            continue
        since = before
        last = last_reports.get(grid.id)
        if last is not None:
            since = _week_after(last)
        silence = ReportSilence(grid_id=grid.id, since_week=since)
        session.add(silence)
        doctor = doctors.get(grid.doctor_id or -1)
        if doctor is None:
            outreach.skipped += 1
            continue
        silence.doctor_told_at = now
        weeks = (week_monday(week) - week_monday(since)).days // 7 + 1
        coordinator = session.get(Patient, grid.coordinator_id) if grid.coordinator_id else None
        outreach.notices.append(
            Notice(
                key=f"report-silence:{grid.id}:{since}",
                phone=doctor.phone,
                language=doctor.language,
                template="sms.report.silence_doctor",
                params={
                    "grid": grid.code,
                    "weeks": weeks,
                    "name": coordinator.name if coordinator else "-",
                },
                recipient_type="doctor",
                recipient_id=doctor.id,
            )
        )
    session.flush()


def _week_after(week: str) -> str:
    monday = week_monday(week) + timedelta(days=7)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def end_silences(session: Session) -> None:
    """A report came for a silent grid: its silence ends with the first such week."""
    for silence in session.scalars(
        select(ReportSilence).where(ReportSilence.ended_week.is_(None))
    ).all():
        first = session.scalar(
            select(WeeklyReport.week)
            .where(WeeklyReport.grid_id == silence.grid_id, WeeklyReport.week >= silence.since_week)
            .order_by(WeeklyReport.week)
            .limit(1)
        )
        if first is not None:
            session.execute(
                update(ReportSilence).where(ReportSilence.id == silence.id).values(ended_week=first)
            )
