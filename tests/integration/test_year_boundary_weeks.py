"""ISO week 2026-W53 (2026 has 53 ISO weeks) and 2027-W01 in every command that takes
a week: reports land in the right one, rollups and the digest answer for both, and a
week that does not exist is refused in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine

from tests.support import factories
from tests.support.accounts import bearer, make_user, token_for

BUILT = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
AFTER = "2027-01-12T09:00:00+08:00"  # Tuesday of 2027-W02: both weeks are closed


@pytest.fixture
def grid(session):
    with time_machine.travel(BUILT, tick=False):
        built = factories.grid_with_members(session, factories.facility_tree(session)["clinic_a"])
        session.commit()
    return built


def _report(runner, grid, text: str, at: str) -> None:
    result = runner.invoke(
        args=["sms", "receive", "--coordinator-of", grid.grid.code, text, "--at", at]
    )
    assert result.exit_code == 0, result.output


def _show(runner, grid, week: str):
    return runner.invoke(
        args=[
            "rollups",
            "show",
            "--level",
            "grid",
            "--code",
            grid.grid.code,
            "--week",
            week,
            "--format",
            "json",
            "--at",
            AFTER,
        ]
    )


def test_reports_on_either_side_of_the_new_year_count_in_their_own_week(runner, grid) -> None:
    # Sunday 3 January 2027, 20:00 in the county: still 2026-W53 (12:00 UTC).
    _report(runner, grid, "好 3 血压150/95", "2027-01-03T20:00:00+08:00")
    # Monday 4 January 2027, 00:30 in the county: 2027-W01, though still Sunday in UTC.
    _report(runner, grid, "好 4 血压165/100 5 血压130/80", "2027-01-04T00:30:00+08:00")

    w53, w01 = _show(runner, grid, "2026-W53"), _show(runner, grid, "2027-W01")
    assert w53.exit_code == 0, w53.output
    assert w01.exit_code == 0, w01.output
    doc53, doc01 = json.loads(w53.output), json.loads(w01.output)
    assert (doc53["week"], doc53["provisional"]) == ("2026-W53", False)
    assert (doc01["week"], doc01["provisional"]) == ("2027-W01", False)
    assert doc53["indicators"]["members_with_reading"] == 1
    assert doc53["indicators"]["grids_reported"] == 1
    assert doc01["indicators"]["members_with_reading"] == 2
    assert doc01["indicators"]["bp_uncontrolled"] >= 1


def test_the_digest_and_the_api_take_both_weeks(runner, client, session, grid) -> None:
    for week in ("2026-W53", "2027-W01"):
        digest = runner.invoke(
            args=["rollups", "digest", "--week", week, "--dry-run", "--at", AFTER]
        )
        assert digest.exit_code == 0, digest.output
        assert week in digest.output
    assert grid.doctor is not None
    make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
    token = token_for(session, "wang")
    session.commit()
    with time_machine.travel(datetime.fromisoformat(AFTER), tick=False):
        for week in ("2026-W53", "2027-W01"):
            url = f"/api/v1/rollups?level=grid&code={grid.grid.code}&week={week}"
            response = client.get(url, headers=bearer(token))
            assert response.status_code == 200, response.get_data(as_text=True)
            assert response.get_json()["week"] == week


@pytest.mark.parametrize(
    "week", ["2027-W53", "2026-W00", "2026-W99", "9999-W99", "２０２６-W４９", "2026-W٤٩"]
)
def test_a_week_that_does_not_exist_is_refused_in_one_line(runner, client, session, grid, week):
    shown = _show(runner, grid, week)
    assert shown.exit_code == 1
    assert "Traceback" not in shown.output
    assert len(shown.output.strip().splitlines()) == 1
    assert week in shown.output
    digest = runner.invoke(args=["rollups", "digest", "--week", week, "--dry-run", "--at", AFTER])
    assert digest.exit_code == 1
    assert len(digest.output.strip().splitlines()) == 1
    make_user(session, "admin1", "admin")
    token = token_for(session, "admin1")
    session.commit()
    url = f"/api/v1/rollups?level=grid&code={grid.grid.code}&week={week}"
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 400
    assert "week" in response.get_json()["error"]["fields"]
