"""The Monday page's "本周随访" list and the phone form for one follow-up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from grids.followups.models import Followup
from grids.models import Membership
from tests.support import factories
from tests.support.accounts import csrf_token, log_in, make_user

INSTANT = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)


@pytest.fixture
def county(session):
    tree = factories.facility_tree(session, prefix="P")
    grid = factories.grid_with_members(session, tree["clinic_a"], size=4, code="FP-G1")
    for membership in session.scalars(select(Membership)):
        membership.joined_at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    assert grid.doctor is not None
    make_user(session, "wang", "doctor", doctor_code=grid.doctor.code)
    make_user(session, "town", "township", facility_code=tree["township"].code)
    session.commit()
    return grid


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(INSTANT, tick=False):
        yield


def test_the_monday_page_lists_who_is_due_with_a_call_link(client, county) -> None:
    log_in(client, "wang")
    page = client.get(f"/doctors/{county.doctor.code}").get_data(as_text=True)
    assert "本周随访（4人）" in page
    member = county.members[2]
    assert f'href="tel:{member.phone}"' in page
    assert f"/members/{member.code}/followups/new" in page
    assert "逾期136天" in page


def test_the_township_sees_the_list_without_phones(client, county) -> None:
    log_in(client, "town")
    page = client.get(f"/doctors/{county.doctor.code}").get_data(as_text=True)
    assert "本周随访（4人）" in page and "tel:" + county.members[2].phone not in page


def test_recording_on_the_form_drops_the_member_off_the_list(client, county, session) -> None:
    log_in(client, "wang")
    member = county.members[3]
    form = client.get(f"/members/{member.code}/followups/new").get_data(as_text=True)
    assert 'name="bp"' in form and "<script>" not in form
    data = {
        "csrf_token": csrf_token(form),
        "date": "2027-01-15",
        "method": "exchange",
        "bp": "150/95",
        "classification": "controlled",
        "symptoms": ["headache"],
    }
    saved = client.post(f"/members/{member.code}/followups/new", data=data)
    assert saved.status_code == 302
    record = session.scalar(select(Followup).where(Followup.patient_id == member.id))
    assert record is not None and record.next_due.isoformat() == "2027-04-15"
    member_page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "随访已保存" in member_page and "2027-04-15" in member_page
    page = client.get(f"/doctors/{county.doctor.code}").get_data(as_text=True)
    assert "本周随访（3人）" in page
    again = client.get(f"/members/{member.code}/followups/new").get_data(as_text=True)
    assert "上次：150/95" in again


def test_bad_values_come_back_with_the_fix(client, county, session) -> None:
    log_in(client, "wang")
    member = county.members[2]
    form = client.get(f"/members/{member.code}/followups/new").get_data(as_text=True)
    refused = client.post(
        f"/members/{member.code}/followups/new",
        data={"csrf_token": csrf_token(form), "date": "2027-01-15", "method": "home", "bp": "abc"},
    )
    assert refused.status_code == 400
    assert "150/95" in refused.get_data(as_text=True)
    assert session.scalar(select(Followup.id)) is None
    no_token = client.post(
        f"/members/{member.code}/followups/new", data={"date": "2027-01-15", "method": "home"}
    )
    assert no_token.status_code == 400


def test_the_form_shows_every_bad_value_at_once(client, county, session) -> None:
    log_in(client, "wang")
    member = county.members[2]
    form = client.get(f"/members/{member.code}/followups/new").get_data(as_text=True)
    refused = client.post(
        f"/members/{member.code}/followups/new",
        data={
            "csrf_token": csrf_token(form),
            "date": "2027-12-09",
            "method": "exchange",
            "bp": "400/95",
            "glucose_mmol": "50",
            "weight_kg": "abc",
        },
    )
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert page.count('class="field-error"') == 4
    assert "2027-01-15" in page and "400/95" in page and "40.0" in page and "abc" in page
    assert session.scalar(select(Followup.id)) is None


def test_the_quarter_exports_from_the_pages(client, county, session) -> None:
    log_in(client, "wang")
    page = client.get(f"/doctors/{county.doctor.code}").get_data(as_text=True)
    assert "2027-Q1随访记录（国家表格）" in page
    csv_file = client.get(f"/exports/followups/doctor/{county.doctor.code}/2027-Q1.csv")
    assert csv_file.status_code == 200
    assert csv_file.data.decode("utf-8-sig").startswith("成员编号,姓名,网格编号,随访日期")
    assert client.get("/exports/followups/township/PT1/2027-Q1.csv").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    log_in(client, "town")
    area = client.get("/areas/township/PT1").get_data(as_text=True)
    # Joined 1 June 2026: due 1 September, 136 days ago on 15 January 2027.
    assert "逾期30天以上未随访（4人）" in area and "逾期136天" in area
    xlsx = client.get("/exports/followups/township/PT1/2027-Q1.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_a_township_page_lists_the_most_overdue_and_counts_the_rest(
    client, county, session, monkeypatch
) -> None:
    monkeypatch.setattr("grids.rollups.pages.OVERDUE_SHOWN", 1)
    latest, *earlier = (county.members[seat] for seat in sorted(county.members))
    membership = session.scalar(select(Membership).where(Membership.patient_id == latest.id))
    membership.joined_at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # due 1 June: most overdue
    session.commit()
    log_in(client, "town")
    area = client.get("/areas/township/PT1").get_data(as_text=True)
    assert "逾期30天以上未随访（4人）" in area
    assert f"/members/{latest.code}" in area and "逾期228天" in area
    assert all(f'/members/{member.code}"' not in area for member in earlier)
    assert "还有 3 人" in area
