"""`POST /api/v1/followups`: record one follow-up (doctor: his members; township: its
clinics'; admin: all)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, jsonify
from marshmallow import ValidationError

from config.clock import now
from config.runtime import current_settings
from grids.accounts.access import current, require_role
from grids.channel import channel
from grids.followups.documents import followup_document
from grids.followups.schemas import FollowupRequestSchema, FollowupSchema
from grids.followups.service import (
    FollowupInput,
    FollowupRefused,
    NotAllowed,
    Problem,
    check,
    record_followup,
)
from grids.storage.session import request_session
from grids.web.errors import error_response
from grids.web.request_checks import request_json
from i18n import normalise_language, translate

followups_api = Blueprint("followups_api", __name__, url_prefix="/api/v1/followups")
API_FIELDS = {"bp": "systolic"}
"""The request field of each checked field whose name differs from it."""


def _language() -> str:
    return normalise_language(current().language or current_settings().default_language)


@followups_api.post("")
@require_role("admin", "township", "doctor")
def record() -> Any:
    lang = _language()
    moment = now()
    try:
        body = FollowupRequestSchema().load(request_json() or {})
    except ValidationError as error:
        fields = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        valid = dict(error.valid_data or {}) if isinstance(error.valid_data, dict) else {}
        partial = FollowupInput(
            member_code=valid.pop("member_code", ""),
            visit_date=valid.pop("date", date.min),
            method=valid.pop("method", ""),
            **valid,
        )
        today = moment.astimezone(current_settings().tz).date()
        return _invalid(lang, fields, check(partial, today))
    body["visit_date"] = body.pop("date")
    session = request_session()
    try:
        recorded = record_followup(
            session,
            FollowupInput(**body),
            user=current(),
            now=moment,
            settings=current_settings(),
        )
    except FollowupRefused as error:
        return _invalid(lang, {}, error.problems)
    except NotAllowed as error:
        return error_response(403, "forbidden", translate(error.key, lang, **error.params))
    channel()(session, recorded.notices, moment)
    session.commit()
    return jsonify(FollowupSchema().dump(followup_document(recorded))), 201


def _invalid(lang: str, fields: dict[str, Any], problems: list[Problem]) -> Any:
    """400 with every bad field: the schema's, then the checks' on the fields it read."""
    for problem in problems:
        name = API_FIELDS.get(problem.field, problem.field)
        fields.setdefault(name, translate(problem.key, lang, **problem.params))
    return error_response(400, "invalid", translate("followups.api.invalid", lang), fields)
