"""The doctor's rota visit to an exchange: the members due a follow-up before the next
visit are listed, and the coordinator's reminder names their seats in one segment."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from config.settings import parse_quiet_hours
from grids.core.weeks import week_monday
from grids.exchanges.models import DoctorVisit
from grids.exchanges.planner import rota_week
from grids.exchanges.reminders import exchange_reminders
from grids.followups.due import seats_due_at_visit
from grids.followups.models import Followup
from grids.models import Membership
from grids.outreach import NumberStates, Timing
from i18n import translate
from notifications.models import SmsContact
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
TIMING = Timing(TZ, parse_quiet_hours("21:00-08:00"))
STATES = NumberStates(SmsContact, SmsContact.phone, SmsContact.opted_out_at, SmsContact.invalid_at)
VISIT_DAY = date(2026, 12, 10)  # Thursday of 2026-W50


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=TZ).astimezone(UTC)


def _grid(
    session: Session, size: int, *, visited: bool = True, prefix: str = "T"
) -> factories.GridFixture:
    tree = factories.facility_tree(session, prefix=prefix)
    made = factories.grid_with_members(session, tree["clinic_a"], size=size, code=f"V-HTN{prefix}")
    made.grid.exchange_weekday, made.grid.exchange_time = 3, time(19)
    session.execute(
        update(Membership)
        .where(Membership.grid_id == made.grid.id)
        .values(joined_at=datetime(2026, 9, 1, 2, tzinfo=UTC))
    )
    week = rota_week(week_monday("2026-W50").toordinal())
    assert made.doctor is not None
    session.add(
        DoctorVisit(
            grid_id=made.grid.id,
            doctor_id=made.doctor.id,
            rota_week=week if visited else week % 4 + 1,
        )
    )
    session.flush()
    return made


def _seen(session: Session, made: factories.GridFixture, seat: int, next_due: date) -> None:
    session.add(
        Followup(
            patient_id=made.members[seat].id,
            visit_date=next_due - timedelta(days=14),
            method="exchange",
            symptoms=[],
            medicines=[],
            adverse_reaction=False,
            next_due=next_due,
            next_due_reason="recheck",
            recorded_by="test",
        )
    )
    session.flush()


def _eight(session: Session, *, visited: bool = True) -> factories.GridFixture:
    made = _grid(session, 8, visited=visited)
    for seat in (1, 2, 4, 6, 7):
        _seen(session, made, seat, date(2027, 2, 20))
    _seen(session, made, 8, date(2026, 12, 15))
    return made


def test_members_due_before_the_next_visit_are_listed(session: Session) -> None:
    made = _eight(session)
    # Seats 3 and 5: first follow-up due 1 December; seat 8: a recheck due on the 15th.
    assert seats_due_at_visit(session, made.grid.id, VISIT_DAY, TZ) == [3, 5, 8]
    # A recheck due after the next visit (4 weeks on) waits for that one.
    _seen(session, made, 3, date(2027, 1, 7))
    assert seats_due_at_visit(session, made.grid.id, VISIT_DAY, TZ) == [5, 8]


def test_the_coordinators_reminder_names_the_seats(session: Session) -> None:
    made = _eight(session)
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    [notice] = outreach.notices
    assert notice.phone == factories.phone_of(made.coordinator)
    assert notice.template == "sms.exchange.coordinator_visit"
    text = translate(notice.template, "zh_CN", **notice.params)
    assert text.startswith("周四医生来随访，请3、5、8号参加。19:00交流")
    assert len(text) <= 70


def test_no_seats_named_when_the_doctor_is_not_on_the_rota(session: Session) -> None:
    _eight(session, visited=False)
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    assert [n.template for n in outreach.notices] == ["sms.exchange.coordinator"]


def test_many_seats_still_fit_one_segment(session: Session) -> None:
    _grid(session, 20)
    now = at(10, 17)
    outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
    [notice] = outreach.notices
    text = translate(notice.template, "zh_CN", **notice.params)
    assert len(text) <= 70 and notice.params["seats"].endswith("等")
    assert notice.params["seats"].startswith("1、2、3")


def test_a_days_visits_are_read_at_once_whatever_their_number(session: Session) -> None:
    """A province's day has tens of thousands of visited exchanges: one grid at a time
    was two statements each."""
    first = _eight(session)
    now = at(10, 17)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def run() -> dict[str, str]:
        statements.clear()
        event.listen(session.get_bind(), "before_cursor_execute", count)
        try:
            outreach = exchange_reminders(session, STATES, TIMING, now - timedelta(minutes=15), now)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", count)
        return {n.phone: n.params.get("seats", "") for n in outreach.notices}

    assert run() == {factories.phone_of(first.coordinator): "3、5、8"}
    alone = len(statements)
    others = [_grid(session, 6, prefix=prefix) for prefix in ("A", "B", "C", "D")]
    _seen(session, others[0], 2, date(2027, 2, 20))
    seats = run()
    assert len(statements) == alone
    assert seats[factories.phone_of(first.coordinator)] == "3、5、8"
    assert seats[factories.phone_of(others[0].coordinator)] == "1、3、4、5、6"
    for made in others[1:]:
        assert seats[factories.phone_of(made.coordinator)] == "1、2、3、4、5、6"
