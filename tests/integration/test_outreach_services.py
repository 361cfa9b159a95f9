"""The outreach services on a pinned clock, with no scheduler: who is told what, when."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from config.settings import parse_quiet_hours
from grids.exchanges.reminders import attendance_prompts, exchange_reminders
from grids.models import Membership
from grids.outreach import NumberStates, Timing
from grids.reports.prompts import report_prompts
from notifications.models import SmsContact
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
TIMING = Timing(TZ, parse_quiet_hours("21:00-08:00"))
STATES = NumberStates(SmsContact, SmsContact.phone, SmsContact.opted_out_at, SmsContact.invalid_at)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026, county time: Monday 7th to Sunday 13th is 2026-W50."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def _thursday_grid(session: Session) -> factories.GridFixture:
    tree = factories.facility_tree(session)
    made = factories.grid_with_members(session, tree["clinic_a"], size=4, code="A-HTN01")
    made.grid.exchange_weekday, made.grid.exchange_time = 3, time(19)
    made.grid.created_at = at(1, 9)
    session.execute(
        update(Membership).where(Membership.grid_id == made.grid.id).values(joined_at=at(1, 9))
    )
    session.add(SmsContact(phone=factories.phone_of(made.members[4]), opted_out_at=at(2, 9)))
    session.flush()
    return made


def test_members_are_reminded_the_evening_before(session: Session) -> None:
    made = _thursday_grid(session)
    now = at(9, 18)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)

    told = sorted(n.phone for n in outreach.notices)
    assert told == sorted(factories.phone_of(made.members[seat]) for seat in (2, 3))
    assert {n.template for n in outreach.notices} == {"sms.exchange.reminder"}
    assert outreach.notices[0].params["when"] == "明天"
    assert outreach.notices[0].params["time"] == "19:00"
    assert outreach.skipped == 1  # the opted-out member
    assert outreach.missed == 0


def test_the_coordinator_two_hours_before_and_nothing_once_started(session: Session) -> None:
    made = _thursday_grid(session)
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    assert [(n.phone, n.template) for n in outreach.notices] == [
        (factories.phone_of(made.coordinator), "sms.exchange.coordinator")
    ]

    late = at(10, 19, 30)
    missed = exchange_reminders(session, STATES, TIMING, at(9, 12), late)
    assert missed.notices == []
    assert missed.missed == 2


def test_attendance_is_asked_the_morning_after(session: Session) -> None:
    made = _thursday_grid(session)
    outreach = attendance_prompts(session, STATES, TIMING, at(11, 9), at(11, 10))
    assert [n.template for n in outreach.notices] == ["sms.exchange.attendance_prompt"]
    assert outreach.notices[0].phone == factories.phone_of(made.coordinator)


def test_the_report_is_asked_on_sunday_evening(session: Session) -> None:
    made = _thursday_grid(session)
    outreach = report_prompts(session, STATES, TIMING, at(13, 17), at(13, 18))
    assert [(n.key, n.template) for n in outreach.notices] == [
        (f"report-prompt:{made.grid.id}:2026-W50:first", "sms.report.prompt")
    ]

    missed = report_prompts(session, STATES, TIMING, at(13, 17), at(14, 11))
    assert missed.missed == 1


PROVINCE_DAY = [
    """INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
       VALUES (1, 'PC', '县医院', 'county_hospital', NULL, :at, :at),
              (2, 'PT', '镇卫生院', 'township_center', 1, :at, :at),
              (3, 'PV', '村卫生室', 'village_clinic', 2, :at, :at)""",
    """INSERT INTO patients (id, code, name, phone, facility_id, primary_condition, conditions,
                             birth_year, volunteer, status, language, created_at, updated_at)
       SELECT n, 'PP' || n, '协调员' || n, '+86139' || lpad(n::text, 8, '0'), 3,
              'hypertension', '["hypertension"]', 1955, true, 'active', 'zh_CN', :at, :at
       FROM generate_series(1, :grids) AS n""",
    """INSERT INTO grids (id, code, facility_id, condition, coordinator_id, exchange_weekday,
                          exchange_time, exchange_minutes, version, created_at, updated_at)
       SELECT n, 'PG' || n, 3, 'hypertension', n, 3, '19:00', 60, 1, :at, :at
       FROM generate_series(1, :grids) AS n""",
    """INSERT INTO memberships (grid_id, patient_id, seat, joined_at)
       SELECT n, n, 1, :at FROM generate_series(1, :grids) AS n""",
]


@pytest.mark.postgres
def test_a_province_day_has_more_grids_than_one_statement_can_bind(session: Session) -> None:
    """Thursday in a province of 10 million: 71,000 grids meet, more ids than PostgreSQL
    takes as parameters of one statement (65,535); every coordinator is still reminded."""
    grids = 66_000
    for statement in PROVINCE_DAY:
        session.execute(text(statement), {"at": at(1, 9), "grids": grids})
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    assert len(outreach.notices) == grids
    assert {n.template for n in outreach.notices} == {"sms.exchange.coordinator"}
    asked = attendance_prompts(session, STATES, TIMING, at(11, 9), at(11, 10))
    assert len(asked.notices) == grids
