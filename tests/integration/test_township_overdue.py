"""The township's list of members 30 days or more past due, found in SQL, is the list
the national rule gives when every member's due date is worked out one by one: at the
day's boundary, at the end of a month, with the latest follow-up winning, and without
members gone, away or moved out of the grid."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.vocabulary import PatientStatus
from grids.followups import rules
from grids.followups.due import due_items, member_dues, township_dues, township_overdue
from grids.followups.models import Followup
from grids.models import Membership, Reading
from grids.rollups.boards import member_rows
from grids.rollups.period import WeekPeriod
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2027, 5, 30, 2, 0, tzinfo=UTC)  # Sunday 30 May 2027, 10:00 in the county
TODAY = date(2027, 5, 30)
CUTOFF = TODAY - timedelta(days=rules.TOWNSHIP_AFTER_DAYS)  # 30 April: due by then is listed


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def membership_of(session: Session, patient_id: int) -> Membership:
    return session.scalars(select(Membership).where(Membership.patient_id == patient_id)).one()


def followup(session: Session, patient_id: int, visit: date, next_due: date) -> None:
    session.add(
        Followup(
            patient_id=patient_id,
            visit_date=visit,
            method="clinic",
            symptoms=[],
            medicines=[],
            adverse_reaction=False,
            next_due=next_due,
            next_due_reason="recheck",
            recorded_by="test",
        )
    )


def test_the_township_list_is_the_rule_applied_member_by_member(session: Session) -> None:
    tree = factories.facility_tree(session, prefix="TO")
    made = factories.grid_with_members(session, tree["clinic_a"], size=14, code="TO-G1")
    other = factories.grid_with_members(session, tree["clinic_b"], size=2, code="TO-G2")
    m = made.members
    joined = {
        # Never followed up: due 3 months after joining (clipped at the month's end).
        1: local(date(2027, 1, 30), 23, 59),  # due 30 April: listed, on the last day
        2: local(date(2027, 1, 31)),  # due 30 April (clipped): listed
        3: local(date(2027, 2, 1)),  # due 1 May: 29 days, not yet
        4: local(date(2027, 2, 1), 0, 1).astimezone(UTC),  # 1 Feb here, 31 Jan in UTC: not yet
    }
    for membership in session.scalars(select(Membership)):
        membership.joined_at = local(date(2026, 6, 1))
    for seat, moment in joined.items():
        membership_of(session, m[seat].id).joined_at = moment
    # Followed up: the latest follow-up's date counts, not an older one's.
    followup(session, m[5].id, date(2027, 3, 1), date(2027, 4, 30))  # 30 days: listed
    followup(session, m[6].id, date(2027, 3, 1), date(2027, 5, 1))  # 29 days: not listed
    followup(session, m[7].id, date(2026, 12, 1), date(2027, 1, 1))
    followup(session, m[7].id, date(2027, 5, 20), date(2027, 8, 20))  # seen since
    followup(session, m[8].id, date(2027, 5, 20), date(2027, 4, 1))
    followup(session, m[8].id, date(2027, 5, 20), date(2027, 6, 1))  # same day, written later
    followup(session, m[9].id, date(2026, 10, 1), date(2026, 10, 15))  # long overdue
    # Gone, away until after today, back from being away, and moved out of the grid.
    m[10].status = PatientStatus.DECEASED
    m[11].paused_until = TODAY + timedelta(days=1)
    m[12].paused_until = TODAY
    membership_of(session, m[13].id).left_at = local(date(2027, 3, 1))
    session.flush()

    grids = [made.grid.id, other.grid.id]
    expected = [
        member.code
        for member in member_dues(session, grids, TODAY, TZ)
        if rules.for_township(member.due, TODAY)
    ]
    found = [member.code for member in township_dues(session, grids, TODAY, TZ)]
    assert found == expected
    listed = {m[seat].code for seat in (1, 2, 5, 9, 12, 14)} | {
        member.code for member in other.members.values()
    }
    assert set(found) == listed

    items = due_items(session, grids, AT, TZ, township=True)
    assert {item.member_code for item in items} == listed
    by_code = {item.member_code: item for item in items}
    assert by_code[m[1].code].days_overdue == 30 and by_code[m[1].code].reason == "first"
    assert by_code[m[9].code].days_overdue == (TODAY - date(2026, 10, 15)).days
    assert by_code[m[9].code].reason == "recheck"


def test_the_listed_members_keep_the_colours_of_their_grid_page(session: Session) -> None:
    """The township's list colours only the members it shows, each as the doctor's page
    colours it for the week that closed: red first."""
    tree = factories.facility_tree(session, prefix="TC")
    made = factories.grid_with_members(session, tree["clinic_a"], size=8, code="TC-G1")
    m = made.members
    for seat, membership in enumerate(
        session.scalars(select(Membership).order_by(Membership.seat)), start=1
    ):
        membership.joined_at = local(date(2026, 6, 1) + timedelta(days=seat))
    week = "2027-W20"  # the week closed on Sunday 30 May
    for seat, (systolic, diastolic) in {5: (190, 100), 6: (150, 95), 7: (120, 75)}.items():
        session.add(
            Reading(
                patient_id=m[seat].id,
                grid_id=made.grid.id,
                week=week,
                kind="bp",
                systolic=systolic,
                diastolic=diastolic,
                reported_at=local(date(2027, 5, 20), 9),
            )
        )
    session.flush()

    total, listed = township_overdue(session, [made.grid.id], AT, TZ, 6)
    assert total == 8 and len(listed) == 6
    page = {
        row.code: row.colour for row in member_rows(session, WeekPeriod(week, TZ), [made.grid.id])
    }
    assert {item.member_code: item.colour for item in listed} == {
        item.member_code: page[item.member_code] for item in listed
    }
    assert listed[0].member_code == m[5].code and listed[0].colour == "red"
    assert page[m[6].code] == "yellow" and page[m[7].code] == "green"
    # The most overdue are listed: seats 7 and 8 joined last.
    assert m[8].code not in {item.member_code for item in listed}
