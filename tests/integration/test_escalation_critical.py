"""Critical readings on a controlled clock: a dangerous reading in a coordinator's report
puts an SMS on the doctor's phone the same evening (at 07:00 when written at night), is
acknowledged like an urgent case and climbs to the township after CRITICAL_ACK_HOURS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from config.settings import CriticalThresholds
from grids.escalation.models import Escalation, EscalationEvent
from grids.models import UrgentReport
from grids.storage.session import database_of
from notifications.models import OutboxMessage
from notifications.providers import provider_of
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.escalation import dispatch_at, outbox_rows, text_at, tick_at

# Tuesday 8 December 2026, 20:00 in Shanghai.
EVENING = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
NIGHT = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
SEVEN = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)  # 07:00 on Wednesday in Shanghai
DUTY = "+8613700001111"


def hours(start: datetime, n: float) -> datetime:
    return start + timedelta(hours=n)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url, county_duty_phone=DUTY)
    yield application
    empty_all_tables(database_of(application))
    database_of(application).dispose()


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    with database_of(app).unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=10, code="JXV01-HTN01")
        session.commit()
        return {"tree": tree, "grid": grid}


def cases(app: Flask) -> list[Escalation]:
    with database_of(app).unit_of_work() as session:
        found = list(session.scalars(select(Escalation).order_by(Escalation.id)))
        session.expunge_all()
        return found


def timeline(app: Flask) -> list[str]:
    with database_of(app).unit_of_work() as session:
        return list(session.scalars(select(EscalationEvent.kind).order_by(EscalationEvent.id)))


def to(app: Flask, phone: str, *where: Any) -> list[OutboxMessage]:
    return outbox_rows(app, OutboxMessage.to_phone == phone, *where)


def test_a_critical_reading_on_a_tuesday_evening_reaches_the_doctor_that_evening(
    app, county
) -> None:
    grid = county["grid"]
    reply = text_at(app, grid.coordinator.phone, "好 5 血压185/115", EVENING)
    [case] = cases(app)
    assert (case.kind, case.state, case.seat) == ("critical", "open", 5)
    assert (
        reply == f"已收到第50周报告。5号读数185/115 mmHg达危急值，已通知王医生（编号{case.code}）。"
    )
    assert len(reply) <= 70
    [sms] = to(app, grid.doctor.phone)
    assert sms.template == "sms.critical.doctor"
    assert sms.urgent and sms.next_attempt_at == EVENING
    assert sms.body.startswith("【危急值】JXV01-HTN01网格5号")
    assert "185/115 mmHg" in sms.body and sms.body.endswith(f"收到 {case.code}")
    dispatch_at(app, hours(EVENING, 0.01))
    assert [m.to for m in provider_of(app).sent] == [grid.doctor.phone]  # type: ignore[attr-defined]

    ack = text_at(app, grid.doctor.phone, f"收到 {case.code}", hours(EVENING, 1))
    assert ack is not None and ack.startswith(f"已确认{case.code}")
    assert cases(app)[0].state == "acknowledged"
    assert tick_at(app, hours(EVENING, 30)) == 0


def test_a_critical_reading_in_an_amendment_says_the_report_was_updated(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 3 血压150/95", EVENING)
    reply = text_at(app, grid.coordinator.phone, "5 血压185/115", hours(EVENING, 0.5))
    [case] = cases(app)
    assert reply is not None and reply.startswith("已更新第50周报告。5号读数185/115 mmHg")
    assert case.code in reply and len(reply) <= 70


def test_at_night_the_doctor_is_told_at_seven(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 5 血糖2.1", NIGHT)
    [case] = cases(app)
    assert case.kind == "critical"
    [sms] = to(app, grid.doctor.phone)
    assert sms.next_attempt_at == SEVEN
    dispatch_at(app, hours(NIGHT, 1))
    assert provider_of(app).sent == []  # type: ignore[attr-defined]
    assert tick_at(app, hours(NIGHT, 2)) == 0  # held, not late
    dispatch_at(app, hours(SEVEN, 0.02))
    assert [m.to for m in provider_of(app).sent] == [grid.doctor.phone]  # type: ignore[attr-defined]
    assert tick_at(app, hours(SEVEN, 1)) == 0


def test_unacknowledged_it_climbs_to_the_township_then_the_county(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "5 血压190/100", EVENING)
    sent = hours(EVENING, 0.01)
    dispatch_at(app, sent)
    assert tick_at(app, hours(sent, 23.9)) == 0
    assert to(app, tree["township"].phone) == []
    assert tick_at(app, hours(sent, 24.01)) == 1
    [duty] = to(app, tree["township"].phone)
    assert duty.template == "sms.critical.escalated"
    assert duty.next_attempt_at == hours(sent, 24.01)  # 20:00 Wednesday: at once
    dispatch_at(app, hours(sent, 24.02))
    assert tick_at(app, hours(sent, 27.9)) == 0
    assert tick_at(app, hours(sent, 28.1)) == 1
    [county_sms] = to(app, tree["county"].phone)
    assert county_sms.template == "sms.critical.escalated"
    assert county_sms.next_attempt_at == SEVEN + timedelta(days=1)  # 00:06 Thursday: held
    code = cases(app)[0].code
    assert text_at(app, tree["township"].phone, f"收到 {code}", hours(sent, 29)) is not None
    assert cases(app)[0].state == "acknowledged"


def test_the_acknowledgement_window_is_a_setting(database_url: str) -> None:
    app = make_app(database_url, critical=CriticalThresholds(ack_hours=2))
    try:
        with database_of(app).unit_of_work() as session:
            tree = factories.facility_tree(session)
            grid = factories.grid_with_members(session, tree["clinic_a"], size=6)
            session.commit()
        assert grid.coordinator.phone is not None
        text_at(app, grid.coordinator.phone, "好 3 血压200/120", EVENING)
        dispatch_at(app, EVENING)
        assert tick_at(app, hours(EVENING, 1.9)) == 0
        assert tick_at(app, hours(EVENING, 2.1)) == 1
        township = tree["township"].phone
        assert township is not None
        assert [m.template for m in to(app, township)] == ["sms.critical.escalated"]
    finally:
        empty_all_tables(database_of(app))
        database_of(app).dispose()


@pytest.mark.parametrize(
    ("text", "opens"),
    [
        ("好 5 血压179/109", False),
        ("好 5 血压180/90", True),
        ("好 5 血糖16.6", False),
        ("好 5 血糖16.7", True),
        ("好 5 血糖3.9", True),
        ("好 5 血糖4.0", False),
    ],
)
def test_threshold_edges_by_sms(app, county, text: str, opens: bool) -> None:
    reply = text_at(app, county["grid"].coordinator.phone, text, EVENING)
    assert bool(cases(app)) is opens
    assert ("危急" in (reply or "")) is opens


def test_the_same_reading_again_opens_no_second_case(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", EVENING)
    text_at(app, grid.doctor.phone, "收到", hours(EVENING, 1))
    text_at(app, grid.coordinator.phone, "好 5 血压185/115 6 血压150/90", hours(EVENING, 2))
    assert len(cases(app)) == 1


def test_a_critical_reading_joins_the_members_open_urgent_case(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", EVENING)
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", hours(EVENING, 0.1))
    [case] = cases(app)
    assert case.kind == "urgent"
    assert timeline(app).count("merged") == 1
    with database_of(app).unit_of_work() as session:
        kinds = sorted(session.scalars(select(UrgentReport.kind)))
    assert kinds == ["critical", "urgent"]


def test_an_urgent_report_makes_an_open_critical_case_urgent(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", EVENING)
    text_at(app, grid.coordinator.phone, "急 5 胸痛", hours(EVENING, 0.5))
    [case] = cases(app)
    assert case.kind == "urgent"
    templates = [m.template for m in to(app, grid.doctor.phone)]
    assert templates == ["sms.critical.doctor", "sms.urgent.doctor"]
    assert case.ladder["kind"] == "urgent"


def test_a_red_flag_in_the_same_text_keeps_it_urgent(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "好 5 血压185/115 胸痛", EVENING)
    [case] = cases(app)
    assert case.kind == "urgent"
    assert [m.template for m in to(app, grid.doctor.phone)] == ["sms.urgent.doctor"]


def test_a_red_flag_joining_a_critical_case_tells_the_county_hospital_at_once(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "好 5 血压185/115", EVENING)
    text_at(app, grid.coordinator.phone, "急 5 胸痛出冷汗", hours(EVENING, 0.2))
    [case] = cases(app)
    assert (case.kind, case.red_flag) == ("urgent", True)
    assert [m.template for m in to(app, tree["county"].phone)] == ["sms.urgent.red_flag"]
    assert "escalated" in timeline(app)
