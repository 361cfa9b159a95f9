from __future__ import annotations

from openapi_spec_validator import validate

from tests.support import factories


def test_home_page_without_roster_says_how_to_load_one(client) -> None:
    response = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "尚无花名册" in page
    assert "flask --app wsgi demo" in page


def test_home_page_shows_county_counts_in_both_languages(client, session) -> None:
    tree = factories.facility_tree(session)
    factories.grid_with_members(session, tree["clinic_a"], size=5)
    factories.grid_with_members(session, tree["clinic_b"], size=3, with_doctor=False)
    session.commit()

    chinese = client.get("/?lang=zh_CN").get_data(as_text=True)
    assert "4个医疗机构，1名村医，2个网格，8名网格成员。" in chinese
    assert "1个网格尚未分配村医。" in chinese
    assert "高血压" in chinese

    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Facilities: 4 · village doctors: 1 · grids: 2 · grid members: 8" in english
    assert "Hypertension" in english


def test_home_page_never_shows_personal_data(client, session) -> None:
    tree = factories.facility_tree(session)
    fixture = factories.grid_with_members(session, tree["clinic_a"], size=3)
    session.commit()
    page = client.get("/").get_data(as_text=True)
    for member in fixture.members.values():
        assert member.name not in page
        assert member.phone not in page


def test_healthz_reports_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert {"status": body["status"], "database": body["database"]} == {
        "status": "ok",
        "database": "ok",
    }
    assert body["scheduler"] == {"status": "not_running", "last_beat": None, "failed_jobs": []}


def test_summary_api_counts(client, session) -> None:
    tree = factories.facility_tree(session)
    factories.grid_with_members(session, tree["clinic_a"], size=4)
    session.commit()
    body = client.get("/api/v1/summary").get_json()
    assert body["facilities"] == 4
    assert body["facilities_by_level"]["village_clinic"] == 2
    assert body["grids"] == 1
    assert body["members"] == 4
    assert body["patients_by_status"] == {"active": 4}
    assert body["grids_without_doctor"] == 0


def test_openapi_document_is_valid_and_lists_the_endpoints(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert {"/api/v1/summary", "/healthz", "/sms/twilio/inbound", "/sms/twilio/status"} <= set(
        document["paths"]
    )
    assert "Error" in document["components"]["schemas"]


def test_unknown_api_path_gets_the_json_error_shape(client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    assert "/api/v1/nothing-here" in error["message"]
    assert error["fields"] == {}


def test_wrong_method_gets_the_json_error_shape(client) -> None:
    response = client.post("/api/v1/summary")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
