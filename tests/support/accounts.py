"""Accounts for tests: create users, log a test client in, issue bearer tokens."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from grids.accounts.models import User
from grids.accounts.service import create_user, issue_token

PASSWORD = "correct horse battery"


def make_user(
    session: Session,
    username: str,
    role: str,
    *,
    doctor_code: str | None = None,
    facility_code: str | None = None,
    language: str | None = None,
) -> User:
    return create_user(
        session,
        username,
        role,
        PASSWORD,
        doctor_code=doctor_code,
        facility_code=facility_code,
        language=language,
    )


def token_for(session: Session, username: str) -> str:
    return issue_token(session, username)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Through the real login form, CSRF token included."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
