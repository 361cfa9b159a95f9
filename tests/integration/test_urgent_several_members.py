"""One message about two members in danger alerts the doctor of each: a second member's
red flag is never folded into the first member's case or left in a report note. One
acknowledgement naming both cases takes both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from grids.escalation.models import Escalation
from grids.models import UrgentReport
from notifications.models import OutboxMessage
from notifications.sms import grammar
from notifications.sms.segments import fits_one_segment
from tests.support import factories

# Tuesday 8 December 2026, 14:00 in the county.
AT = "2026-12-08T14:00:00+08:00"
LATER = "2026-12-08T14:05:00+08:00"


@pytest.fixture
def grid(session):
    with time_machine.travel(datetime(2026, 9, 1, 2, 0, tzinfo=UTC), tick=False):
        built = factories.grid_with_members(session, factories.facility_tree(session)["clinic_a"])
        session.commit()
    return built


def _text(runner, grid, body: str, at: str = AT) -> str:
    result = runner.invoke(
        args=["sms", "receive", "--coordinator-of", grid.grid.code, body, "--at", at]
    )
    assert result.exit_code == 0, result.output
    return result.output.rsplit("← ", 1)[1].strip()


def _cases(session, grid) -> dict[int, str]:
    """seat -> code of each open case."""
    session.expire_all()
    rows = session.execute(
        select(UrgentReport.seat, Escalation.code).join(
            Escalation, Escalation.id == UrgentReport.escalation_id
        )
    )
    return {seat: code for seat, code in rows}


def _doctor_alerts(session, grid) -> int:
    assert grid.doctor is not None
    return len(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.to_phone == grid.doctor.phone,
                OutboxMessage.template.like("sms.urgent.%"),
            )
        ).all()
    )


@pytest.mark.parametrize(
    ("body", "seats"),
    [
        ("好 3 昏迷 4 胸痛", {3: "昏迷", 4: "胸痛"}),
        ("急 5号 胸痛 急 6号 昏迷", {5: "胸痛", 6: "昏迷"}),
        ("好 3 昏迷 急 5 胸痛", {5: "胸痛", 3: "昏迷"}),
        ("URGENT 5 chest pain URGENT 6 unconscious", {5: "chest pain", 6: "unconscious"}),
    ],
)
def test_the_grammar_reads_every_member_in_danger(body: str, seats: dict[int, str]) -> None:
    command = grammar.parse(body).command
    assert isinstance(command, grammar.UrgentCommand)
    read: dict[int | None, str] = {command.seat: command.text}
    read |= {member.seat: member.text for member in command.others}
    assert read == seats


def test_two_red_flags_in_a_report_open_two_cases_and_the_reply_names_both(
    runner, session, grid
) -> None:
    reply = _text(runner, grid, "好 3 昏迷 4 胸痛")
    cases = _cases(session, grid)
    assert set(cases) == {3, 4} and cases[3] != cases[4]
    assert _doctor_alerts(session, grid) == 2
    assert "3号昏迷" in reply and f"4号胸痛：编号{cases[4]}" in reply
    assert cases[3] in reply and fits_one_segment(reply)


def test_a_second_member_is_not_folded_into_the_first_members_open_case(
    runner, session, grid
) -> None:
    _text(runner, grid, "急 5 胸痛")
    first = _cases(session, grid)
    assert list(first) == [5] and _doctor_alerts(session, grid) == 1

    reply = _text(runner, grid, "急 5号 胸痛 急 6号 昏迷", LATER)
    cases = _cases(session, grid)
    assert cases[5] == first[5]  # member 5's case is joined, as a repeat should be
    assert 6 in cases and cases[6] != cases[5]
    assert _doctor_alerts(session, grid) == 2  # the doctor hears of member 6
    assert f"并入{first[5]}" in reply and f"6号昏迷：编号{cases[6]}" in reply
    assert fits_one_segment(reply)


def _states(session) -> dict[str, str]:
    session.expire_all()
    return {
        code: str(state)
        for code, state in session.execute(select(Escalation.code, Escalation.state))
    }


@pytest.mark.parametrize("joined", ["收到 {0} {1}", "收到{0}、{1}", "ACK {0} and {1}"])
def test_one_acknowledgement_naming_two_cases_takes_both(runner, session, grid, joined) -> None:
    _text(runner, grid, "急 5 胸痛 急 6 昏迷")
    cases = _cases(session, grid)
    assert grid.doctor is not None
    body = joined.format(cases[5], cases[6])
    result = runner.invoke(
        args=["sms", "receive", "--doctor", grid.doctor.code, body, "--at", LATER]
    )
    assert result.exit_code == 0, result.output
    reply = result.output.rsplit("← ", 1)[1].strip()
    assert _states(session) == {cases[5]: "acknowledged", cases[6]: "acknowledged"}
    assert cases[5] in reply and cases[6] in reply and fits_one_segment(reply)
