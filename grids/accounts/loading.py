"""How Flask-Login finds the user of a request: the session cookie or a bearer token."""

from __future__ import annotations

from flask import request

from grids.accounts.models import User
from grids.accounts.service import user_for_token
from grids.storage.session import request_session


def load_from_session(user_id: str) -> User | None:
    try:
        key = int(user_id)
    except ValueError:
        return None
    user = request_session().get(User, key)
    if user is None or user.disabled:
        return None
    return user


def load_from_request(_request: object) -> User | None:
    """`Authorization: Bearer TOKEN`, accepted on the JSON API only."""
    if not request.path.startswith("/api/"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    user = user_for_token(request_session(), token.strip())
    if user is not None:
        user.via_token = True  # type: ignore[attr-defined]
    return user
