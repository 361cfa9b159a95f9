"""Who is reminded of the weekly exchange, and when; who is asked for attendance after.

- Members: 18:00 (county time) the day before the exchange, "明天19:00在东村卫生室交流";
  they may reply `1` / `去`. Still sent after an outage while the exchange has not
  started; never once it has (then counted as missed).
- Coordinator: two hours before, with how many members confirmed. Same policy.
- Attendance: 10:00 the day after an exchange held, if no `到 N` came since it
  started; useful until the quiet hours begin that day, missed after.

Keys: `exchange-reminder:{grid}:{start}:{patient}`, `exchange-coordinator:{grid}:{start}`,
`attendance-prompt:{grid}:{start}` (start `YYYYmmddTHHMMZ`): a moved exchange gets new
reminders, and the clearing step suppresses those for the old time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.core.weeks import week_monday
from grids.exchanges.models import DoctorVisit, ExchangeConfirmation
from grids.exchanges.planner import rota_week
from grids.exchanges.slots import occurrence_start
from grids.followups.due import seats_due_at_visits
from grids.followups.rules import seat_list
from grids.models import ExchangeAttendance, ExchangeOverride, Facility, Grid
from grids.outreach import NumberStates, Outreach, Timing, leaders, people
from grids.outreach.leaders import GridLeaders
from grids.outreach.timing import local_at, sending_moment, stamp, weeks_between
from grids.storage.id_lists import among, id_batches
from i18n import translate

MEMBER_REMINDER_AT = time(18, 0)
COORDINATOR_LEAD = timedelta(hours=2)
ATTENDANCE_PROMPT_AT = time(10, 0)
REMINDER_AHEAD = timedelta(days=2)
"""Reminders are looked for in the weeks up to this far ahead of `now`."""
VENUE_CHARS = 20
"""A longer venue name is cut so the reminder stays one SMS segment."""
MEMBER_TEMPLATE = "sms.exchange.reminder"
COORDINATOR_TEMPLATE = "sms.exchange.coordinator"
COORDINATOR_VISIT_TEMPLATE = "sms.exchange.coordinator_visit"
"""On the doctor's rota visit: the seats of members due a follow-up are named."""
SEATS_CHARS = 30
"""At most this many characters of seats (the providers' template variable)."""
SEGMENT_CHARS = {"zh_CN": 70}
"""One SMS segment: 70 characters of Chinese (UCS-2); other languages are GSM-7, 160."""
ATTENDANCE_TEMPLATE = "sms.exchange.attendance_prompt"
REMINDER_TEMPLATES = (MEMBER_TEMPLATE, COORDINATOR_TEMPLATE)


@dataclass(frozen=True)
class Occurrence:
    grid_id: int
    grid_code: str
    week: str
    starts_at: datetime
    venue: str
    coordinator_id: int | None
    members: int = 0
    deputy_id: int | None = None
    grid_created: datetime | None = None


def occurrences(session: Session, weeks: list[str], tz: ZoneInfo) -> Iterator[Occurrence]:
    """Every grid's exchange in `weeks`, moves and skips applied."""
    overrides: dict[tuple[int, str], tuple[bool, datetime | None]] = {
        (grid_id, week): (skipped, starts_at)
        for grid_id, week, skipped, starts_at in session.execute(
            select(
                ExchangeOverride.grid_id,
                ExchangeOverride.week,
                ExchangeOverride.skipped,
                ExchangeOverride.starts_at,
            ).where(ExchangeOverride.week.in_(weeks))
        )
    }
    rows = session.execute(
        select(
            Grid.id,
            Grid.code,
            Grid.exchange_weekday,
            Grid.exchange_time,
            Grid.exchange_venue,
            Grid.coordinator_id,
            Facility.name,
            Grid.deputy_id,
            Grid.created_at,
        ).join(Facility, Facility.id == Grid.facility_id)
    )
    standing: dict[tuple[int | None, time | None, str], datetime | None] = {}
    """Grids share a few standing slots: each (weekday, time, week) is computed once."""
    for (
        grid_id,
        code,
        weekday,
        start,
        venue,
        coordinator_id,
        facility_name,
        deputy,
        created,
    ) in rows:
        for week in weeks:
            override = overrides.get((grid_id, week))
            if override is None:
                slot = (weekday, start, week)
                if slot in standing:
                    starts = standing[slot]
                else:
                    starts = standing[slot] = occurrence_start(weekday, start, week, tz)
            else:
                skipped, moved_to = override
                starts = occurrence_start(
                    weekday, start, week, tz, skipped=skipped, moved_to=moved_to
                )
            if starts is not None:
                yield Occurrence(
                    grid_id,
                    code,
                    week,
                    starts,
                    venue or facility_name,
                    coordinator_id,
                    deputy_id=deputy,
                    grid_created=created,
                )


def attendance_prompt_prefix(grid_id: int) -> str:
    """What every attendance prompt key of `grid_id` starts with."""
    return f"attendance-prompt:{grid_id}:"


def reminded_exchange(key: str) -> tuple[int, str]:
    """The grid and start stamp named by a member or coordinator reminder's key."""
    _, grid, when = key.split(":")[:3]
    return int(grid), when


