"""Only the configured provider's push routes are live: the other's answer 404, store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from grids.storage.session import database_of
from notifications.models import InboundMessage
from tests.support import factories
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import (
    CALLBACK_SECRET,
    aliyun_settings,
    tencent_settings,
    write_template_map,
)

THURSDAY = "2026-11-26T02:00:00+00:00"


@pytest.fixture(params=["aliyun", "tencent"])
def configured(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json")
    build = aliyun_settings if request.param == "aliyun" else tencent_settings
    application = make_app(database_url, **build("127.0.0.1:9", template_map))
    yield application
    database = database_of(application)
    empty_all_tables(database)
    database.dispose()


def _pushes(phone: str) -> dict[str, tuple[str, Any]]:
    national = phone[3:]
    return {
        "aliyun": (
            "aliyun/up",
            [
                {
                    "phone_number": national,
                    "send_time": "2026-11-26 10:00:00",
                    "content": "好",
                    "sign_name": "介休卫健",
                    "dest_code": "1234",
                    "sequence_id": 424242,
                }
            ],
        ),
        "tencent": (
            "tencent/reply",
            {
                "extend": "",
                "mobile": national,
                "nationcode": "86",
                "sign": "介休卫健",
                "text": "好",
                "time": 1_795_600_000,
            },
        ),
    }


def test_the_other_providers_routes_are_not_found(configured: Flask) -> None:
    backend = configured.extensions["huzhu.settings"].sms_backend
    db = database_of(configured)
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        fixture = factories.grid_with_members(session, tree["clinic_a"], size=3)
        session.commit()
        phone = factories.phone_of(fixture.coordinator)
    client = configured.test_client()
    with time_machine.travel(THURSDAY, tick=False):
        for provider, (path, payload) in _pushes(phone).items():
            kind = path.split("/")[1]
            response = client.post(
                f"/sms/{provider}/{CALLBACK_SECRET}/{kind}",
                data=json.dumps(payload, ensure_ascii=False),
                content_type="application/json",
            )
            with db.unit_of_work() as session:
                stored = session.scalar(select(func.count()).select_from(InboundMessage))
            if provider == backend:
                assert response.status_code == 200
                assert stored == 1
            else:
                assert response.status_code == 404
                assert stored == (1 if backend == "aliyun" else 0)
