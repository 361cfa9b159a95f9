"""The one JSON error shape of every HTTP endpoint: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status
