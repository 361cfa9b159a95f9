from __future__ import annotations

from tests.support import factories
from tests.support.accounts import PASSWORD, bearer, csrf_token, log_in, make_user, token_for


def test_login_then_private_api_then_logout(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    assert client.get("/api/v1/summary").status_code == 401
    response = log_in(client, "bureau")
    assert response.status_code == 302
    assert client.get("/api/v1/summary").status_code == 200

    page = client.get("/login").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert client.get("/api/v1/summary").status_code == 401


def test_logout_without_csrf_token_is_refused(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    log_in(client, "bureau")
    assert client.post("/logout").status_code == 400
    assert client.get("/api/v1/summary").status_code == 200


def test_login_form_without_csrf_token_is_refused(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    response = client.post("/login", data={"username": "bureau", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/v1/summary").status_code == 401


def test_wrong_password_then_rate_limit(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    for _ in range(5):
        response = log_in(client, "bureau", "wrong password!")
        assert response.status_code == 401
        assert "用户名或密码不对" in response.get_data(as_text=True)
    blocked = log_in(client, "bureau")
    assert blocked.status_code == 429
    assert "15分钟" in blocked.get_data(as_text=True)
    assert client.get("/api/v1/summary").status_code == 401


def test_disabled_user_cannot_log_in_nor_use_a_token(client, session, runner) -> None:
    make_user(session, "bureau", "admin")
    token = token_for(session, "bureau")
    session.commit()
    assert client.get("/api/v1/summary", headers=bearer(token)).status_code == 200
    assert runner.invoke(args=["users", "disable", "bureau"]).exit_code == 0
    assert client.get("/api/v1/summary", headers=bearer(token)).status_code == 401
    assert log_in(client, "bureau").status_code == 401


def test_bad_token_gets_401_json(client) -> None:
    response = client.get("/api/v1/summary", headers=bearer("not-a-token"))
    assert response.status_code == 401
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "fields"}


def test_login_redirects_back_but_never_off_site(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"username": "bureau", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_session_cookie_is_secure_in_production(database_url, monkeypatch) -> None:
    from tests.support.app import make_app

    app = make_app(database_url, environment="production", secret_key="x" * 40)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_township_scope_helpers(app, session) -> None:
    from flask_login import login_user

    from grids.accounts.access import Scope

    tree = factories.facility_tree(session)
    inside = factories.grid_with_members(session, tree["clinic_a"], size=2)
    other = factories.facility_tree(session, prefix="U")
    outside = factories.grid_with_members(session, other["clinic_a"], size=2)
    user = make_user(session, "yian", "township", facility_code=tree["township"].code)
    session.commit()
    with app.test_request_context():
        login_user(user)
        scope = Scope(session, user)
        assert scope.can_see_grid(inside.grid)
        assert not scope.can_see_grid(outside.grid)
        assert scope.can_see_facility(tree["clinic_b"])
        assert not scope.can_see_facility(other["township"])
