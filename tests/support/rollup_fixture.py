"""A small county with known answers for every indicator of week 2026-W48.

Week 2026-W48 runs from Monday 23 November to Sunday 29 November 2026 in
Asia/Shanghai. The expected figures below are worked out by hand in
docs/indicators.md ("worked example"); change them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from grids.models import (
    ExchangeAttendance,
    Grid,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from tests.support import factories

WEEK = "2026-W48"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday of W49, county time


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class County:
    codes: dict[str, str]
    patients: dict[str, Patient]
    grids: dict[str, Grid]


def build(session: Session) -> County:
    tree = factories.facility_tree(session, prefix="R")
    d1 = factories.doctor(session, tree["clinic_a"], code="RD1")
    d2 = factories.doctor(session, tree["clinic_b"], code="RD2")
    grids = {
        "A": Grid(
            code="R-A", facility_id=tree["clinic_a"].id, condition="hypertension", doctor_id=d1.id
        ),
        "B": Grid(
            code="R-B", facility_id=tree["clinic_b"].id, condition="hypertension", doctor_id=d1.id
        ),
        "C": Grid(
            code="R-C", facility_id=tree["clinic_b"].id, condition="diabetes", doctor_id=d2.id
        ),
    }
    session.add_all(grids.values())
    session.flush()
    patients: dict[str, Patient] = {}
    seats = {"A": 0, "B": 0, "C": 0}

    def member(
        name: str,
        grid: str,
        *,
        joined: datetime = LONG_AGO,
        conditions=("hypertension",),
        birth_year: int = 1950,
        left: datetime | None = None,
    ) -> Patient:
        if name not in patients:
            record = factories.patient(
                session,
                tree["clinic_a"],
                condition=conditions[0],
                birth_year=birth_year,
                code=f"R{name}",
            )
            record.conditions = list(conditions)
            patients[name] = record
        seats[grid] += 1
        session.add(
            Membership(
                grid_id=grids[grid].id,
                patient_id=patients[name].id,
                seat=seats[grid],
                joined_at=joined,
                left_at=left,
            )
        )
        session.flush()
        return patients[name]

    for name in ("a1", "a2", "a3", "a4"):
        member(name, "A")
    member("a5", "A", conditions=("hypertension", "diabetes"))
    member("a6", "A", joined=at("2026-10-15T00:00"))
    member("a7", "B", left=at("2026-10-20T00:00"))  # moved mid-quarter from B to A
    member("a7", "A", joined=at("2026-10-20T00:00"))
    member("a8", "A", birth_year=1940)
    for name in ("a9", "a10", "a11"):
        member(name, "A")
    for name in ("b1", "b2", "b3"):
        member(name, "B")
    for name in ("c1", "c2"):
        member(name, "C", conditions=("diabetes",))
    grids["A"].coordinator_id = patients["a1"].id
    grids["B"].coordinator_id = patients["b1"].id
    grids["C"].coordinator_id = patients["c1"].id
    patients["a8"].died_on = date(2026, 11, 25)

    def bp(name: str, week: str, systolic: int, diastolic: int, grid: str = "A") -> None:
        session.add(
            Reading(
                patient_id=patients[name].id,
                grid_id=grids[grid].id,
                week=week,
                kind="bp",
                systolic=systolic,
                diastolic=diastolic,
                reported_at=at("2026-11-01T00:00"),
            )
        )

    def glucose(name: str, week: str, value: str, grid: str) -> None:
        session.add(
            Reading(
                patient_id=patients[name].id,
                grid_id=grids[grid].id,
                week=week,
                kind="glucose",
                glucose_mmol=Decimal(value),
                reported_at=at("2026-11-01T00:00"),
            )
        )

    bp("a1", "2026-W47", 130, 80)
    bp("a2", "2026-W40", 140, 85)  # exactly 140: not controlled
    bp("a3", "2026-W45", 135, 90)  # exactly 90: not controlled
    bp("a3", "2026-W30", 120, 70)  # outside the 13-week window
    bp("a4", "2026-W30", 120, 70)  # outside the window: BP missed, not lost
    bp("a4", "2026-W49", 120, 80)  # after the week: ignored for W48
    bp("a5", WEEK, 180, 100)  # exactly 180: red
    glucose("a5", "2026-W46", "6.5", "A")
    bp("a6", WEEK, 150, 95)
    bp("a7", "2026-W42", 128, 78, grid="B")  # read while in B, counts in A
    bp("b1", "2026-W44", 125, 82, grid="B")
    glucose("c1", WEEK, "16.7", "C")  # exactly 16.7: red
    glucose("c2", "2026-W47", "7.0", "C")  # exactly 7.0: not controlled

    report_a = WeeklyReport(
        grid_id=grids["A"].id,
        week=WEEK,
        coordinator_id=patients["a1"].id,
        all_stable=False,
        first_received_at=at("2026-11-28T01:00"),
        last_received_at=at("2026-11-28T01:00"),
    )
    report_b = WeeklyReport(
        grid_id=grids["B"].id,
        week=WEEK,
        coordinator_id=patients["b1"].id,
        all_stable=True,
        first_received_at=at("2026-11-28T02:00"),
        last_received_at=at("2026-11-28T02:00"),
    )
    session.add_all([report_a, report_b])
    session.flush()
    for name, seat, flags in (
        ("a3", 3, {"missed_medication": True}),
        ("a5", 5, {}),
        ("a6", 6, {}),
        ("a9", 10, {"hospitalised": True}),
    ):
        session.add(
            MemberReport(
                weekly_report_id=report_a.id,
                patient_id=patients[name].id,
                week=WEEK,
                seat=seat,
                **flags,
            )
        )
    session.add(
        ExchangeAttendance(
            grid_id=grids["A"].id, week=WEEK, headcount=7, reported_at=at("2026-11-26T12:00")
        )
    )

    def urgent(
        code: str, name: str, grid: str, received: str, acked: str | None, by: int | None
    ) -> None:
        session.add(
            UrgentReport(
                code=code,
                grid_id=grids[grid].id,
                patient_id=patients[name].id,
                text="胸痛",
                received_at=at(received),
                acknowledged_at=at(acked) if acked else None,
                acknowledged_by_id=by,
            )
        )

    urgent("K01", "a10", "A", "2026-11-10T02:00", "2026-11-10T02:05", d1.id)  # W46
    urgent("K02", "a10", "A", "2026-11-24T02:00", "2026-11-24T02:20", d1.id)  # 1200 s
    urgent("K03", "b2", "B", "2026-11-27T01:00", "2026-11-27T01:05", d1.id)  # 300 s
    session.flush()
    codes = {
        "county": tree["county"].code,
        "township": tree["township"].code,
        "d1": d1.code,
        "d2": d2.code,
    }
    return County(codes=codes, patients=patients, grids=grids)


EXPECTED_GRID_A = {
    "members": 10,
    "grids": 1,
    "grids_reported": 1,
    "members_stable": 0,
    "members_with_reading": 2,
    "members_flagged": 3,
    "members_no_news_2w": 4,
    "htn_denominator": 9,
    "bp_controlled": 2,
    "bp_uncontrolled": 3,
    "bp_missed": 4,
    "lost_to_follow_up": 1,
    "dm_denominator": 1,
    "glucose_controlled": 1,
    "glucose_uncontrolled": 0,
    "glucose_missed": 0,
    "exchanges_held": 1,
    "attendance": 7,
    "urgent": 1,
    "urgent_ack_median_s": 1200,
    "urgent_ack_max_s": 1200,
    "urgent_past_doctor": 1,
    "urgent_open": 0,
    "red": 3,
    "yellow": 6,
    "green": 1,
    "hospitalisations": 1,
    "deaths": 1,
    "avg_age_at_death": 86.0,
    "critical": 0,
    "critical_ack_median_s": None,
    "outcomes": {"home": 0, "referred": 0, "admitted": 0, "died": 0, "false": 0},
    "referral_followups_due": 0,
    "referral_followups_done": 0,
    "followups_done": 0,
    "followups_overdue": 9,
    "standard_managed": 0,
    "standard_managed_denominator": 9,
    "followup_bp_controlled": 0,
    "followup_glucose_controlled": 0,
}
EXPECTED_GRID_B = {
    "members": 3,
    "grids": 1,
    "grids_reported": 1,
    "members_stable": 3,
    "members_with_reading": 0,
    "members_flagged": 1,
    "members_no_news_2w": 0,
    "htn_denominator": 3,
    "bp_controlled": 1,
    "bp_uncontrolled": 0,
    "bp_missed": 2,
    "lost_to_follow_up": 0,
    "dm_denominator": 0,
    "glucose_controlled": 0,
    "glucose_uncontrolled": 0,
    "glucose_missed": 0,
    "exchanges_held": 0,
    "attendance": 0,
    "urgent": 1,
    "urgent_ack_median_s": 300,
    "urgent_ack_max_s": 300,
    "urgent_past_doctor": 0,
    "urgent_open": 0,
    "red": 1,
    "yellow": 0,
    "green": 2,
    "hospitalisations": 0,
    "deaths": 0,
    "avg_age_at_death": None,
    "critical": 0,
    "critical_ack_median_s": None,
    "outcomes": {"home": 0, "referred": 0, "admitted": 0, "died": 0, "false": 0},
    "referral_followups_due": 0,
    "referral_followups_done": 0,
    "followups_done": 0,
    "followups_overdue": 3,
    "standard_managed": 0,
    "standard_managed_denominator": 3,
    "followup_bp_controlled": 0,
    "followup_glucose_controlled": 0,
}
EXPECTED_GRID_C = {
    "members": 2,
    "grids": 1,
    "grids_reported": 0,
    "members_stable": 0,
    "members_with_reading": 1,
    "members_flagged": 0,
    "members_no_news_2w": 0,
    "htn_denominator": 0,
    "bp_controlled": 0,
    "bp_uncontrolled": 0,
    "bp_missed": 0,
    "lost_to_follow_up": 0,
    "dm_denominator": 2,
    "glucose_controlled": 0,
    "glucose_uncontrolled": 2,
    "glucose_missed": 0,
    "exchanges_held": 0,
    "attendance": 0,
    "urgent": 0,
    "urgent_ack_median_s": None,
    "urgent_ack_max_s": None,
    "urgent_past_doctor": 0,
    "urgent_open": 0,
    "red": 1,
    "yellow": 1,
    "green": 0,
    "hospitalisations": 0,
    "deaths": 0,
    "avg_age_at_death": None,
    "critical": 0,
    "critical_ack_median_s": None,
    "outcomes": {"home": 0, "referred": 0, "admitted": 0, "died": 0, "false": 0},
    "referral_followups_due": 0,
    "referral_followups_done": 0,
    "followups_done": 0,
    "followups_overdue": 2,
    "standard_managed": 0,
    "standard_managed_denominator": 2,
    "followup_bp_controlled": 0,
    "followup_glucose_controlled": 0,
}


def add_messages(session: Session, county: County) -> None:
    """SMS around grid A in W48 (shown on its page) and some it must not show."""
    from notifications.models import InboundMessage, OutboxMessage

    def inbound(sid: str, name: str, when: str, body: str) -> None:
        phone = county.patients[name].phone
        assert phone is not None
        session.add(
            InboundMessage(message_sid=sid, from_phone=phone, body=body, received_at=at(when))
        )

    def outbound(key: str, name: str, when: str, body: str, status: str) -> None:
        phone = county.patients[name].phone
        assert phone is not None
        session.add(
            OutboxMessage(
                idempotency_key=key,
                to_phone=phone,
                template="sms.reply.report_ok",
                language="zh_CN",
                body=body,
                status=status,
                created_at=at(when),
            )
        )

    inbound("SM-W48-A1", "a1", "2026-11-24T01:00", "OK 5 BP150/95")
    outbound("reply:W48-A1", "a1", "2026-11-24T01:00", "第48周周报已收到。", "delivered")
    outbound("urgent:W48-A5", "a5", "2026-11-25T03:00", "请回电医生 13912345678", "failed")
    inbound("SM-W47-A1", "a1", "2026-11-17T01:00", "上周的周报")
    inbound("SM-W48-B1", "b1", "2026-11-24T02:00", "B格的周报")
    session.flush()
