"""`GET /api/v1/escalations[?open=1]` and `/api/v1/escalations/<code>`: cases and timelines."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from config.runtime import current_settings
from grids.escalation.acknowledgement import normalise_ack_code
from grids.escalation.listing import escalation_items
from grids.storage.session import request_session
from grids.web.auth import api_auth_required
from grids.web.errors import error_response
from grids.web.schemas import EscalationListSchema, EscalationSchema
from i18n import translate

escalations_api = Blueprint("escalations_api", __name__)

TRUE_VALUES = frozenset({"1", "true", "yes"})


@escalations_api.get("/api/v1/escalations")
@api_auth_required
def list_escalations() -> Response:
    open_only = request.args.get("open", "").strip().lower() in TRUE_VALUES
    items = escalation_items(request_session(), open_only=open_only)
    return jsonify(EscalationListSchema().dump({"items": items}))


@escalations_api.get("/api/v1/escalations/<code>")
@api_auth_required
def show_escalation(code: str) -> object:
    wanted = normalise_ack_code(code)
    items = escalation_items(request_session(), code=wanted, limit=1)
    if not items:
        return error_response(
            404,
            "not_found",
            translate(
                "api.error.escalation_not_found", current_settings().default_language, code=wanted
            ),
        )
    return jsonify(EscalationSchema().dump(items[0]))


def init_app(app: Flask) -> None:
    app.register_blueprint(escalations_api)