def _when(timing: Timing, starts: datetime, now: datetime, language: str) -> str:
    """`明天` / `今天` / `周四`, as seen when the message goes out."""
    tz = timing.tz
    sent = sending_moment(timing.quiet_hours, tz, now).astimezone(tz).date()
    day = starts.astimezone(tz).date()
    if day == sent:
        return translate("sms.exchange.when.today", language)
    if day == sent + timedelta(days=1):
        return translate("sms.exchange.when.tomorrow", language)
    return translate(f"sms.notice.weekday.{day.weekday()}", language)


def exchange_reminders(
    session: Session, states: NumberStates, timing: Timing, since: datetime, now: datetime
) -> Outreach:
    """The reminders due in (since, now]: members the day before, coordinators two
    hours before; one notice per member, sharing its parameters with the grid's
    other members who read the same language (the channel sends them as one text)."""
    outreach = Outreach()
    tz = timing.tz
    weeks = weeks_between(since, now + REMINDER_AHEAD, tz)
    for_members: list[Occurrence] = []
    for_coordinators: list[Occurrence] = []
    dues: dict[datetime, tuple[datetime, datetime]] = {}
    """Many grids meet at the same time: their due moments are computed once."""
    for occ in occurrences(session, weeks, tz):
        both = dues.get(occ.starts_at)
        if both is None:
            local_day = occ.starts_at.astimezone(tz).date()
            member_due = local_at(local_day - timedelta(days=1), MEMBER_REMINDER_AT, tz)
            both = dues[occ.starts_at] = (member_due, occ.starts_at - COORDINATOR_LEAD)
        member_due, coordinator_due = both
        for due, wanted in ((member_due, for_members), (coordinator_due, for_coordinators)):
            if since < due <= now:
                if now < occ.starts_at:
                    wanted.append(occ)
                else:
                    outreach.missed += 1
    _remind_members(session, states, timing, for_members, now, outreach)
    _remind_coordinators(session, states, timing, for_coordinators, now, outreach)
    return outreach


def _leaders(
    session: Session, states: NumberStates, due: list[Occurrence], now: datetime
) -> dict[int, people.Person]:
    """Each grid's coordinator, or its deputy while he stands in (grids.outreach.leaders)."""
    grids = {
        occ.grid_id: GridLeaders(
            occ.grid_id, occ.coordinator_id, occ.deputy_id, occ.grid_created or now
        )
        for occ in due
    }
    found = leaders.leads(session, states, list(grids.values()), now)
    return {grid_id: lead.person for grid_id, lead in found.items()}


def _remind_members(
    session: Session,
    states: NumberStates,
    timing: Timing,
    due: list[Occurrence],
    now: datetime,
    outreach: Outreach,
) -> None:
    """Members are read as plain rows, whether each may be written to decided by the
    database (`people.current_members`)."""
    by_grid = {occ.grid_id: occ for occ in due}
    connection = session.connection()
    for part in id_batches(session, by_grid):
        today = now.astimezone(timing.tz).date()
        members = people.current_members(session, states, part, today).subquery()
        rows = connection.execute(
            select(
                members.c.grid_id,
                members.c.patient_id,
                members.c.phone,
                members.c.language,
                members.c.reachable,
                members.c.not_coordinator,
            )
        ).all()
        prefixes = {
            grid_id: f"exchange-reminder:{grid_id}:{stamp(by_grid[grid_id].starts_at)}:"
            for grid_id in part
        }
        params: dict[tuple[int, str], dict[str, str]] = {}
        for grid_id, patient_id, phone, language, reachable, not_coordinator in rows:
            if not reachable:
                outreach.skipped += 1
            elif not_coordinator:  # the coordinator's own reminder comes two hours before
                shared = params.get((grid_id, language))
                if shared is None:
                    shared = params[(grid_id, language)] = _reminder_params(
                        timing, by_grid[grid_id], now, language
                    )
                outreach.notices.append(
                    Notice(
                        key=f"{prefixes[grid_id]}{patient_id}",
                        phone=phone,
                        language=language,
                        template=MEMBER_TEMPLATE,
                        params=shared,
                        recipient_type="patient",
                        recipient_id=patient_id,
                    )
                )


def _reminder_params(
    timing: Timing, occ: Occurrence, now: datetime, language: str
) -> dict[str, str]:
    return {
        "when": _when(timing, occ.starts_at, now, language),
        "time": f"{occ.starts_at.astimezone(timing.tz):%H:%M}",
        "venue": occ.venue[:VENUE_CHARS],
    }


