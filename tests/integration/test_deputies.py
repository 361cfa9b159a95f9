"""The deputy (副网格员): appointed by `admin set-deputy`, accepted like the coordinator,
and standing in while the coordinator is in hospital, opted out or silent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import parse_quiet_hours
from grids.core.vocabulary import PatientStatus
from grids.exchanges.reminders import exchange_reminders
from grids.models import Grid, Membership, Patient, WeeklyReport
from grids.outreach import NumberStates, Timing
from grids.outreach.leaders import GridLeaders, StandIn, standing_in
from grids.reports.prompts import report_prompts
from notifications.models import OutboxMessage, SmsContact
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
TIMING = Timing(TZ, parse_quiet_hours("21:00-08:00"))
STATES = NumberStates(SmsContact, SmsContact.phone, SmsContact.opted_out_at, SmsContact.invalid_at)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026, county time (Sundays: 6th, 13th, 20th, 27th)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def _set_patient(session: Session, patient: Patient, **values: object) -> None:
    session.execute(update(Patient).where(Patient.id == patient.id).values(**values))
    session.expire_all()


@pytest.fixture
def made(session: Session) -> factories.GridFixture:
    tree = factories.facility_tree(session)
    made = factories.grid_with_members(session, tree["clinic_a"], size=6, code="A-HTN01")
    made.members[2].volunteer = True
    made.grid.deputy_id = made.members[2].id
    made.grid.exchange_weekday, made.grid.exchange_time = 3, time(19)
    made.grid.created_at = at(1, 9)
    session.execute(
        update(Membership).where(Membership.grid_id == made.grid.id).values(joined_at=at(1, 9))
    )
    session.flush()
    _set_patient(session, made.coordinator, updated_at=at(1, 9))
    return made


def _prompted(session: Session, since: datetime, now: datetime) -> list[str]:
    return [n.phone for n in report_prompts(session, STATES, TIMING, since, now).notices]


def _leaders(session: Session, made: factories.GridFixture, now: datetime) -> dict[int, StandIn]:
    grid = session.get_one(Grid, made.grid.id)
    row = GridLeaders(grid.id, grid.coordinator_id, grid.deputy_id, grid.created_at)
    return standing_in(session, [row], now, STATES)


def test_the_deputy_takes_over_while_the_coordinator_is_in_hospital_and_hands_back(
    session: Session, made: factories.GridFixture
) -> None:
    coordinator, deputy = made.coordinator.phone, made.members[2].phone
    assert _prompted(session, at(6, 17), at(6, 18)) == [coordinator]

    _set_patient(session, made.coordinator, status=PatientStatus.HOSPITALISED, updated_at=at(9, 9))
    assert _prompted(session, at(13, 17), at(13, 18)) == [deputy]
    assert _leaders(session, made, at(13, 18)) == {made.grid.id: StandIn.HOSPITALISED}

    _set_patient(session, made.coordinator, status=PatientStatus.ACTIVE, updated_at=at(19, 9))
    assert _prompted(session, at(20, 17), at(20, 18)) == [coordinator]
    assert _leaders(session, made, at(20, 18)) == {}


def test_a_coordinator_silent_two_weeks_is_stood_in_for_until_he_texts_again(
    session: Session, made: factories.GridFixture
) -> None:
    coordinator, deputy = made.coordinator.phone, made.members[2].phone
    assert _prompted(session, at(13, 17), at(13, 18)) == [coordinator]  # 12 days
    assert _prompted(session, at(20, 17), at(20, 18)) == [deputy]  # 19 days

    session.add(
        WeeklyReport(
            grid_id=made.grid.id,
            week="2026-W51",
            coordinator_id=made.coordinator.id,
            first_received_at=at(21, 9),
            last_received_at=at(21, 9),
        )
    )
    session.flush()
    assert _prompted(session, at(27, 17), at(27, 18)) == [coordinator]


def test_exchange_reminders_go_to_the_deputy_while_the_coordinator_is_opted_out(
    session: Session, made: factories.GridFixture
) -> None:
    session.add(SmsContact(phone=made.coordinator.phone, opted_out_at=at(8, 9)))
    session.flush()
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    assert [(n.phone, n.template) for n in outreach.notices] == [
        (made.members[2].phone, "sms.exchange.coordinator")
    ]


def test_without_a_reachable_deputy_the_coordinator_is_still_asked(
    session: Session, made: factories.GridFixture
) -> None:
    _set_patient(session, made.members[2], phone=None)
    _set_patient(session, made.coordinator, status=PatientStatus.HOSPITALISED, updated_at=at(9, 9))
    assert _prompted(session, at(13, 17), at(13, 18)) == [made.coordinator.phone]


def test_the_deputys_report_is_accepted_and_the_reply_names_the_grid(
    runner, session: Session, made: factories.GridFixture
) -> None:
    session.commit()
    result = runner.invoke(args=["sms", "receive", "--from", made.members[2].phone, "好"])

    assert result.exit_code == 0, result.output
    assert "（副网格员·A-HTN01）已收到第" in result.output
    report = session.scalars(select(WeeklyReport)).one()
    assert (report.grid_id, report.coordinator_id) == (made.grid.id, made.members[2].id)


def test_admin_set_deputy_previews_applies_tells_and_undoes(
    runner, session: Session, made: factories.GridFixture
) -> None:
    newcomer = made.members[4]
    session.commit()
    refused = runner.invoke(args=["admin", "set-deputy", "A-HTN01", newcomer.code])
    assert refused.exit_code == 1
    assert f"{newcomer.code}不是有手机的在管志愿者" in refused.output
    newcomer.volunteer = True
    session.commit()

    preview = runner.invoke(
        args=["admin", "set-deputy", "A-HTN01", newcomer.code, "--dry-run", "--format", "json"]
    )
    assert preview.exit_code == 0, preview.output
    assert sorted(s["template"] for s in json.loads(preview.output)["sms"]) == [
        "sms.admin.coordinator_deputy",
        "sms.admin.deputy_new",
        "sms.admin.deputy_released",
    ]
    applied = runner.invoke(
        args=["admin", "set-deputy", "A-HTN01", newcomer.code, "--reason", "原副网格员外出打工"]
    )
    assert applied.exit_code == 0, applied.output
    session.expire_all()
    assert session.get_one(Grid, made.grid.id).deputy_id == newcomer.id
    sent = {
        (row.to_phone, row.template)
        for row in session.execute(select(OutboxMessage.to_phone, OutboxMessage.template))
    }
    assert (newcomer.phone, "sms.admin.deputy_new") in sent
    assert (made.coordinator.phone, "sms.admin.coordinator_deputy") in sent
    assert (made.members[2].phone, "sms.admin.deputy_released") in sent

    log = json.loads(runner.invoke(args=["admin", "log", "--format", "json"]).output)["items"]
    assert log[0]["operation"] == "set-deputy"
    undone = runner.invoke(args=["admin", "undo", str(log[0]["id"])])
    assert undone.exit_code == 0, undone.output
    session.expire_all()
    assert session.get_one(Grid, made.grid.id).deputy_id == made.members[2].id


def test_the_deputy_made_coordinator_steps_down_as_deputy(
    runner, session: Session, made: factories.GridFixture
) -> None:
    session.commit()
    deputy = made.members[2]
    result = runner.invoke(args=["admin", "set-coordinator", "A-HTN01", deputy.code])
    assert result.exit_code == 0, result.output
    session.expire_all()
    grid = session.get_one(Grid, made.grid.id)
    assert (grid.coordinator_id, grid.deputy_id) == (deputy.id, None)


def test_the_doctors_page_says_who_stands_in_and_why(
    session: Session, made: factories.GridFixture
) -> None:
    from grids.rollups.boards import doctor_grids

    assert made.doctor is not None
    _set_patient(session, made.coordinator, status=PatientStatus.HOSPITALISED)
    [line] = doctor_grids(session, made.doctor, "2026-W50")
    assert (line.stand_in, line.deputy) == ("hospitalised", made.members[2].name)
