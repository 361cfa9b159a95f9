"""Hostile parameters and bodies get 400 with the field and the fix, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from grids.storage.session import database_of
from notifications.models import InboundMessage
from tests.support.accounts import bearer, csrf_token, log_in, make_user, token_for
from tests.support.admin import county
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import CALLBACK_SECRET, aliyun_settings, write_template_map

HUGE_PAGE = "99999999999999999999"
DEEP = "[" * 100_000 + "]" * 100_000


def _fields(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    return dict(error["fields"])


@pytest.fixture
def admin_token(session) -> str:
    county(session)
    make_user(session, "bureau", "admin")
    token = token_for(session, "bureau")
    session.commit()
    return token


@pytest.mark.parametrize("name", ["doctor", "township", "clinic", "condition", "capacity"])
def test_a_nul_byte_in_an_api_filter_names_the_field(client, admin_token, name) -> None:
    response = client.get(f"/api/v1/admin/grids?{name}=D%00X", headers=bearer(admin_token))
    fields = _fields(response)
    assert list(fields) == [name]
    assert "NUL" in fields[name] or "控制字符" in fields[name]


def test_a_huge_page_number_on_the_api_names_the_field(client, admin_token) -> None:
    response = client.get(f"/api/v1/admin/grids?page={HUGE_PAGE}", headers=bearer(admin_token))
    assert "page" in _fields(response)


def test_the_admin_browser_page_answers_400_pages(client, admin_token) -> None:
    log_in(client, "bureau")
    for query in ("doctor=%00", f"page={HUGE_PAGE}", "township=T%00"):
        response = client.get(f"/admin/grids?{query}")
        assert response.status_code == 400, query
        assert "text/html" in response.content_type
    nul = client.get("/admin/grids?doctor=%00").get_data(as_text=True)
    assert "doctor" in nul
    assert client.get("/admin/grids?page=2").status_code == 200


@pytest.mark.parametrize("page", ["²", "-1", "0", "1.5"])
def test_a_page_that_is_no_number_we_count_is_refused(client, admin_token, page) -> None:
    response = client.get(f"/api/v1/admin/grids?page={page}", headers=bearer(admin_token))
    assert "page" in _fields(response)


@pytest.mark.parametrize("change_set", ["99999999999999999999999", "²", "１"])
def test_undoing_a_change_set_id_beyond_any_stored_is_not_found(
    client, admin_token, change_set
) -> None:
    response = client.post(
        f"/api/v1/admin/changes/{change_set}/undo", json={}, headers=bearer(admin_token)
    )
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"]["message"]
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/changes").get_data(as_text=True))
    form = client.post(f"/admin/changes/{change_set}/undo", data={"csrf_token": token})
    # The page says there is no such change (400, the id is not one) or has no such URL.
    assert form.status_code in (400, 404)
    if form.status_code == 400:
        assert f"没有编号为{change_set}的变更" in form.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused_in_the_readers_language(
    client, admin_token
) -> None:
    log_in(client, "bureau")
    response = client.post("/admin/changes/1/undo", data={})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "安全令牌" in html and "CSRF token is missing" not in html
    english = client.post("/admin/changes/1/undo?lang=en", data={})
    assert "security token" in english.get_data(as_text=True)


def test_an_unknown_voice_route_answers_json(client) -> None:
    response = client.post("/voice/tencent/not-the-secret/keypress", json={})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("value", ["2", "maybe", "１"])
def test_an_open_filter_that_says_neither_yes_nor_no_is_refused(client, admin_token, value) -> None:
    response = client.get(f"/api/v1/escalations?open={value}", headers=bearer(admin_token))
    fields = _fields(response)
    assert list(fields) == ["open"] and "1" in fields["open"][0]
    for good in ("1", "0", "TRUE", "no", ""):
        answered = client.get(f"/api/v1/escalations?open={good}", headers=bearer(admin_token))
        assert answered.status_code == 200, good


def test_an_escalation_filter_that_does_not_exist_is_named(client, admin_token) -> None:
    response = client.get("/api/v1/escalations?state=open", headers=bearer(admin_token))
    fields = _fields(response)
    assert list(fields) == ["state"] and "open" in fields["state"][0]


@pytest.mark.parametrize("limit", ["abc", "0", "501", "²"])
def test_a_change_log_limit_out_of_range_names_the_field(client, admin_token, limit) -> None:
    response = client.get(f"/api/v1/admin/changes?limit={limit}", headers=bearer(admin_token))
    assert list(_fields(response)) == ["limit"]
    assert (
        client.get("/api/v1/admin/changes?limit=500", headers=bearer(admin_token)).status_code
        == 200
    )


def test_a_nul_byte_in_a_path_segment_is_refused(client, admin_token) -> None:
    response = client.get("/api/v1/admin/grids/AV1%00", headers=bearer(admin_token))
    assert response.status_code in (400, 404)
    assert response.status_code != 500


def test_a_deeply_nested_json_body_to_the_api_is_refused(client, admin_token) -> None:
    response = client.post(
        "/api/v1/admin/operations/move-grid",
        data=DEEP,
        content_type="application/json",
        headers=bearer(admin_token),
    )
    assert list(_fields(response)) == ["body"]


@pytest.fixture
def aliyun_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    application = make_app(database_url, **aliyun_settings("127.0.0.1:9", template_map))
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


def test_a_deeply_nested_mainland_push_is_refused_400(aliyun_app: Flask) -> None:
    response = aliyun_app.test_client().post(
        f"/sms/aliyun/{CALLBACK_SECRET}/up", data=DEEP, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 1
    assert "JSON" in body["msg"]
    with database_of(aliyun_app).unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