def _remind_coordinators(
    session: Session,
    states: NumberStates,
    timing: Timing,
    due: list[Occurrence],
    now: datetime,
    outreach: Outreach,
) -> None:
    if not due:
        return
    coordinators = _leaders(session, states, due, now)
    grid_ids = [o.grid_id for o in due]
    confirmed: dict[int, int] = dict(
        session.execute(
            select(ExchangeConfirmation.grid_id, func.count())
            .where(
                among(session, ExchangeConfirmation.grid_id, grid_ids),
                ExchangeConfirmation.week.in_({o.week for o in due}),
            )
            .group_by(ExchangeConfirmation.grid_id)
        )
        .tuples()
        .all()
    )
    members = people.member_counts(session, states, grid_ids)
    seats = _followup_seats(session, due, timing.tz)

    def params(occ: Occurrence) -> tuple[str, dict[str, Any]]:
        return f"exchange-coordinator:{occ.grid_id}:{stamp(occ.starts_at)}", {
            "time": f"{occ.starts_at.astimezone(timing.tz):%H:%M}",
            "confirmed": confirmed.get(occ.grid_id, 0),
            "members": members.get(occ.grid_id, 0),
        }

    def with_seats(occ: Occurrence, person: people.Person) -> tuple[str, dict[str, Any]]:
        key, values = params(occ)
        day = occ.starts_at.astimezone(timing.tz).weekday()
        values["weekday"] = translate(f"sms.notice.weekday.{day}", person.language)
        room = SEGMENT_CHARS.get(person.language, 160) - len(
            translate(COORDINATOR_VISIT_TEMPLATE, person.language, **values, seats="")
        )
        more = translate("sms.exchange.more_seats", person.language)
        values["seats"] = seat_list(seats[occ.grid_id], min(room, SEATS_CHARS), more=more)
        return key, values

    plain = [occ for occ in due if occ.grid_id not in seats]
    _notify_coordinators(
        outreach, plain, coordinators, COORDINATOR_TEMPLATE, lambda occ, _: params(occ)
    )
    visited = [occ for occ in due if occ.grid_id in seats]
    _notify_coordinators(outreach, visited, coordinators, COORDINATOR_VISIT_TEMPLATE, with_seats)


def _followup_seats(session: Session, due: list[Occurrence], tz: ZoneInfo) -> dict[int, list[int]]:
    """Grids whose doctor visits this exchange (the rota) -> seats of the members due a
    follow-up before the next visit; grids with none are left out."""
    rota = dict(
        session.execute(
            select(DoctorVisit.grid_id, DoctorVisit.rota_week).where(
                among(session, DoctorVisit.grid_id, [occ.grid_id for occ in due])
            )
        )
        .tuples()
        .all()
    )
    visits = {
        occ.grid_id: occ.starts_at.astimezone(tz).date()
        for occ in due
        if rota.get(occ.grid_id) == rota_week(week_monday(occ.week).toordinal())
    }
    return seats_due_at_visits(session, visits, tz)


def _notify_coordinators(
    outreach: Outreach,
    due: list[Occurrence],
    coordinators: dict[int, people.Person],
    template: str,
    key_and_params: Callable[[Occurrence, people.Person], tuple[str, dict[str, Any]]],
) -> None:
    """One notice to each exchange's coordinator; an exchange without one is skipped."""
    for occ in due:
        coordinator = coordinators.get(occ.grid_id)
        if coordinator is None:
            outreach.skipped += 1
            continue
        key, params = key_and_params(occ, coordinator)
        outreach.notices.append(
            Notice(
                key=key,
                phone=coordinator.phone,
                language=coordinator.language,
                template=template,
                params=params,
                recipient_type="patient",
                recipient_id=coordinator.id,
            )
        )


def attendance_prompts(
    session: Session, states: NumberStates, timing: Timing, since: datetime, now: datetime
) -> Outreach:
    """Coordinators asked for attendance at 10:00 the day after an exchange without `到 N`."""
    outreach = Outreach()
    tz = timing.tz
    quiet_start = timing.quiet_hours.start
    weeks = weeks_between(since - timedelta(days=1), now, tz)
    due: list[Occurrence] = []
    for occ in occurrences(session, weeks, tz):
        day = occ.starts_at.astimezone(tz).date() + timedelta(days=1)
        prompt_at = local_at(day, ATTENDANCE_PROMPT_AT, tz)
        if not since < prompt_at <= now:
            continue
        if now < local_at(day, quiet_start, tz):
            due.append(occ)
        else:
            outreach.missed += 1
    if due:
        starts: dict[int, list[datetime]] = {}
        for occ in due:
            starts.setdefault(occ.grid_id, []).append(occ.starts_at)
        reported = {
            grid_id
            for grid_id, reported_at in session.execute(
                select(ExchangeAttendance.grid_id, ExchangeAttendance.reported_at).where(
                    among(session, ExchangeAttendance.grid_id, list(starts)),
                    ExchangeAttendance.reported_at >= min(occ.starts_at for occ in due),
                )
            )
            if any(reported_at >= start for start in starts[grid_id])
        }
        due = [o for o in due if o.grid_id not in reported]
    coordinators = _leaders(session, states, due, now)
    _notify_coordinators(
        outreach,
        due,
        coordinators,
        ATTENDANCE_TEMPLATE,
        lambda occ, coordinator: (
            f"{attendance_prompt_prefix(occ.grid_id)}{stamp(occ.starts_at)}",
            {
                "weekday": translate(
                    f"sms.notice.weekday.{occ.starts_at.astimezone(tz).weekday()}",
                    coordinator.language,
                )
            },
        ),
    )
    return outreach
