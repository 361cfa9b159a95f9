"""The doctor's Monday page, grid, member, township and county pages, and exports."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from grids.rollups.models import RollupSnapshot
from tests.support import rollup_fixture as fx
from tests.support.accounts import log_in, make_user

MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in the county, W49


@pytest.fixture
def county(session):
    built = fx.build(session)
    make_user(session, "wang", "doctor", doctor_code="RD1")
    make_user(session, "li", "doctor", doctor_code="RD2")
    make_user(session, "yian", "township", facility_code=built.codes["township"])
    make_user(session, "bureau", "admin")
    session.commit()
    return built


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MONDAY, tick=False):
        yield


def test_doctor_lands_on_the_monday_page_with_what_needs_them(client, county) -> None:
    log_in(client, "wang")
    landing = client.get("/")
    assert landing.headers["Location"].endswith("/home")
    page = client.get("/home", follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "王医生" in html or "RD1" in html or "医生的网格" in html
    assert "2026年第48周" in html
    assert "红标成员 4 人" in html  # a5, a9, a10 in A and b2 in B
    assert "两周以上无消息的成员 4 人" in html
    assert "血压危急 180/100" in html
    assert "住院" in html
    assert "数据截至" in html
    assert "<svg" in html and "polyline" in html


def test_grid_page_lists_members_and_masks_nothing_it_should_not_show(client, county) -> None:
    log_in(client, "wang")
    html = client.get("/grids/R-A").get_data(as_text=True)
    assert county.patients["a5"].name in html
    assert "180/100" in html
    assert county.patients["a5"].phone not in html  # phones only on a member's page


def test_grid_page_shows_the_weeks_messages_with_masked_phones(client, session, county) -> None:
    fx.add_messages(session, county)
    session.commit()
    log_in(client, "wang")
    html = client.get(f"/grids/R-A?week={fx.WEEK}").get_data(as_text=True)
    assert "本周短信" in html
    messages = html.split('id="messages"', 1)[1].split("</table>", 1)[0]
    # Both ways, oldest first: the coordinator's report, the reply, the undelivered call-back.
    assert messages.index("OK 5 BP150/95") < messages.index("第48周周报已收到。")
    assert messages.index("第48周周报已收到。") < messages.index("请回电医生")
    assert "未送达" in messages
    assert ">收<" in messages and ">发<" in messages
    # Phones masked, in the column and in the text.
    a1_phone = county.patients["a1"].phone
    assert a1_phone is not None
    assert a1_phone not in html
    assert f"{a1_phone[:6]}****{a1_phone[-4:]}" in messages
    assert "13912345678" not in html and "139****5678" in messages
    # Another week's message and another grid's are not here.
    assert "上周的周报" not in html
    assert "B格的周报" not in html
    # The week before shows its own message only.
    earlier = client.get("/grids/R-A?week=2026-W47").get_data(as_text=True)
    assert "上周的周报" in earlier and "OK 5 BP150/95" not in earlier
    # The other doctor sees nothing of it.
    log_in(client, "li")
    forbidden = client.get(f"/grids/R-A?week={fx.WEEK}")
    assert forbidden.status_code == 403
    assert "OK 5 BP150/95" not in forbidden.get_data(as_text=True)


def test_member_phone_unmasked_for_doctor_masked_for_township(client, county) -> None:
    patient = county.patients["a1"]
    log_in(client, "wang")
    assert patient.phone in client.get(f"/members/{patient.code}").get_data(as_text=True)
    client.post("/logout", data={})  # refused without CSRF, the session stays
    other = client.application.test_client()
    log_in(other, "yian")
    html = other.get(f"/members/{patient.code}").get_data(as_text=True)
    assert patient.phone not in html
    assert patient.phone[:6] in html and "****" in html


def test_a_doctor_cannot_open_another_doctors_grid(client, county) -> None:
    log_in(client, "li")
    assert client.get("/grids/R-A").status_code == 403
    assert client.get("/grids/NO-SUCH-GRID").status_code == 403
    assert client.get("/doctors/RD1").status_code == 403
    assert client.get(f"/members/{county.patients['a1'].code}").status_code == 403
    assert client.get("/exports/grid/R-A.csv").status_code == 403
    assert client.get("/grids/R-C").status_code == 200


def test_township_and_county_pages(client, county) -> None:
    log_in(client, "yian")
    township = client.get(f"/areas/township/{county.codes['township']}?week={fx.WEEK}")
    assert township.status_code == 200
    html = township.get_data(as_text=True)
    assert "各村医" in html and "近12个月死亡 1 人" in html and "86.0" in html
    assert client.get(f"/areas/county/{county.codes['county']}").status_code == 403

    admin = client.application.test_client()
    log_in(admin, "bureau")
    county_page = admin.get(f"/areas/county/{county.codes['county']}?week={fx.WEEK}&lang=en")
    assert county_page.status_code == 200
    assert "By township" in county_page.get_data(as_text=True)


def test_exports_open_as_spreadsheets_with_chinese_headers(client, county) -> None:
    log_in(client, "wang")
    response = client.get(f"/exports/doctor/RD1.csv?week={fx.WEEK}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][:3] == ["层级", "编码", "名称"]
    assert "血压控制" in table[0]
    codes = [row[1] for row in table[1:]]
    assert codes == ["RD1", "R-A", "R-B"]
    members = table[0].index("在管成员")
    assert table[2][members] == "10"

    xlsx = client.get(f"/exports/doctor/RD1.xlsx?week={fx.WEEK}")
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.data)) as book:
        assert "xl/worksheets/sheet1.xml" in book.namelist()
        assert "在管成员" in book.read("xl/sharedStrings.xml").decode("utf-8")


@pytest.mark.parametrize("week", ["garbage", "2026-W99", "2026-W53", "２０２６-W４８"])
def test_a_week_no_page_can_show_is_refused_saying_why(client, session, county, week) -> None:
    log_in(client, "yian")
    township = county.codes["township"]
    for path in (
        f"/doctors/RD1?week={week}",
        f"/grids/R-A?week={week}",
        f"/areas/township/{township}?week={week}",
        f"/exports/township/{township}.csv?week={week}",
    ):
        response = client.get(path)
        assert response.status_code == 400, path
        html = response.get_data(as_text=True)
        # 2026-W53 has not begun on 30 November; the others are not weeks at all.
        assert ("还没开始" if week == "2026-W53" else "2026-W48") in html, path
    session.expire_all()
    stored = set(session.scalars(select(RollupSnapshot.week)))
    assert week not in stored
    assert client.get(f"/areas/township/{township}?week={fx.WEEK}").status_code == 200
    session.expire_all()
    assert fx.WEEK in set(session.scalars(select(RollupSnapshot.week))) - stored


def test_the_chart_runs_into_the_current_week_drawn_as_provisional(client, county) -> None:
    log_in(client, "wang")
    html = client.get("/doctors/RD1").get_data(as_text=True)
    assert 'class="provisional"' in html
    assert "W49" in html


def test_monday_page_in_english_and_in_the_accounts_language(client, session, county) -> None:
    log_in(client, "wang")
    english = client.get(f"/doctors/RD1?week={fx.WEEK}&lang=en").get_data(as_text=True)
    assert "Needs you first" in english and "4 red members" in english
    assert "data as of" in english

    make_user(session, "smith", "doctor", doctor_code="RD1", language="en")
    session.commit()
    other = client.application.test_client()
    log_in(other, "smith")
    assert "Needs you first" in other.get(f"/doctors/RD1?week={fx.WEEK}").get_data(as_text=True)
