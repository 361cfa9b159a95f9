"""The domain services behind coordinators' SMS: reports, attendance, urgent cases,
acknowledgements and exchange changes, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.limits import ACK_ALPHABET
from grids.core.vocabulary import MemberEvent, PatientStatus
from grids.escalation.urgent import AckRefused, acknowledge, report_urgent
from grids.models import (
    AuditEntry,
    ExchangeAttendance,
    ExchangeOverride,
    Facility,
    Grid,
    MemberReport,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from grids.reports.attendance import record_attendance
from grids.reports.errors import (
    ExchangeTimeRefused,
    HeadcountTooLarge,
    ImplausibleReading,
    UnknownSeats,
)
from grids.reports.exchanges import coordinator_opted_out, move_exchange, skip_exchange
from grids.reports.senders import GridRoster, identify_sender, load_roster
from grids.reports.weekly import MemberUpdate, record_weekly_report
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
# Thursday 26 November 2026, 10:00 in Shanghai: ISO week 2026-W48.
THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def tree(session: Session) -> dict[str, Facility]:
    return factories.facility_tree(session)


@pytest.fixture
def fixture(session: Session, tree: dict[str, Facility]) -> factories.GridFixture:
    return factories.grid_with_members(session, tree["clinic_a"], size=12)


@pytest.fixture
def roster(session: Session, fixture: factories.GridFixture) -> GridRoster:
    return load_roster(session, fixture.grid)


def report(session, roster, fixture, *, all_stable=True, updates=(), now=THURSDAY):
    return record_weekly_report(
        session,
        roster,
        fixture.coordinator,
        all_stable=all_stable,
        updates=list(updates),
        now=now,
        tz=TZ,
        source_ref="SM1",
    )


# --- weekly reports ---


def test_all_stable_stores_the_weeks_report(session, roster, fixture) -> None:
    outcome = report(session, roster, fixture)
    assert (outcome.week, outcome.amended, outcome.stable_count) == ("2026-W48", False, 12)
    stored = session.scalars(select(WeeklyReport)).one()
    assert (stored.grid_id, stored.week, stored.all_stable, stored.revisions) == (
        fixture.grid.id,
        "2026-W48",
        True,
        1,
    )
    assert stored.coordinator_id == fixture.coordinator.id
    assert count(session, MemberReport) == 0


def test_the_week_is_the_iso_week_in_the_county_time_zone(session, roster, fixture) -> None:
    # Sunday 29 Nov 2026 at 16:30 UTC is already Monday 30 Nov in Shanghai: week 49.
    outcome = report(session, roster, fixture, now=datetime(2026, 11, 29, 16, 30, tzinfo=UTC))
    assert outcome.week == "2026-W49"


def test_readings_are_stored_and_those_members_are_not_counted_stable(
    session, roster, fixture
) -> None:
    outcome = report(
        session,
        roster,
        fixture,
        updates=[
            MemberUpdate(5, systolic=165, diastolic=100),
            MemberUpdate(12, glucose_mmol=Decimal("8.9")),
        ],
    )
    assert outcome.stable_count == 10
    readings = {(r.patient_id, r.kind): r for r in session.scalars(select(Reading)).all()}
    bp = readings[(fixture.members[5].id, "bp")]
    assert (bp.systolic, bp.diastolic, bp.week, bp.grid_id, bp.source_ref) == (
        165,
        100,
        "2026-W48",
        fixture.grid.id,
        "SM1",
    )
    assert readings[(fixture.members[12].id, "glucose")].glucose_mmol == Decimal("8.9")
    named = {m.seat for m in session.scalars(select(MemberReport))}
    assert named == {5, 12}


def test_a_later_report_in_the_week_amends_and_replaces_readings(session, roster, fixture) -> None:
    report(session, roster, fixture, updates=[MemberUpdate(5, systolic=165, diastolic=100)])
    outcome = report(
        session,
        roster,
        fixture,
        all_stable=False,
        updates=[MemberUpdate(5, systolic=150, diastolic=95)],
        now=THURSDAY.replace(hour=9),
    )
    assert outcome.amended
    stored = session.scalars(select(WeeklyReport)).one()
    assert (stored.revisions, stored.all_stable) == (2, True)
    assert stored.last_received_at == THURSDAY.replace(hour=9)
    bp = session.scalars(select(Reading)).one()
    assert (bp.systolic, bp.diastolic) == (150, 95)
    assert outcome.stable_count == 11


def test_all_stable_later_never_erases_an_event_reported_earlier(session, roster, fixture) -> None:
    first = report(
        session,
        roster,
        fixture,
        all_stable=False,
        updates=[MemberUpdate(7, events=(MemberEvent.HOSPITALISED,))],
    )
    assert (first.all_stable, first.stable_count) == (False, 0)
    second = report(session, roster, fixture)
    assert second.amended and second.all_stable
    assert second.stable_count == 11
    seven = session.scalars(select(MemberReport)).one()
    assert (seven.seat, seven.hospitalised) == (7, True)
    assert fixture.members[7].status == PatientStatus.HOSPITALISED


def test_events_change_the_patients_status(session, roster, fixture) -> None:
    report(
        session,
        roster,
        fixture,
        updates=[
            MemberUpdate(7, events=(MemberEvent.HOSPITALISED,)),
            MemberUpdate(3, events=(MemberEvent.MISSED_MEDICATION,)),
        ],
    )
    assert fixture.members[7].status == PatientStatus.HOSPITALISED
    assert fixture.members[3].status == PatientStatus.ACTIVE
    report(session, roster, fixture, updates=[MemberUpdate(7, events=(MemberEvent.DISCHARGED,))])
    assert fixture.members[7].status == PatientStatus.ACTIVE
    seven = session.scalar(select(MemberReport).where(MemberReport.seat == 7))
    assert (seven.hospitalised, seven.discharged) == (True, True)
    three = session.scalar(select(MemberReport).where(MemberReport.seat == 3))
    assert three.missed_medication
    actions = [
        (a.entity_code, a.after["status"])
        for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    code = fixture.members[7].code
    assert actions == [(code, "hospitalised"), (code, "active")]


def test_a_death_records_the_date_and_tells_the_doctor_once(session, roster, fixture) -> None:
    # 17:30 UTC on Thursday is 01:30 on Friday 27 November in Shanghai.
    late = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)
    outcome = report(
        session, roster, fixture, updates=[MemberUpdate(9, events=(MemberEvent.DIED,))], now=late
    )
    nine = fixture.members[9]
    assert (nine.status, nine.died_on) == (PatientStatus.DECEASED, date(2026, 11, 27))
    assert outcome.doctor_told_of_deaths
    [notice] = outcome.notices
    assert (notice.phone, notice.template, notice.recipient_id) == (
        fixture.doctor.phone,
        "sms.notice.member_died",
        fixture.doctor.id,
    )
    assert notice.params["seat"] == "9" and notice.params["name"] == nine.name
    again = report(
        session, roster, fixture, updates=[MemberUpdate(9, events=(MemberEvent.DIED,))], now=late
    )
    assert again.notices == [] and nine.died_on == date(2026, 11, 27)
    # The deceased member is no longer counted stable.
    assert report(session, roster, fixture, now=late).stable_count == 11


def test_unknown_seats_are_refused_and_nothing_is_written(session, roster, fixture) -> None:
    with pytest.raises(UnknownSeats) as refused:
        report(
            session,
            roster,
            fixture,
            updates=[
                MemberUpdate(5, systolic=150, diastolic=95),
                MemberUpdate(21, events=(MemberEvent.HOSPITALISED,)),
            ],
        )
    assert refused.value.seats == (21,)
    assert refused.value.occupied == tuple(range(1, 13))
    assert count(session, WeeklyReport) == count(session, Reading) == 0


@pytest.mark.parametrize(
    "update",
    [
        MemberUpdate(5, systolic=95, diastolic=150),
        MemberUpdate(5, systolic=400, diastolic=95),
        MemberUpdate(5, systolic=150, diastolic=20),
        MemberUpdate(5, glucose_mmol=Decimal("0.5")),
        MemberUpdate(5, glucose_mmol=Decimal("89")),
    ],
)
def test_implausible_readings_are_refused_and_nothing_is_written(
    session, roster, fixture, update
) -> None:
    with pytest.raises(ImplausibleReading):
        report(
            session,
            roster,
            fixture,
            updates=[MemberUpdate(3, events=(MemberEvent.HOSPITALISED,)), update],
        )
    assert count(session, WeeklyReport) == count(session, Reading) == 0
    assert fixture.members[3].status == PatientStatus.ACTIVE


def test_two_items_for_one_seat_in_a_message_are_merged(session, roster, fixture) -> None:
    outcome = report(
        session,
        roster,
        fixture,
        updates=[
            MemberUpdate(5, systolic=150, diastolic=95),
            MemberUpdate(5, events=(MemberEvent.MISSED_MEDICATION,)),
        ],
    )
    assert [(u.seat, u.systolic, u.events) for u in outcome.updates] == [
        (5, 150, ("missed_medication",))
    ]
    assert count(session, MemberReport) == 1


# --- attendance ---


def test_attendance_headcount_then_seats_amends(session, roster) -> None:
    first = record_attendance(session, roster, headcount=10, now=THURSDAY, tz=TZ)
    assert (first.week, first.amended, first.headcount) == ("2026-W48", False, 10)
    second = record_attendance(
        session, roster, headcount=3, seats=(3, 1, 2, 2), now=THURSDAY, tz=TZ
    )
    assert (second.amended, second.headcount, second.seats) == (True, 3, (1, 2, 3))
    row = session.scalars(select(ExchangeAttendance)).one()
    assert (row.headcount, row.seats) == (3, [1, 2, 3])


def test_attendance_refuses_more_people_than_members_and_unknown_seats(session, roster) -> None:
    with pytest.raises(HeadcountTooLarge):
        record_attendance(session, roster, headcount=15, now=THURSDAY, tz=TZ)
    with pytest.raises(UnknownSeats):
        record_attendance(session, roster, headcount=2, seats=(1, 19), now=THURSDAY, tz=TZ)
    assert count(session, ExchangeAttendance) == 0


# --- urgent reports ---


def urgent(session, roster, fixture, seat=5, text="胸痛", now=THURSDAY):
    return report_urgent(
        session,
        reporter=fixture.coordinator,
        roster=roster,
        seat=seat,
        text=text,
        now=now,
        source_ref="SMu",
    )


def test_an_urgent_report_gets_a_code_and_goes_to_the_doctor_at_once(
    session, roster, fixture
) -> None:
    outcome = urgent(session, roster, fixture)
    stored = session.scalars(select(UrgentReport)).one()
    assert len(stored.code) == 3 and set(stored.code) <= set(ACK_ALPHABET)
    assert (stored.grid_id, stored.patient_id, stored.seat, stored.text, stored.reporter_id) == (
        fixture.grid.id,
        fixture.members[5].id,
        5,
        "胸痛",
        fixture.coordinator.id,
    )
    assert (outcome.notified, outcome.notified_name) == ("doctor", fixture.doctor.name)
    [notice] = outcome.notices
    assert notice.urgent and notice.phone == fixture.doctor.phone
    assert notice.template == "sms.urgent.doctor"
    assert notice.params == {
        "grid": fixture.grid.code,
        "seat": "5",
        "name": fixture.members[5].name,
        "text": "胸痛",
        "code": stored.code,
        "phone": fixture.coordinator.phone,
        "reporter": fixture.coordinator.name,
    }


def test_a_member_without_a_seat_reports_their_own_case(session, roster, fixture) -> None:
    member = fixture.members[4]
    outcome = report_urgent(
        session, reporter=member, roster=roster, seat=None, text="胸闷", now=THURSDAY
    )
    assert (outcome.urgent.seat, outcome.patient) == (4, member)
    assert outcome.notices[0].template == "sms.urgent.doctor"


def test_a_coordinator_without_a_seat_is_not_taken_for_the_patient(
    session, roster, fixture
) -> None:
    # `老王晕倒了` from the coordinator in seat 1 is about someone; the doctor must not
    # read it as the coordinator's own case, and learns who reported it.
    outcome = urgent(session, roster, fixture, seat=None, text="老王晕倒了")
    assert (outcome.urgent.seat, outcome.urgent.patient_id, outcome.patient) == (None, None, None)
    [notice] = outcome.notices
    assert notice.template == "sms.urgent.doctor_unclear"
    assert (notice.params["reporter"], notice.params["text"]) == (
        fixture.coordinator.name,
        "老王晕倒了",
    )


@pytest.mark.parametrize("seat", [19, 25, 0])
def test_an_unknown_seat_is_still_reported_without_a_member(session, roster, fixture, seat) -> None:
    outcome = urgent(session, roster, fixture, seat=seat)
    assert not outcome.seat_known and outcome.unknown_seat == seat
    assert (outcome.urgent.seat, outcome.urgent.patient_id, outcome.urgent.text) == (
        None,
        None,
        f"{seat}: 胸痛",
    )
    assert outcome.notices[0].template == "sms.urgent.doctor_unclear"


def test_codes_are_unique_among_open_reports(session, roster, fixture, monkeypatch) -> None:
    first = urgent(session, roster, fixture)
    draws = iter(first.urgent.code + "KQ7")
    monkeypatch.setattr("grids.escalation.urgent.secrets.choice", lambda _alphabet: next(draws))
    second = urgent(session, roster, fixture, seat=6)
    assert second.urgent.code == "KQ7" != first.urgent.code


def test_a_grid_without_a_doctor_alerts_the_township_duty_phone(session, tree) -> None:
    orphan = factories.grid_with_members(session, tree["clinic_b"], size=6, with_doctor=False)
    outcome = report_urgent(
        session,
        reporter=orphan.coordinator,
        roster=load_roster(session, orphan.grid),
        seat=3,
        text="晕倒",
        now=THURSDAY,
    )
    assert (outcome.notified, outcome.notified_name) == ("facility", tree["township"].name)
    assert outcome.doctor_unreachable is None
    [notice] = outcome.notices
    assert (notice.phone, notice.template, notice.urgent) == (
        tree["township"].phone,
        "sms.urgent.duty_member",
        True,
    )
    assert notice.params["facility"] == tree["township"].name
    assert notice.params["reason"] == "网格无村医"


def test_a_doctor_whose_number_cannot_get_sms_is_bypassed_for_the_duty_phone(
    session, roster, fixture, tree
) -> None:
    # A doctor who texted 退订 by mistake, or whose number the provider refuses: an
    # alert to them would be suppressed, so it goes to the township instead.
    outcome = report_urgent(
        session,
        reporter=fixture.coordinator,
        roster=roster,
        seat=5,
        text="胸痛",
        now=THURSDAY,
        can_receive=lambda phone: phone != fixture.doctor.phone,
    )
    assert (outcome.notified, outcome.doctor_unreachable) == ("facility", fixture.doctor.name)
    [notice] = outcome.notices
    assert (notice.phone, notice.template) == (tree["township"].phone, "sms.urgent.duty_member")
    assert notice.params["reason"] == f"村医{fixture.doctor.name}收不到短信"


def test_a_duty_phone_that_cannot_get_sms_is_passed_over(session, tree) -> None:
    from grids.escalation.routing import duty_facility

    township = tree["township"]
    assert duty_facility(tree["clinic_a"], lambda phone: phone != township.phone) is tree["county"]


def test_nobody_to_alert_is_said_plainly(session, tree) -> None:
    orphan = factories.grid_with_members(session, tree["clinic_b"], size=4, with_doctor=False)
    for facility in tree.values():
        facility.phone = None
    outcome = report_urgent(
        session,
        reporter=orphan.coordinator,
        roster=load_roster(session, orphan.grid),
        seat=2,
        text="x",
        now=THURSDAY,
    )
    assert (outcome.notified, outcome.notices) == ("nobody", [])
    assert count(session, UrgentReport) == 1


def test_a_long_urgent_text_is_clipped_for_the_doctor_but_stored_whole(
    session, roster, fixture
) -> None:
    words = "胸口疼得厉害" * 20
    outcome = urgent(session, roster, fixture, text=words)
    assert outcome.urgent.text == words
    assert len(outcome.notices[0].params["text"]) == 40


# --- acknowledgements ---


def test_the_grids_doctor_acknowledges_by_code_and_the_reporter_is_told(
    session, roster, fixture
) -> None:
    code = urgent(session, roster, fixture).urgent.code
    later = THURSDAY.replace(minute=7)
    acked = acknowledge(session, fixture.doctor, code.lower(), now=later)
    assert (acked.urgent.acknowledged_at, acked.urgent.acknowledged_by_id) == (
        later,
        fixture.doctor.id,
    )
    [notice] = acked.notices
    assert (notice.phone, notice.template, notice.params["doctor"]) == (
        fixture.coordinator.phone,
        "sms.urgent.acknowledged",
        fixture.doctor.name,
    )
    with pytest.raises(AckRefused) as again:
        acknowledge(session, fixture.doctor, code, now=later)
    assert again.value.reason == "already_acknowledged"


def test_a_bare_ack_takes_the_one_open_report_or_lists_them(session, roster, fixture) -> None:
    with pytest.raises(AckRefused) as none_open:
        acknowledge(session, fixture.doctor, None, now=THURSDAY)
    assert none_open.value.reason == "none_open"
    first = urgent(session, roster, fixture).urgent
    second = urgent(session, roster, fixture, seat=6, now=THURSDAY.replace(minute=1)).urgent
    with pytest.raises(AckRefused) as several:
        acknowledge(session, fixture.doctor, None, now=THURSDAY)
    assert (several.value.reason, several.value.open_codes) == (
        "several_open",
        (first.code, second.code),
    )
    acknowledge(session, fixture.doctor, first.code, now=THURSDAY)
    assert acknowledge(session, fixture.doctor, None, now=THURSDAY).urgent is second


def test_only_the_grids_doctor_may_acknowledge(session, tree, roster, fixture) -> None:
    code = urgent(session, roster, fixture).urgent.code
    other = factories.doctor(session, tree["clinic_b"], name="李医生")
    with pytest.raises(AckRefused) as refused:
        acknowledge(session, other, code, now=THURSDAY)
    assert refused.value.reason == "not_your_grid"
    with pytest.raises(AckRefused) as unknown:
        acknowledge(session, fixture.doctor, "ZZZ" if code != "ZZZ" else "YYY", now=THURSDAY)
    assert unknown.value.reason == "unknown_code"
    assert session.scalars(select(UrgentReport)).one().acknowledged_at is None


# --- moving or skipping the exchange ---


def test_moving_the_exchange_later_this_week_tells_the_members(session, roster, fixture) -> None:
    outcome = move_exchange(
        session,
        roster,
        fixture.coordinator,
        at=time(19, 0),
        weekday=4,
        now=THURSDAY,
        tz=TZ,
        source_ref="SMm",
    )
    assert outcome.starts_at == datetime(2026, 11, 27, 19, 0, tzinfo=TZ)
    override = session.scalars(select(ExchangeOverride)).one()
    assert (override.week, override.skipped, override.starts_at) == (
        "2026-W48",
        False,
        datetime(2026, 11, 27, 11, 0, tzinfo=UTC),
    )
    assert outcome.members_told == 11
    phones = {n.phone for n in outcome.notices}
    assert fixture.coordinator.phone not in phones
    assert phones == {m.phone for seat, m in fixture.members.items() if seat != 1}
    assert outcome.notices[0].params == {
        "grid": fixture.grid.code,
        "weekday": "周五",
        "time": "19:00",
    }
    again = move_exchange(
        session,
        roster,
        fixture.coordinator,
        at=time(19, 0),
        weekday=4,
        now=THURSDAY,
        tz=TZ,
        source_ref="SMn",
    )
    assert again.unchanged and again.notices == []


def test_members_are_told_in_their_own_language(session, roster, fixture) -> None:
    fixture.members[4].language = "en"
    outcome = move_exchange(
        session,
        roster,
        fixture.coordinator,
        at=time(19, 0),
        weekday=6,
        now=THURSDAY,
        tz=TZ,
        source_ref="SMm",
    )
    by_phone = {n.phone: n for n in outcome.notices}
    assert by_phone[fixture.members[4].phone].params["weekday"] == "Sun"
    assert by_phone[fixture.members[4].phone].language == "en"


@pytest.mark.parametrize(
    ("weekday", "days_ahead", "at", "reason"),
    [
        (1, None, time(19, 0), "past"),  # Tuesday, already gone
        (3, None, time(9, 30), "past"),  # Thursday morning: it is 10:00
        (None, 4, time(19, 0), "not_this_week"),  # Monday next week
    ],
)
def test_moving_into_the_past_or_out_of_the_week_is_refused(
    session, roster, fixture, weekday, days_ahead, at, reason
) -> None:
    with pytest.raises(ExchangeTimeRefused) as refused:
        move_exchange(
            session,
            roster,
            fixture.coordinator,
            at=at,
            weekday=weekday,
            days_ahead=days_ahead,
            now=THURSDAY,
            tz=TZ,
        )
    assert refused.value.reason == reason
    assert count(session, ExchangeOverride) == 0


def test_skipping_the_exchange_tells_the_members_once(session, roster, fixture) -> None:
    outcome = skip_exchange(
        session, roster, fixture.coordinator, now=THURSDAY, tz=TZ, source_ref="SMs"
    )
    assert (outcome.skipped, outcome.members_told) == (True, 11)
    assert {n.template for n in outcome.notices} == {"sms.notice.exchange_skipped"}
    override = session.scalars(select(ExchangeOverride)).one()
    assert (override.skipped, override.starts_at) == (True, None)
    again = skip_exchange(
        session, roster, fixture.coordinator, now=THURSDAY, tz=TZ, source_ref="SMt"
    )
    assert again.unchanged and again.notices == []


def test_deceased_members_and_members_without_a_phone_are_not_told(
    session, roster, fixture
) -> None:
    fixture.members[2].status = PatientStatus.DECEASED
    fixture.members[3].phone = None
    outcome = skip_exchange(
        session, roster, fixture.coordinator, now=THURSDAY, tz=TZ, source_ref="SMs"
    )
    assert outcome.members_told == 9


# --- senders ---


def test_senders_are_told_apart_by_phone(session, tree, fixture) -> None:
    assert identify_sender(session, fixture.doctor.phone).role == "doctor"
    coordinator = identify_sender(session, fixture.coordinator.phone)
    assert coordinator.roster is not None
    assert coordinator.role == "coordinator" and coordinator.roster.grid.id == fixture.grid.id
    assert sorted(coordinator.roster.members) == list(range(1, 13))
    member = identify_sender(session, fixture.members[4].phone)
    assert member.roster is not None
    assert (member.role, member.roster.seat_of(fixture.members[4].id)) == ("member", 4)
    loner = factories.patient(session, tree["clinic_a"])
    assert loner.phone is not None
    assert identify_sender(session, loner.phone).role == "patient"
    assert identify_sender(session, factories.phone()).role == "unknown"


def test_a_coordinator_opting_out_asks_the_doctor_for_a_new_one(session, roster, fixture) -> None:
    day = THURSDAY.date()
    [notice] = coordinator_opted_out(session, roster, fixture.coordinator, day=day)
    assert (notice.phone, notice.template, notice.params) == (
        fixture.doctor.phone,
        "sms.notice.coordinator_opted_out",
        {"grid": fixture.grid.code, "name": fixture.coordinator.name},
    )
    # Opting out again the same day asks once; another day asks again.
    [again] = coordinator_opted_out(session, roster, fixture.coordinator, day=day)
    assert again.key == notice.key
    [later] = coordinator_opted_out(
        session, roster, fixture.coordinator, day=day.replace(day=day.day + 1)
    )
    assert later.key != notice.key


def test_duty_facility_walks_up_to_the_township_centre(session, tree) -> None:
    from grids.escalation.routing import duty_facility

    township: Facility = tree["township"]
    assert duty_facility(tree["clinic_a"]) is township
    tree["township"].phone = None
    assert duty_facility(tree["clinic_a"]) is tree["county"]
    assert duty_facility(None) is None


def test_grid_roster_ignores_members_who_left(session, fixture) -> None:
    from grids.models import Membership

    membership = session.scalar(
        select(Membership).where(Membership.patient_id == fixture.members[12].id)
    )
    membership.left_at = THURSDAY
    session.flush()
    roster = load_roster(session, session.get(Grid, fixture.grid.id))
    assert roster.occupied == list(range(1, 12))
    assert session.get(Patient, fixture.members[12].id) is not None
