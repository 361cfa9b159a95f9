from __future__ import annotations

from sqlalchemy import select

from grids.models import Reading
from i18n import translate
from notifications.models import InboundMessage, OutboxMessage
from tests.support import factories


def test_a_coordinators_report_goes_through_the_inbound_handler(runner, session) -> None:
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=6, code="G-CLI")
    session.commit()

    result = runner.invoke(args=["sms", "receive", "--coordinator-of", "G-CLI", "好 3 血压165/100"])

    assert result.exit_code == 0, result.output
    assert "回复 ← 已收到第" in result.output
    assert "5人稳定，3号血压165/100" in result.output
    assert fixture.coordinator.phone not in result.output
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.outcome == "applied"
    reading = session.scalars(select(Reading)).one()
    assert (reading.systolic, reading.diastolic) == (165, 100)


def test_an_urgent_message_queues_an_sms_to_the_doctor(runner, session) -> None:
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=6, code="G-URG")
    session.commit()

    result = runner.invoke(
        args=["sms", "receive", "--from", fixture.coordinator.phone, "急 4 胸痛"]
    )

    assert result.exit_code == 0, result.output
    queued = session.scalars(select(OutboxMessage)).one()
    assert fixture.doctor is not None
    assert queued.to_phone == fixture.doctor.phone
    assert queued.urgent


def test_a_doctor_can_acknowledge_from_the_command_line(runner, session) -> None:
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=6, code="G-ACK")
    session.commit()
    runner.invoke(args=["sms", "receive", "--coordinator-of", "G-ACK", "急 4 胸痛"])

    assert fixture.doctor is not None
    result = runner.invoke(args=["sms", "receive", "--doctor", fixture.doctor.code, "收到"])

    assert result.exit_code == 0, result.output
    assert "回复 ← 已确认" in result.output
    assert session.scalars(select(InboundMessage.outcome)).all() == ["applied", "applied"]


def test_the_sender_must_be_named_exactly_once(runner) -> None:
    result = runner.invoke(args=["sms", "receive", "好"])
    assert result.exit_code != 0
    assert translate("sms.cli.usage.one_sender", "zh_CN") in result.output


def test_an_unknown_grid_is_a_clear_error(runner) -> None:
    result = runner.invoke(args=["sms", "receive", "--coordinator-of", "NOPE", "好"])
    assert result.exit_code == 1
    assert result.stderr == translate("sms.cli.error.no_grid", "zh_CN", grid="NOPE") + "\n"
