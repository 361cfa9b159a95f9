"""The API's authentication hook.

`api_auth_required` guards every `/api/v1/...` route that shows personal or case data.
Today it only refuses a request without `Authorization: Bearer TOKEN` (401, the one
JSON error shape); the accounts capability replaces its check with the real token
lookup (role and scope), so every route decorated with it is covered at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from config.runtime import current_settings
from grids.web.errors import error_response
from i18n import translate

BEARER = "bearer "


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(BEARER):
        return None
    token = header[len(BEARER) :].strip()
    return token or None


def api_auth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """401 without a Bearer token. The token itself is checked once accounts exist."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if bearer_token() is None:
            response, status = error_response(
                401,
                "unauthorized",
                translate("api.error.unauthorized", current_settings().default_language),
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        return view(*args, **kwargs)

    return wrapper
