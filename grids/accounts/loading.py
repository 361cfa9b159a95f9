"""How Flask-Login finds the user of a request: the session cookie or a bearer token."""

from __future__ import annotations

from flask import request

from grids.accounts.models import User, parse_session_id
from grids.accounts.service import user_for_token
from grids.storage.session import request_session


def load_from_session(session_id: str) -> User | None:
    """The user of a session cookie, unless that generation of sessions was revoked."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    user_id, version = parsed
    user = request_session().get(User, user_id)
    if user is None or user.disabled or user.session_version != version:
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
