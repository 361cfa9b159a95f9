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
from tests.support.accounts import bearer, log_in, make_user, token_for
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
