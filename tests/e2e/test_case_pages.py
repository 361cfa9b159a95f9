"""`/escalations`, a case page with its close form, and the member page as the member's
record, through the test client with real logins and CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select

from grids.escalation.models import Escalation
from grids.storage.session import database_of
from tests.support import factories
from tests.support.accounts import csrf_token, log_in, make_user
from tests.support.escalation import text_at

# Tuesday 8 December 2026, 20:00 in Shanghai.
T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


@pytest.fixture
def county(app: Flask) -> dict[str, Any]:
    with database_of(app).unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=6, code="JXV01-HTN01")
        other = factories.grid_with_members(session, tree["clinic_b"], size=3, code="JXV02-HTN01")
        assert grid.doctor is not None and other.doctor is not None
        make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
        make_user(session, "li", "doctor", doctor_code=other.doctor.code)
        make_user(session, "town", "township", facility_code=tree["township"].code)
        session.commit()
        return {"tree": tree, "grid": grid, "other": other}


def critical_case(app: Flask, county: dict[str, Any]) -> str:
    text_at(app, county["grid"].coordinator.phone, "好 5 血压185/115", T0)
    with database_of(app).unit_of_work() as session:
        return session.scalars(select(Escalation.code)).one()


def logged_in(app: Flask, user: str, at: datetime = T0 + timedelta(hours=1)) -> Any:
    client = app.test_client()
    with time_machine.travel(at, tick=False):
        log_in(client, user)
    return client


def page(client: Any, path: str, at: datetime = T0 + timedelta(hours=2)) -> Any:
    with time_machine.travel(at, tick=False):
        return client.get(path)


def test_the_list_shows_each_account_its_own_cases(app, county) -> None:
    code = critical_case(app, county)
    for user, sees in (("wang", True), ("town", True), ("li", False)):
        client = logged_in(app, user)
        body = page(client, "/escalations").get_data(as_text=True)
        assert (f'href="/escalations/{code}"' in body) is sees, user
        if sees:
            assert "危急值" in body and "2小时前" in body and "村医" in body
    client = logged_in(app, "li")
    # Another doctor's case and a code that does not exist look alike: nothing to enumerate.
    assert page(client, f"/escalations/{code}").status_code == 403
    assert page(client, "/escalations/ZZZ").status_code == 403
    with database_of(app).unit_of_work() as session:
        make_user(session, "boss", "admin")
        session.commit()
    assert page(logged_in(app, "boss"), "/escalations/ZZZ").status_code == 404


def test_a_case_page_shows_its_timeline_and_closes_with_an_outcome(app, county) -> None:
    code = critical_case(app, county)
    client = logged_in(app, "wang")
    body = page(client, f"/escalations/{code}").get_data(as_text=True)
    assert "2026-12-08 20:00" in body  # local time
    assert "已通知" in body and "短信" in body and county["grid"].doctor.name in body
    # The case leads to the member's record and the grid; the doctor's phone can be called.
    assert f'href="/members/{county["grid"].members[5].code}"' in body
    assert 'href="/grids/JXV01-HTN01"' in body
    assert f'href="tel:{county["grid"].doctor.phone}"' in body
    token = csrf_token(body)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        no_token = client.post(
            f"/escalations/{code}/close", data={"outcome": "home", "reason": "x"}
        )
        missing = client.post(
            f"/escalations/{code}/close", data={"outcome": "home", "csrf_token": token}
        )
    assert no_token.status_code == 400
    assert missing.status_code == 302 and "error=missing" in missing.location
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        done = client.post(
            f"/escalations/{code}/close",
            data={"outcome": "referred", "reason": "县医院心内科", "csrf_token": token},
        )
    assert done.status_code == 302
    body = page(client, f"/escalations/{code}", T0 + timedelta(hours=4)).get_data(as_text=True)
    assert "转诊" in body and "县医院心内科" in body and "close-form" not in body
    assert "2026-12-22" in body  # the referral follow-up day
    listed = page(client, "/escalations", T0 + timedelta(hours=4)).get_data(as_text=True)
    assert "closed-cases" in listed and f'href="/escalations/{code}"' in listed
    doctor_page = f"/doctors/{county['grid'].doctor.code}"
    earlier = logged_in(app, "wang", T0 + timedelta(days=13))
    before = page(earlier, doctor_page, T0 + timedelta(days=13)).get_data(as_text=True)
    assert 'id="followups"' not in before
    later = logged_in(app, "wang", T0 + timedelta(days=14))
    due = page(later, doctor_page, T0 + timedelta(days=14)).get_data(as_text=True)
    assert 'id="followups"' in due and f'href="/escalations/{code}"' in due


def test_the_member_page_says_why_he_is_red(app, county) -> None:
    code = critical_case(app, county)
    member = county["grid"].members[5]
    client = logged_in(app, "wang")
    body = page(client, f"/members/{member.code}").get_data(as_text=True)
    assert "最近血压达危急值" in body and "185/115 mmHg" in body
    assert "好 5 血压185/115" in body  # the text that caused it
    assert "2026-12-08 20:00" in body
    assert f'href="tel:{member.phone}"' in body
    assert f'href="/escalations/{code}"' in body and "svg" in body
    assert "JXV01-HTN01" in body and county["grid"].coordinator.name in body
    township = logged_in(app, "town")
    masked = page(township, f"/members/{member.code}").get_data(as_text=True)
    assert "tel:" not in masked and "****" in masked
