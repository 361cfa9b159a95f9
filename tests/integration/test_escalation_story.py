"""Urgent cases climbing their ladder on a controlled clock, through the signed webhooks,
the outbox and the tick, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from config.settings import parse_escalation_timeouts
from grids.escalation.models import Escalation, EscalationEvent
from grids.models import Facility, Grid, UrgentReport
from grids.storage.session import database_of
from notifications.models import OutboxMessage
from notifications.providers import PermanentSendError, provider_of, voice_provider_of
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.escalation import (
    dispatch_at,
    latest_case,
    outbox_rows,
    press_at,
    text_at,
    tick_at,
    two_clinic_county,
)

# Thursday 26 November 2026, 10:00 in Shanghai.
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DUTY = "+8613700001111"


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url, voice_backend="memory", county_duty_phone=DUTY)
    yield application
    empty_all_tables(database_of(application))
    database_of(application).dispose()


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    return two_clinic_county(app, 10, 4)


def case(app: Flask) -> Escalation:
    return latest_case(app)


def events(app: Flask) -> list[tuple[str, str | None]]:
    with database_of(app).unit_of_work() as session:
        rows = session.scalars(select(EscalationEvent).order_by(EscalationEvent.id))
        return [(row.kind, row.detail) for row in rows]


def to(app: Flask, phone: str, *where: Any) -> list[OutboxMessage]:
    return outbox_rows(app, OutboxMessage.to_phone == phone, *where)


def test_the_whole_story_doctor_then_a_call_then_the_township_who_acknowledges(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    doctor, township = grid.doctor, tree["township"]
    reply = text_at(app, grid.coordinator.phone, "急 5 头晕站不稳", T0)
    code = case(app).code
    assert reply == f"已通知村医王医生（编号{code}）：5号头晕站不稳。危急请拨120。"
    [sms] = to(app, doctor.phone)
    assert (sms.template, sms.channel, sms.status) == ("sms.urgent.doctor", "sms", "pending")

    dispatch_at(app, minutes(0.5))
    assert [m.to for m in provider_of(app).sent] == [doctor.phone]  # type: ignore[attr-defined]
    assert tick_at(app, minutes(2)) == 0  # waiting; the SMS counts as delivered (memory)

    # 3 minutes after the SMS was sent, nobody acknowledged: the doctor is called.
    assert tick_at(app, minutes(3.5)) == 1
    dispatch_at(app, minutes(3.6))
    [call] = voice_provider_of(app).to(doctor.phone)  # type: ignore[attr-defined]
    assert call.body.startswith(f"紧急报告，编号{code}。JXV01-HTN01网格5号")
    assert call.body.endswith("确认接手请按1。")

    # 10 minutes after the SMS was sent: the clinic has no other doctor, so the township.
    assert tick_at(app, minutes(10.4)) == 0
    assert tick_at(app, minutes(10.6)) == 1
    [duty_sms] = to(app, township.phone)
    assert duty_sms.template == "sms.urgent.escalated"
    assert duty_sms.body.startswith("【急】10分钟无人确认，请义安镇卫生院处理：JXV01-HTN01网格5号")
    dispatch_at(app, minutes(11))

    # The township's duty phone acknowledges by SMS; the ladder stops.
    ack = text_at(app, township.phone, f"收到 {code}", minutes(12))
    assert ack.startswith(f"已确认{code}：JXV01-HTN01网格5号")  # type: ignore[union-attr]
    state = case(app)
    assert (state.state, state.acknowledged_by) == ("acknowledged", "义安镇卫生院值班医生")
    [told] = to(app, grid.coordinator.phone)
    assert told.body == f"义安镇卫生院值班医生已收到紧急报告{code}，正在处理。"
    [taken] = to(app, doctor.phone, OutboxMessage.template == "sms.urgent.taken")
    assert taken.body == f"紧急报告{code}已由义安镇卫生院值班医生接手，无需再处理。"
    assert tick_at(app, minutes(40)) == 0
    assert to(app, tree["county"].phone) == []
    kinds = [kind for kind, _ in events(app)]
    assert kinds == [
        "opened",
        "notified",
        "delivered",
        "called",
        "escalated",
        "notified",
        "acknowledged",
    ]
    with database_of(app).unit_of_work() as session:
        [report] = session.scalars(select(UrgentReport)).all()
        assert report.acknowledged_at == minutes(12)


def test_a_red_flag_tells_the_county_hospital_from_the_first_minute(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 胸痛出冷汗", T0)
    red = to(app, tree["county"].phone)
    assert [(m.template, m.urgent) for m in red] == [("sms.urgent.red_flag", True)]
    assert red[0].body.startswith("【急·危重】JXV01-HTN01网格5号")
    assert [m.template for m in to(app, grid.doctor.phone)] == ["sms.urgent.doctor"]
    # The county hospital may take the case at once.
    code = case(app).code
    assert text_at(app, tree["county"].phone, "收到", minutes(2)).startswith(f"已确认{code}")  # type: ignore[union-attr]


def test_a_failed_delivery_escalates_at_once(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    provider_of(app).fail_to(grid.doctor.phone, PermanentSendError("21610", "unsubscribed"))  # type: ignore[attr-defined]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    dispatch_at(app, minutes(0.2))
    assert [m.status for m in to(app, grid.doctor.phone)] == ["failed"]
    assert tick_at(app, minutes(0.5)) == 1
    assert [m.template for m in to(app, tree["township"].phone)] == ["sms.urgent.escalated"]
    assert ("escalated", "failed") in events(app)
    assert ("failed", "failed 21610") in events(app)


def test_no_delivery_report_within_five_minutes_escalates(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    dispatch_at(app, minutes(0.1))
    # As if sent through a provider that reports delivery (Twilio), which never did.
    with database_of(app).unit_of_work() as session:
        session.execute(update(OutboxMessage).values(provider="twilio"))
        session.commit()
    assert tick_at(app, minutes(3.5)) == 1  # the doctor's call
    assert tick_at(app, minutes(5)) == 0
    assert tick_at(app, minutes(5.2)) == 1
    assert ("escalated", "no_report") in events(app)
    assert len(to(app, tree["township"].phone)) == 1


def test_a_message_still_unsent_after_five_minutes_escalates(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    assert tick_at(app, minutes(4.9)) == 0
    assert tick_at(app, minutes(5.1)) == 1
    assert ("escalated", "unsent") in events(app)
    assert len(to(app, tree["township"].phone)) == 1


def test_a_strangers_acknowledgement_is_refused(app, county) -> None:
    grid, other = county["grid"], county["other"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    code = case(app).code
    stranger = factories.phone()
    assert text_at(app, stranger, f"收到 {code}", minutes(1)) == (
        f"您不在{code}的通知名单上，不能确认。"
    )
    assert text_at(app, other.doctor.phone, f"收到 {code}", minutes(1)) == (
        f"{code}不是您网格的报告，由该网格的村医确认。"
    )
    assert case(app).state == "open"


def test_a_second_report_about_the_same_member_joins_the_open_case(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    code = case(app).code
    reply = text_at(app, grid.members[5].phone, "急 头晕得厉害", minutes(1))
    assert reply == f"已并入{code}（5号头晕得厉害），医生已在通知中。危急请拨120。"
    with database_of(app).unit_of_work() as session:
        assert session.query(Escalation).count() == 1
        reports = session.scalars(select(UrgentReport)).all()
        assert {report.escalation_id for report in reports} == {case(app).id}
    assert "merged" in [kind for kind, _ in events(app)]
    assert len(to(app, grid.doctor.phone)) == 1
    # The doctor's acknowledgement tells both reporters.
    text_at(app, grid.doctor.phone, "收到", minutes(2))
    assert len(to(app, grid.members[5].phone)) == 1
    assert len(to(app, grid.coordinator.phone)) == 1


def test_acknowledging_twice_says_who_did(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    code = case(app).code
    text_at(app, grid.doctor.phone, f"收到 {code}", minutes(2))
    again = text_at(app, tree["township"].phone, f"收到 {code}", minutes(3))
    assert again == f"{code}已由王医生于11-26 10:02确认。"


def test_the_top_repeats_and_alerts_the_county_duty_phone(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    clock = 0.0
    for _ in range(12):
        clock += 1
        dispatch_at(app, minutes(clock))
        tick_at(app, minutes(clock + 0.5))
        clock += 0.5
        if to(app, DUTY):
            break
        clock += 15
    duty = to(app, DUTY)
    assert [m.template for m in duty] == ["sms.urgent.county_duty"]
    assert len(to(app, tree["county"].phone, OutboxMessage.template == "sms.urgent.escalated")) == 2
    assert case(app).round == 2


def test_the_process_killed_between_steps_carries_on_from_the_database(
    app, county, database_url
) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    dispatch_at(app, minutes(0.2))
    # A new process: nothing but the database is shared.
    fresh = make_app(database_url, voice_backend="memory")
    try:
        assert tick_at(fresh, minutes(3.5)) == 1
        assert tick_at(fresh, minutes(3.6)) == 0
        dispatch_at(fresh, minutes(4))
        assert tick_at(fresh, minutes(10.5)) == 1
        assert len(to(fresh, tree["township"].phone)) == 1
    finally:
        database_of(fresh).dispose()


def test_a_roster_change_mid_incident_does_not_change_who_is_next(app, county) -> None:
    grid, tree = county["grid"], county["tree"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    old_township_phone = tree["township"].phone
    new_phone = factories.phone()
    with database_of(app).unit_of_work() as session:
        session.execute(
            update(Facility).where(Facility.id == tree["township"].id).values(phone=new_phone)
        )
        session.execute(update(Grid).where(Grid.id == grid.grid.id).values(doctor_id=None))
        session.commit()
    dispatch_at(app, minutes(0.2))
    tick_at(app, minutes(10.5))
    assert len(to(app, old_township_phone)) == 1
    assert to(app, new_phone) == []
    # A new case uses the new roster: no grid doctor, so the clinic first, then the new phone.
    text_at(app, grid.members[7].phone, "急 头晕", minutes(11))
    steps = case(app).ladder["steps"]
    assert [step["level"] for step in steps] == ["clinic", "township", "county"]
    assert steps[1]["contacts"][0]["phone"] == new_phone


def test_a_keypress_on_the_call_acknowledges(app, county) -> None:
    grid = county["grid"]
    text_at(app, grid.coordinator.phone, "急 5 头晕", T0)
    dispatch_at(app, minutes(0.2))
    tick_at(app, minutes(3.5))
    dispatch_at(app, minutes(3.6))
    [call_sid] = voice_provider_of(app).sids  # type: ignore[attr-defined]
    assert press_at(app, call_sid, "9", minutes(4)).startswith("没有收到按键")
    assert case(app).state == "open"
    assert press_at(app, call_sid, "1", minutes(4.5)) == "已确认，谢谢。已告知报告人。"
    state = case(app)
    assert (state.state, state.acknowledged_by) == ("acknowledged", "王医生")
    assert [kind for kind, _ in events(app)][-3:] == ["keypress", "keypress", "acknowledged"]
    assert len(to(app, grid.coordinator.phone)) == 1


def test_an_unsigned_keypress_is_refused(app, county) -> None:
    response = app.test_client().post(
        "/voice/twilio/gather", data={"CallSid": "CA1", "Digits": "1"}
    )
    assert response.status_code == 403


def test_a_grid_moved_by_an_administrator_climbs_its_new_ladder_on_the_county_timeouts(
    database_url, county
) -> None:
    grid = county["grid"]
    configured = make_app(
        database_url,
        voice_backend="memory",
        county_duty_phone=DUTY,
        escalation_timeouts=parse_escalation_timeouts("doctor=4,clinic=6,township=8,county=9"),
    )
    try:
        with database_of(configured).unit_of_work() as session:
            clinic = session.get_one(Facility, county["tree"]["clinic_a"].id)
            newcomer = factories.doctor(session, clinic, name="李医生", code="DNEW")
            newcomer_phone = newcomer.phone
            session.commit()
        text_at(configured, grid.coordinator.phone, "急 5 头晕", T0)
        moved = configured.test_cli_runner().invoke(
            args=[
                "admin",
                "move-grid",
                grid.grid.code,
                "--doctor",
                "DNEW",
                "--at",
                "2026-11-26T02:01:00+00:00",
            ]
        )
        assert moved.exit_code == 0, moved.output

        retargeted = case(configured)
        assert (retargeted.step, retargeted.round) == (0, 2)
        ladder = retargeted.ladder
        assert [s["timeout_minutes"] for s in ladder["steps"]] == [4, 6, 8, 9]
        assert ladder["county_duty"]["phone"] == DUTY
        assert (
            len(to(configured, newcomer_phone, OutboxMessage.template == "sms.urgent.doctor")) == 1
        )
        # The new doctor's SMS goes at 10:01:30; with no answer the clinic hears 4 minutes
        # later (the county's doctor timeout), not 10.
        dispatch_at(configured, minutes(1.5))
        assert tick_at(configured, minutes(5.4)) == 1  # the call after 3 minutes
        assert tick_at(configured, minutes(5.6)) == 1
        assert case(configured).step == 1
    finally:
        database_of(configured).dispose()
