"""`rollups show`, `rollups digest` and GET /api/v1/rollups return the same figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from openapi_spec_validator import validate
from sqlalchemy import select

from config.settings import EscalationTimeouts
from grids.storage.session import database_of
from notifications.models import OutboxMessage
from notifications.sms.segments import segment_count
from tests.support import rollup_fixture as fx
from tests.support.accounts import bearer, make_user, token_for
from tests.support.app import make_app


@pytest.fixture
def county(session):
    built = fx.build(session)
    session.commit()
    return built


def test_show_json_is_the_design_document(runner, county) -> None:
    result = runner.invoke(
        args=[
            "rollups",
            "show",
            "--level",
            "grid",
            "--code",
            "R-A",
            "--week",
            fx.WEEK,
            "--format",
            "json",
            "--at",
            "2026-12-01T10:00:00",
        ]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["indicators"] == fx.EXPECTED_GRID_A
    assert set(doc) >= {"level", "code", "week", "as_of", "provisional", "indicators"}


def test_show_table_and_errors(runner, county) -> None:
    table = runner.invoke(
        args=[
            "rollups",
            "show",
            "--level",
            "doctor",
            "--code",
            "RD1",
            "--week",
            fx.WEEK,
            "--at",
            "2026-12-01T10:00:00",
        ]
    )
    assert table.exit_code == 0
    assert "members" in table.output and "13" in table.output
    unknown = runner.invoke(args=["rollups", "show", "--level", "grid", "--code", "NOPE"])
    assert unknown.exit_code == 1
    assert "NOPE" in unknown.output
    bad_week = runner.invoke(
        args=["rollups", "show", "--level", "grid", "--code", "R-A", "--week", "48"]
    )
    assert bad_week.exit_code == 1
    assert "2026-W48" in bad_week.output


def test_api_answers_the_same_document_within_scope(client, session, county, runner) -> None:
    make_user(session, "wang", "doctor", doctor_code="RD1")
    make_user(session, "li", "doctor", doctor_code="RD2")
    make_user(session, "yian", "township", facility_code=county.codes["township"])
    wang, li, yian = (token_for(session, name) for name in ("wang", "li", "yian"))
    session.commit()
    with time_machine.travel(datetime(2026, 12, 1, 2, 0, tzinfo=UTC), tick=False):
        url = f"/api/v1/rollups?level=grid&code=R-A&week={fx.WEEK}"
        assert client.get(url).status_code == 401
        response = client.get(url, headers=bearer(wang))
        assert response.status_code == 200
        assert response.get_json()["indicators"] == fx.EXPECTED_GRID_A
        cli = runner.invoke(
            args=[
                "rollups",
                "show",
                "--level",
                "grid",
                "--code",
                "R-A",
                "--week",
                fx.WEEK,
                "--format",
                "json",
            ]
        )
        assert json.loads(cli.output) == response.get_json()

        # Another doctor's grid and a grid that does not exist look the same: 403.
        assert client.get(url, headers=bearer(li)).status_code == 403
        missing = client.get("/api/v1/rollups?level=grid&code=NOPE", headers=bearer(li))
        assert missing.status_code == 403
        county_url = f"/api/v1/rollups?level=county&code={county.codes['county']}&week={fx.WEEK}"
        assert client.get(county_url, headers=bearer(yian)).status_code == 403
        township_url = (
            f"/api/v1/rollups?level=township&code={county.codes['township']}&week={fx.WEEK}"
        )
        assert (
            client.get(township_url, headers=bearer(yian)).get_json()["indicators"]["members"] == 15
        )
        bad = client.get("/api/v1/rollups?level=planet&code=X", headers=bearer(wang))
        assert bad.status_code == 400
        assert "level" in bad.get_json()["error"]["fields"]

        # An admin, who sees everything, is told which code names nothing at that level.
        make_user(session, "bureau", "admin")
        admin = token_for(session, "bureau")
        session.commit()
        township = county.codes["township"]
        for code in ("NOPE", township):
            wrong = client.get(f"/api/v1/rollups?level=county&code={code}", headers=bearer(admin))
            assert wrong.status_code == 404, code
            error = wrong.get_json()["error"]
            assert list(error["fields"]) == ["code"]
            assert f"“{code}”" in error["message"] and "根机构编码" in error["message"]


def test_past_the_doctor_follows_the_countys_escalation_ladder(
    app, client, database_url, session, county
) -> None:
    """R-A's W48 case was acknowledged by its doctor after 20 minutes: past the doctor
    with the default ladder (doctor=10), not where the doctor's step lasts 30 minutes."""
    make_user(session, "wang", "doctor", doctor_code="RD1")
    token = token_for(session, "wang")
    session.commit()
    patient = make_app(database_url, escalation_timeouts=EscalationTimeouts(doctor=30))
    url = f"/api/v1/rollups?level=grid&code=R-A&week={fx.WEEK}"
    doctor_url = f"/api/v1/rollups?level=doctor&code=RD1&week={fx.WEEK}"
    try:
        with time_machine.travel(datetime(2026, 11, 30, 2, 0, tzinfo=UTC), tick=False):
            default = client.get(url, headers=bearer(token)).get_json()["indicators"]
            assert default["urgent_past_doctor"] == 1
            slow = patient.test_client().get(url, headers=bearer(token)).get_json()["indicators"]
            assert slow["urgent_past_doctor"] == 0
            assert slow["urgent_ack_max_s"] == 1200
        # The Monday snapshot keeps the county's ladder too.
        snapshot = patient.test_cli_runner().invoke(
            args=["rollups", "snapshot", "--at", "2026-12-01T10:00:00"]
        )
        assert snapshot.exit_code == 0, snapshot.output
        with time_machine.travel(datetime(2026, 12, 1, 2, 0, tzinfo=UTC), tick=False):
            stored = client.get(doctor_url, headers=bearer(token)).get_json()["indicators"]
            assert stored["urgent"] == 2
            assert stored["urgent_past_doctor"] == 0
    finally:
        database_of(patient).dispose()


def test_openapi_lists_rollups(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert "/api/v1/rollups" in document["paths"]
    assert "Rollup" in document["components"]["schemas"]


def test_digest_one_segment_per_doctor_and_idempotent(runner, session, county) -> None:
    at = "2026-11-30T08:00:00"
    dry = runner.invoke(args=["rollups", "digest", "--dry-run", "--at", at])
    assert dry.exit_code == 0, dry.output
    assert session.scalar(select(OutboxMessage.id)) is None
    lines = [line for line in dry.output.splitlines() if "第48周" in line]
    assert len(lines) == 2
    # RD1: grids A and B both reported, 4 red (a5, a9, a10, b2), nothing open; A first.
    assert "第48周：2格2格已报，红标4人，急报0未复，先看1号格" in dry.output
    # RD2: grid C did not report.
    assert "第48周：1格0格已报，红标1人，急报0未复，先看1号格" in dry.output

    sent = runner.invoke(args=["rollups", "digest", "--at", at])
    assert sent.exit_code == 0
    again = runner.invoke(args=["rollups", "digest", "--at", at])
    assert again.exit_code == 0
    rows = session.scalars(select(OutboxMessage)).all()
    assert len(rows) == 2
    for row in rows:
        assert segment_count(row.body) == 1
