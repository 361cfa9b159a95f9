"""The urgent confirmation restates the seat and words the reporter can check, in one
segment, even when the doctor's Chinese name would make an English reply UCS-2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from notifications.sms.segments import fits_one_segment
from tests.support import factories

AT = "2026-12-08T12:00:00+08:00"


@pytest.fixture
def english_grid(session):
    with time_machine.travel(datetime(2026, 9, 1, 2, 0, tzinfo=UTC), tick=False):
        built = factories.grid_with_members(
            session, factories.facility_tree(session)["clinic_a"], language="en"
        )
        assert built.doctor is not None
        built.doctor.name = "郭二女"
        built.coordinator.language = "en"
        session.commit()
    return built


@pytest.mark.parametrize(
    ("body", "restated"),
    [
        ("URGENT 25 chest pain", "#25 (not in this grid) chest pain"),
        ("URGENT 7 fell and cannot get up", "#7 fell"),
    ],
)
def test_an_english_reporter_reads_back_the_seat(runner, english_grid, body, restated) -> None:
    result = runner.invoke(
        args=["sms", "receive", "--coordinator-of", english_grid.grid.code, body, "--at", AT]
    )
    assert result.exit_code == 0, result.output
    reply = result.output.rsplit("← ", 1)[1].strip()
    assert restated in reply, reply
    assert "ref " in reply and "120" in reply and fits_one_segment(reply)
