"""The administration pages through the test client: browser, grid page, preview and
apply, retire flow with an edited suggestion, change log with undo, export audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.vocabulary import DoctorStatus
from grids.models import AuditEntry, Doctor, Grid
from i18n import translate
from notifications.models import OutboxMessage
from tests.support import factories
from tests.support.accounts import csrf_token, log_in, make_user
from tests.support.admin import County, county


@pytest.fixture
def c(session: Session) -> County:
    built = county(session)
    factories.doctor(session, built.facilities["clinic_a"], code="DA2", name="周医生")
    make_user(session, "bureau", "admin")
    make_user(session, "yian", "township", facility_code="AT1")
    make_user(session, "far", "township", facility_code="AT2")
    session.commit()
    return built


def test_the_browser_lists_and_filters_grids_in_chinese_first(client, c) -> None:
    log_in(client, "bureau")
    page = client.get("/admin/grids").get_data(as_text=True)
    assert "网格管理" in page and "AV1-HTN01" in page and "AV1-HTN02" in page
    filtered = client.get("/admin/grids?doctor=DB1&lang=en").get_data(as_text=True)
    assert "No grids match." in filtered


def test_a_township_user_sees_only_its_clinics(client, c) -> None:
    log_in(client, "far")
    assert "AV1-HTN01" not in client.get("/admin/grids").get_data(as_text=True)
    assert client.get("/admin/grids/AV1-HTN01").status_code == 403


def test_phones_are_masked_for_township_users_and_export_is_admin_only(client, session, c) -> None:
    log_in(client, "yian")
    page = client.get("/admin/grids/AV1-HTN01").get_data(as_text=True)
    assert "****" in page
    assert client.get("/admin/grids/AV1-HTN01/members.csv").status_code == 403


def test_an_admin_export_is_audited(client, session, c) -> None:
    log_in(client, "bureau")
    response = client.get("/admin/grids/AV1-HTN01/members.csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("\n") == 13
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "admin.export_members"))
    assert entry is not None and entry.actor == "user:bureau" and entry.entity_code == "AV1-HTN01"


def test_retire_flow_preview_edit_apply_then_undo(client, session, c) -> None:
    log_in(client, "bureau")
    page = client.get(f"/admin/doctors/{c.d1.code}/retire").get_data(as_text=True)
    assert re.search(r'<option value="DA2" selected', page)
    token = csrf_token(page)
    form = {
        "csrf_token": token,
        "doctor": c.d1.code,
        "to.AV1-HTN01": "DA2",
        "to.AV1-HTN02": "DB1",
        "reason": "退休",
    }
    preview = client.post("/admin/operations/retire-doctor", data=form)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "预览" in text and 'id="apply"' in text
    session.expire_all()
    assert session.get(Doctor, c.d1.id).status == DoctorStatus.ACTIVE
    versions = dict(re.findall(r'name="v\.([^"]+)" value="(\d+)"', text))
    apply = {**form, "step": "apply", **{f"v.{k}": v for k, v in versions.items()}}
    applied = client.post("/admin/operations/retire-doctor", data=apply)
    body = applied.get_data(as_text=True)
    assert applied.status_code == 200 and "已排队短信" in body
    session.expire_all()
    assert session.scalar(select(Grid.doctor_id).where(Grid.code == "AV1-HTN02")) == c.d2.id
    assert session.get(Doctor, c.d1.id).status == DoctorStatus.RETIRED
    assert session.scalars(select(OutboxMessage)).all()
    log = client.get("/admin/changes").get_data(as_text=True)
    # Codes are translated on pages: the operation and the actor.
    assert translate("admin.op.retire-doctor", "zh_CN") in log
    assert "retire-doctor" not in log.split("<table>")[1].split("</table>")[0]
    found = re.search(r'id="change-(\d+)"', log)
    assert found is not None
    change_id = found.group(1)
    # Undo previews first, with every SMS, and changes nothing until applied.
    preview = client.post(f"/admin/changes/{change_id}/undo", data={"csrf_token": csrf_token(log)})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert 'id="apply"' in text and 'id="sms"' in text
    session.expire_all()
    assert session.get(Doctor, c.d1.id).status == DoctorStatus.RETIRED
    undone = client.post(
        f"/admin/changes/{change_id}/undo",
        data={"csrf_token": csrf_token(text), "step": "apply"},
    )
    assert undone.status_code == 200
    session.expire_all()
    assert session.get(Doctor, c.d1.id).status == DoctorStatus.ACTIVE
    assert session.scalar(select(Grid.doctor_id).where(Grid.code == "AV1-HTN02")) == c.d1.id


def test_a_stale_apply_is_a_conflict_page(client, session, c) -> None:
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/grids/AV1-HTN01").get_data(as_text=True))
    form = {"csrf_token": token, "grid": "AV1-HTN01", "doctor": "DB1", "step": "apply"}
    response = client.post("/admin/operations/move-grid", data={**form, "v.AV1-HTN01": "1"})
    assert response.status_code == 409
    assert "冲突" in response.get_data(as_text=True)


def test_forms_without_csrf_are_refused(client, c) -> None:
    log_in(client, "bureau")
    response = client.post("/admin/operations/split", data={"grid": "AV1-HTN01"})
    assert response.status_code == 400


def test_a_preview_that_adds_a_grids_check_problem_offers_no_apply_until_confirmed(
    client, session, c
) -> None:
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/grids/AV1-HTN01").get_data(as_text=True))
    form = {"csrf_token": token, "patient": c.g1.members[1].code, "status": "moved_away"}
    preview = client.post("/admin/operations/set-status?lang=en", data=form)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="apply"' not in text
    assert "Grid AV1-HTN01 would be left without a coordinator" in text
    confirmed = {**form, "override": "1", "reason": "搬家"}
    text = client.post("/admin/operations/set-status", data=confirmed).get_data(as_text=True)
    assert 'id="apply"' in text
    forced_apply = client.post("/admin/operations/set-status", data={**form, "step": "apply"})
    assert forced_apply.status_code == 422
    session.expire_all()
    assert session.scalar(select(Grid.coordinator_id).where(Grid.code == "AV1-HTN01")) is not None


def test_a_closed_grid_page_says_so_and_offers_no_operations(client, session, c) -> None:
    factories.grid_with_members(session, c.facilities["clinic_a"], size=3, code="AV1-HTN09")
    session.commit()
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/grids/AV1-HTN01").get_data(as_text=True))
    form = {"csrf_token": token, "grid": "AV1-HTN01", "other": "AV1-HTN09", "step": "apply"}
    merged = client.post("/admin/operations/merge", data=form)
    assert merged.status_code == 200, merged.get_data(as_text=True)
    page = client.get("/admin/grids/AV1-HTN09").get_data(as_text=True)
    assert "已于" in page and "关闭" in page
    assert "/admin/operations/split" not in page
    assert "AV1-HTN09" not in client.get("/admin/grids").get_data(as_text=True)


def test_the_language_chosen_with_lang_is_kept_on_the_next_pages(client, c) -> None:
    log_in(client, "bureau")
    assert "No grids match." in client.get("/admin/grids?doctor=DB1&lang=en").get_data(as_text=True)
    assert "No grids match." in client.get("/admin/grids?doctor=DB1").get_data(as_text=True)
    chinese = client.get("/admin/grids?lang=zh_CN").get_data(as_text=True)
    assert "网格管理" in chinese and "网格管理" in client.get("/admin/grids").get_data(as_text=True)


def test_a_refused_preview_says_what_blocks_it_and_what_an_override_would_pass(
    client, session, c
) -> None:
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/grids/AV1-HTN01").get_data(as_text=True))
    form = {"csrf_token": token, "grid": "AV1-HTN01", "doctor": "DF1"}
    text = client.post("/admin/operations/move-grid", data=form).get_data(as_text=True)
    assert translate("admin.web.blocks", "zh_CN") + " ※" in text
    assert translate("admin.web.override_hint", "zh_CN") in text


def test_the_change_log_shows_local_times_and_translated_actors(client, session, c) -> None:
    log_in(client, "bureau")
    token = csrf_token(client.get("/admin/grids/AV1-HTN01").get_data(as_text=True))
    form = {"csrf_token": token, "grid": "AV1-HTN01", "doctor": "DB1", "step": "apply"}
    form["v.AV1-HTN01"] = str(c.g1.grid.version)
    assert client.post("/admin/operations/move-grid", data=form).status_code == 200
    from zoneinfo import ZoneInfo

    from grids.models import ChangeSet

    changed = session.scalars(select(ChangeSet)).one()
    local = changed.at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    log = client.get("/admin/changes").get_data(as_text=True)
    assert local in log
    assert translate("admin.actor.user", "zh_CN", name="bureau") in log


def test_the_retire_page_shows_how_many_grids_each_candidate_holds(client, c) -> None:
    log_in(client, "bureau")
    page = client.get(f"/admin/doctors/{c.d1.code}/retire").get_data(as_text=True)
    assert translate(
        "admin.web.candidate", "zh_CN", code="DB1", name="李医生", grids=0, cap=15
    ) in (page)
