"""`POST /api/v1/followups`: record one follow-up (doctor: his members; township: its
clinics'; admin: all)."""

from __future__ import annotations

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
    record_followup,
)
from grids.storage.session import request_session
from grids.web.errors import error_response
from grids.web.request_checks import request_json
from i18n import normalise_language, translate

followups_api = Blueprint("followups_api", __name__, url_prefix="/api/v1/followups")


def _language() -> str:
    return normalise_language(current().language or current_settings().default_language)


@followups_api.post("")
@require_role("admin", "township", "doctor")
def record() -> Any:
    lang = _language()
    try:
        body = FollowupRequestSchema().load(request_json() or {})
    except ValidationError as error:
        fields = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return error_response(400, "invalid", translate("followups.api.invalid", lang), fields)
    body["visit_date"] = body.pop("date")
    session = request_session()
    moment = now()
    try:
        recorded = record_followup(
            session,
            FollowupInput(**body),
            user=current(),
            now=moment,
            settings=current_settings(),
        )
    except FollowupRefused as error:
        fields = {p.field: translate(p.key, lang, **p.params) for p in error.problems}
        return error_response(400, "invalid", translate("followups.api.invalid", lang), fields)
    except NotAllowed as error:
        return error_response(403, "forbidden", translate(error.key, lang, **error.params))
    channel()(session, recorded.notices, moment)
    session.commit()
    return jsonify(FollowupSchema().dump(followup_document(recorded))), 201
