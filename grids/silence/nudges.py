"""A member with no news for four weeks is named to the coordinator (or the deputy
standing in for him, `grids.outreach.leaders`).

News is a reading or an event reported for the member (the date they joined the
grid counts as the start). Each silence is named once (`member_silences`, keyed
by the last news): news and a new silence later name the member again. One SMS
per grid lists the seats ("5号、7号4周无消息，请联系"). State-based: the run after an
outage names whoever is silent then, nothing is missed.

Key: `member-silence:{grid}:{local date}:{first patient id}`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.vocabulary import GONE_STATUSES
from grids.models import Grid, MemberReport, Membership, Patient, Reading
from grids.outreach import NumberStates, Outreach, leaders, people
from grids.outreach.leaders import GridLeaders
from grids.silence.models import MemberSilence

SILENT_AFTER = timedelta(weeks=4)

SeatsText = Callable[[str, Sequence[int]], str]
"""(language, seats) -> the seats as the message shows them (`5号、7号`)."""


def _silent_members(
    session: Session, cutoff: datetime, today: date
) -> tuple[dict[int, list[tuple[int, int, datetime]]], dict[int, GridLeaders]]:
    """Per grid, the (seat, patient id, last news) of members silent since `cutoff`,
    and each such grid's coordinator and deputy."""
    readings = (
        select(Reading.patient_id, func.max(Reading.reported_at).label("at"))
        .group_by(Reading.patient_id)
        .subquery()
    )
    events = (
        select(MemberReport.patient_id, func.max(MemberReport.updated_at).label("at"))
        .group_by(MemberReport.patient_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Membership.grid_id,
            Membership.seat,
            Membership.joined_at,
            Patient.id,
            readings.c.at,
            events.c.at,
            Grid.coordinator_id,
            Grid.deputy_id,
            Grid.created_at,
        )
        .join(Patient, Patient.id == Membership.patient_id)
        .join(Grid, Grid.id == Membership.grid_id)
        .outerjoin(readings, readings.c.patient_id == Patient.id)
        .outerjoin(events, events.c.patient_id == Patient.id)
        .where(
            Membership.left_at.is_(None),
            Patient.status.not_in([s.value for s in GONE_STATUSES]),
            or_(Grid.coordinator_id.is_not(None), Grid.deputy_id.is_not(None)),
            Membership.joined_at <= cutoff,
            ~people.paused_on(today),
        )
    ).all()
    silent: dict[int, list[tuple[int, int, datetime]]] = defaultdict(list)
    leaders_of: dict[int, GridLeaders] = {}
    for grid_id, seat, joined, pid, reading_at, event_at, coordinator_id, deputy, created in rows:
        if pid == coordinator_id:
            continue
        last = max(moment for moment in (joined, reading_at, event_at) if moment is not None)
        if last <= cutoff:
            silent[grid_id].append((seat, pid, last))
            leaders_of[grid_id] = GridLeaders(grid_id, coordinator_id, deputy, created)
    return silent, leaders_of


def member_silence_nudges(
    session: Session,
    states: NumberStates,
    tz: ZoneInfo,
    seats_text: SeatsText,
    now: datetime,
) -> Outreach:
    """The coordinators (or the deputies standing in) told of members newly silent four
    weeks as of `now`; each silence named is recorded in the session (no commit)."""
    outreach = Outreach()
    today = now.astimezone(tz).date()
    silent, leaders_of = _silent_members(session, now - SILENT_AFTER, today)
    if not silent:
        return outreach
    named = set(
        session.execute(
            select(MemberSilence.patient_id, MemberSilence.last_news_at).where(
                MemberSilence.patient_id.in_(
                    [pid for found in silent.values() for _, pid, _ in found]
                )
            )
        ).tuples()
    )
    coordinators = {
        grid_id: lead.person
        for grid_id, lead in leaders.leads(
            session, states, list(leaders_of.values()), now, today
        ).items()
    }
    day = now.astimezone(tz).date().isoformat()
    for grid_id, found in sorted(silent.items()):
        new = sorted(item for item in found if (item[1], item[2]) not in named)
        if not new:
            continue
        coordinator = coordinators.get(grid_id)
        if coordinator is None:
            outreach.skipped += len(new)
            continue
        for _seat, pid, last in new:
            session.add(
                MemberSilence(patient_id=pid, grid_id=grid_id, last_news_at=last, named_at=now)
            )
        outreach.notices.append(
            Notice(
                key=f"member-silence:{grid_id}:{day}:{new[0][1]}",
                phone=coordinator.phone,
                language=coordinator.language,
                template="sms.member.silence",
                params={"seats": seats_text(coordinator.language, [seat for seat, _, _ in new])},
                recipient_type="patient",
                recipient_id=coordinator.id,
            )
        )
    session.flush()
    return outreach
