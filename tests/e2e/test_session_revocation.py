"""A session cookie stops working on the server once the session is revoked."""

from __future__ import annotations

from typing import Any

from tests.support.accounts import PASSWORD, csrf_token, log_in, make_user


def _logged_in_cookie(client: Any, session: Any) -> str:
    make_user(session, "bureau", "admin")
    session.commit()
    assert log_in(client, "bureau").status_code == 302
    assert client.get("/api/v1/summary").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    return str(cookie.value)


def _opens_pages_with(client: Any, cookie: str) -> bool:
    client.set_cookie("session", cookie)
    return bool(client.get("/api/v1/summary").status_code == 200)


def test_a_cookie_kept_from_before_logout_no_longer_opens_pages(client, session) -> None:
    old = _logged_in_cookie(client, session)
    page = client.get("/login").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert not _opens_pages_with(client, old)
    assert client.get("/admin/grids").status_code == 302
    # Logging in again gives a working session.
    assert log_in(client, "bureau").status_code == 302
    assert client.get("/api/v1/summary").status_code == 200


def test_a_password_change_signs_out_every_session(client, session, runner) -> None:
    old = _logged_in_cookie(client, session)
    changed = runner.invoke(
        args=["users", "password", "bureau", "--password-stdin"], input="a new long password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert not _opens_pages_with(client, old)
    assert log_in(client, "bureau", PASSWORD).status_code == 401
    assert log_in(client, "bureau", "a new long password").status_code == 302


def test_a_short_new_password_is_refused(client, session, runner) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    refused = runner.invoke(
        args=["users", "password", "bureau", "--password-stdin"], input="short\n"
    )
    assert refused.exit_code == 1
    assert log_in(client, "bureau", PASSWORD).status_code == 302


def test_disabling_a_user_signs_out_their_sessions(client, session, runner) -> None:
    old = _logged_in_cookie(client, session)
    assert runner.invoke(args=["users", "disable", "bureau"]).exit_code == 0
    assert not _opens_pages_with(client, old)
