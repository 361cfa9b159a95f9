"""The administration API: roles and scope, preview then apply, 409 on conflict, undo."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.models import Grid
from notifications.models import OutboxMessage
from tests.support.accounts import bearer, make_user, token_for
from tests.support.admin import County, county


@pytest.fixture
def c(session: Session) -> County:
    built = county(session)
    make_user(session, "bureau", "admin")
    make_user(session, "yian", "township", facility_code="AT1")
    make_user(session, "far", "township", facility_code="AT2")
    make_user(session, "doc", "doctor", doctor_code="DB1")
    session.commit()
    return built


def auth(session: Session, username: str) -> dict[str, str]:
    headers = bearer(token_for(session, username))
    session.commit()
    return headers


def post(client: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=headers)


def test_doctors_and_anonymous_callers_cannot_use_the_admin_api(client, session, c) -> None:
    assert client.get("/api/v1/admin/grids").status_code == 401
    doctor = auth(session, "doc")
    assert client.get("/api/v1/admin/grids", headers=doctor).status_code == 403
    response = post(client, "/api/v1/admin/operations/split", doctor, {"grid": "AV1-HTN01"})
    assert response.status_code == 403


def test_the_browser_filters_and_a_township_sees_only_its_clinics(client, session, c) -> None:
    admin = auth(session, "bureau")
    body = client.get("/api/v1/admin/grids?doctor=DB1", headers=admin).get_json()
    assert body["items"] == []
    body = client.get("/api/v1/admin/grids?clinic=AV1", headers=admin).get_json()
    assert [(g["code"], g["members"]) for g in body["items"]] == [
        ("AV1-HTN01", 12),
        ("AV1-HTN02", 19),
    ]
    far = auth(session, "far")
    assert client.get("/api/v1/admin/grids", headers=far).get_json()["items"] == []
    bad = client.get("/api/v1/admin/grids?capacity=huge", headers=admin)
    assert bad.status_code == 400 and "capacity" in bad.get_json()["error"]["fields"]


def test_preview_then_apply_then_undo(client, session, c) -> None:
    admin = auth(session, "bureau")
    path = "/api/v1/admin/operations/move-grid"
    preview = post(client, path, admin, {"grid": "AV1-HTN01", "doctor": "DB1", "dry_run": True})
    assert preview.status_code == 200
    document = preview.get_json()
    assert document["applied"] is False and document["change_set"] is None
    assert len(document["sms"]) == 3
    assert all("****" in sms["to"] for sms in document["sms"])
    applied = post(
        client,
        path,
        admin,
        {"grid": "AV1-HTN01", "doctor": "DB1", "expected_versions": document["versions"]},
    )
    assert applied.status_code == 200
    change_set = applied.get_json()["change_set"]
    log = client.get("/api/v1/admin/changes", headers=admin).get_json()["items"]
    assert [(i["id"], i["actor"], i["operation"]) for i in log] == [
        (change_set, "user:bureau", "move-grid")
    ]
    assert session.scalars(select(OutboxMessage.template)).all()
    undone = client.post(f"/api/v1/admin/changes/{change_set}/undo", json={}, headers=admin)
    assert undone.status_code == 200
    again = client.post(f"/api/v1/admin/changes/{change_set}/undo", json={}, headers=admin)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "undo_refused"


def test_a_stale_preview_gets_409_with_what_changed(client, session, c) -> None:
    admin = auth(session, "bureau")
    path = "/api/v1/admin/operations/move-grid"
    preview = post(client, path, admin, {"grid": "AV1-HTN01", "doctor": "DB1", "dry_run": True})
    versions = preview.get_json()["versions"]
    split = post(client, "/api/v1/admin/operations/split", admin, {"grid": "AV1-HTN01"})
    assert split.status_code == 200
    conflict = post(
        client, path, admin, {"grid": "AV1-HTN01", "doctor": "DB1", "expected_versions": versions}
    )
    assert conflict.status_code == 409
    error = conflict.get_json()["error"]
    assert error["code"] == "conflict"
    assert list(error["fields"]) == ["AV1-HTN01.version"]
    session.expire_all()
    assert session.scalar(select(Grid.doctor_id).where(Grid.code == "AV1-HTN01")) == c.d1.id


def test_rules_give_422_and_override_needs_a_reason(client, session, c) -> None:
    admin = auth(session, "bureau")
    path = "/api/v1/admin/operations/move-grid"
    refused = post(client, path, admin, {"grid": "AV1-HTN01", "doctor": "DF1"})
    assert refused.status_code == 422
    assert list(refused.get_json()["error"]["fields"]) == ["doctor_elsewhere"]
    no_reason = post(client, path, admin, {"grid": "AV1-HTN01", "doctor": "DF1", "override": True})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.get_json()["error"]["fields"]
    missing = post(client, path, admin, {"grid": "AV1-HTN01"})
    assert missing.status_code == 400 and "doctor" in missing.get_json()["error"]["fields"]
    unknown = post(client, path, admin, {"grid": "NOPE", "doctor": "DB1"})
    assert unknown.status_code == 404


def test_a_township_account_cannot_move_a_grid_out_of_its_township(client, session, c) -> None:
    yian = auth(session, "yian")
    path = "/api/v1/admin/operations/move-grid"
    body = {"grid": "AV1-HTN01", "doctor": "DF1", "override": True, "reason": "x"}
    assert post(client, path, yian, body).status_code == 403
    assert post(client, path, yian, {"grid": "AV1-HTN01", "doctor": "DB1"}).status_code == 200


def test_township_accounts_read_only_their_own_changes(client, session, c) -> None:
    yian, far = auth(session, "yian"), auth(session, "far")
    path = "/api/v1/admin/operations/move-grid"
    assert post(client, path, yian, {"grid": "AV1-HTN01", "doctor": "DB1"}).status_code == 200
    assert len(client.get("/api/v1/admin/changes", headers=yian).get_json()["items"]) == 1
    assert client.get("/api/v1/admin/changes", headers=far).get_json()["items"] == []


def test_an_operation_adding_a_grids_check_problem_gets_422_naming_it_and_the_fix(
    client, session, c
) -> None:
    admin = auth(session, "bureau")
    path = "/api/v1/admin/operations/set-status"
    body = {"patient": c.g1.members[1].code, "status": "moved_away"}
    preview = post(client, path, admin, {**body, "dry_run": True}).get_json()
    assert [(p["code"], p["params"]["subject"]) for p in preview["blocking"]] == [
        ("check_grid_without_coordinator", "AV1-HTN01")
    ]
    refused = post(client, path, admin, body)
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["fields"]
    assert list(fields) == ["check_grid_without_coordinator"]
    assert "AV1-HTN01" in fields["check_grid_without_coordinator"]
    assert "set-coordinator" in fields["check_grid_without_coordinator"]
    assert session.scalars(select(OutboxMessage)).all() == []
    confirmed = post(client, path, admin, {**body, "override": True, "reason": "搬家"})
    assert confirmed.status_code == 200 and confirmed.get_json()["applied"] is True


def test_a_merge_closes_the_emptied_grid_and_undo_reopens_it(client, session, c) -> None:
    from tests.support import factories

    factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    admin = auth(session, "bureau")
    merged = post(
        client, "/api/v1/admin/operations/merge", admin, {"grids": ["AV1-HTN01", "AV1-HTN09"]}
    )
    assert merged.status_code == 200
    document = merged.get_json()
    assert "grid_closes" in [n["code"] for n in document["notes"]]
    listed = client.get("/api/v1/admin/grids?clinic=AV1", headers=admin).get_json()["items"]
    assert [g["code"] for g in listed] == ["AV1-HTN01", "AV1-HTN02"]
    session.expire_all()
    assert session.scalar(select(Grid.closed_at).where(Grid.code == "AV1-HTN09")) is not None
    undone = client.post(
        f"/api/v1/admin/changes/{document['change_set']}/undo", json={}, headers=admin
    )
    assert undone.status_code == 200
    assert "sms.admin.member_moved" in [s["template"] for s in undone.get_json()["sms"]]
    session.expire_all()
    assert session.scalar(select(Grid.closed_at).where(Grid.code == "AV1-HTN09")) is None
    listed = client.get("/api/v1/admin/grids?clinic=AV1", headers=admin).get_json()["items"]
    assert [g["code"] for g in listed] == ["AV1-HTN01", "AV1-HTN02", "AV1-HTN09"]


def test_undoing_a_retirement_queues_the_sms_again(client, session, c) -> None:
    admin = auth(session, "bureau")
    retired = post(
        client, "/api/v1/admin/operations/retire-doctor", admin, {"doctor": c.d1.code}
    ).get_json()
    assert retired["applied"] is True
    first = {(s["template"], s["recipient"]) for s in retired["sms"]}
    undone = client.post(
        f"/api/v1/admin/changes/{retired['change_set']}/undo", json={}, headers=admin
    )
    assert undone.status_code == 200
    again = {(s["template"], s["recipient"]) for s in undone.get_json()["sms"]}
    assert ("sms.admin.doctor_released", f"doctor:{c.d1.id}") in first
    assert ("sms.admin.doctor_assigned", f"doctor:{c.d1.id}") in again
    coordinators = {f"patient:{c.g1.coordinator.id}", f"patient:{c.g2.coordinator.id}"}
    assert {r for t, r in again if t == "sms.admin.coordinator_doctor"} == coordinators
    queued = session.scalars(
        select(OutboxMessage.to_phone).where(
            OutboxMessage.template == "sms.admin.doctor_assigned",
            OutboxMessage.to_phone == c.d1.phone,
        )
    ).all()
    assert len(queued) == 1
