"""`GET /api/v1/rollups`: the rollup document, for those whose scope covers the subject."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from config.clock import now
from config.runtime import current_settings
from grids.accounts.access import (
    any_role,
    doctor_or_403,
    facility_or_403,
    grid_or_403,
)
from grids.rollups.schemas import RollupQuerySchema, RollupSchema
from grids.rollups.service import RollupError, doctor_timeout_of, rollup_document
from grids.storage.session import read_session
from grids.web.errors import error_response
from i18n import translate

rollups_api = Blueprint("rollups_api", __name__)


def check_scope(level: str, code: str) -> None:
    """403 unless the user's scope covers the subject (existence is not revealed)."""
    session = read_session()
    if level == "grid":
        grid_or_403(session, code)
    elif level == "doctor":
        doctor_or_403(session, code)
    else:
        facility_or_403(session, code)


@rollups_api.get("/api/v1/rollups")
@any_role
def get_rollup() -> tuple[Response, int] | Response:
    settings = current_settings()
    try:
        query = RollupQuerySchema().load(request.args.to_dict())
    except ValidationError as error:
        message = translate("api.error.invalid_query", settings.default_language)
        return error_response(400, "invalid_query", message, error.normalized_messages())
    try:
        check_scope(query["level"], query["code"])
    except NotFound:  # only admins learn that a subject does not exist
        return _unknown_subject(query["level"], query["code"])
    try:
        doc = rollup_document(
            read_session(),
            query["level"],
            query["code"],
            query.get("week"),
            now(),
            settings.tz,
            doctor_timeout_s=doctor_timeout_of(settings),
        )
    except RollupError as error:
        if error.key == UNKNOWN_SUBJECT:
            return _unknown_subject(query["level"], query["code"])
        message = translate(error.key, settings.default_language, **error.params)
        return error_response(400, "invalid_query", message, {"week": [message]})
    return jsonify(RollupSchema().dump(doc))


UNKNOWN_SUBJECT = "rollups.error.unknown_subject"


def _unknown_subject(level: str, code: str) -> tuple[Response, int]:
    message = translate(
        UNKNOWN_SUBJECT, current_settings().default_language, level=level, code=code
    )
    return error_response(404, "not_found", message, {"code": [message]})
