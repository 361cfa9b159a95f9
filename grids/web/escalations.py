"""`GET /api/v1/escalations[?open=1]` and `/api/v1/escalations/<code>`: cases and timelines;
`POST /api/v1/escalations/<code>/close`: close one with its outcome."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.clock import now
from config.runtime import current_settings
from grids.accounts.access import any_role, scope_for
from grids.escalation.acknowledgement import normalise_ack_code
from grids.escalation.listing import escalation_items
from grids.escalation.outcomes import OutcomeRefused
from grids.models import Grid
from grids.storage.session import request_session
from grids.web.case_actions import CaseHidden, close_as
from grids.web.errors import error_response
from grids.web.request_checks import request_json
from grids.web.schemas import CloseRequestSchema, EscalationListSchema, EscalationSchema
from i18n import translate

escalations_api = Blueprint("escalations_api", __name__)

OPEN_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
"""What `?open=` may say (any case); absent or empty: every case."""


def _in_scope(session: Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases of grids the account may see (a doctor's own grids, a township's clinics)."""
    scope = scope_for(session)
    if scope.is_admin:
        return items
    codes = {item["grid_code"] for item in items if item.get("grid_code")}
    grids = {grid.code: grid for grid in session.scalars(select(Grid).where(Grid.code.in_(codes)))}
    return [
        item
        for item in items
        if item.get("grid_code") in grids and scope.can_see_grid(grids[item["grid_code"]])
    ]


@escalations_api.get("/api/v1/escalations")
@any_role
def list_escalations() -> Any:
    language = current_settings().default_language
    problems = {
        name: [translate("api.fix.unknown_parameter", language, known="open")]
        for name in request.args
        if name != "open"
    }
    raw = request.args.get("open", "").strip().lower()
    if raw and raw not in OPEN_VALUES:
        problems["open"] = [translate("api.fix.open", language, values=", ".join(OPEN_VALUES))]
    if problems:
        message = translate("api.error.invalid_query", language)
        return error_response(400, "invalid_query", message, problems)
    open_only = OPEN_VALUES.get(raw, False)
    session = request_session()
    items = _in_scope(session, escalation_items(session, open_only=open_only))
    return jsonify(EscalationListSchema().dump({"items": items}))


@escalations_api.get("/api/v1/escalations/<code>")
@any_role
def show_escalation(code: str) -> Any:
    wanted = normalise_ack_code(code)
    session = request_session()
    found = escalation_items(session, code=wanted, limit=1)
    items = _in_scope(session, found)
    if not items and not scope_for(session).is_admin:
        # Out of scope and nonexistent answer alike, so codes cannot be enumerated.
        return error_response(
            403, "forbidden", translate("api.error.forbidden", current_settings().default_language)
        )
    if not items:
        return error_response(
            404,
            "not_found",
            translate(
                "api.error.escalation_not_found", current_settings().default_language, code=wanted
            ),
        )
    return jsonify(EscalationSchema().dump(items[0]))


@escalations_api.post("/api/v1/escalations/<code>/close")
@any_role
def close_escalation(code: str) -> Any:
    """Close a case with its outcome (anyone whose scope covers its grid)."""
    language = current_settings().default_language
    wanted = normalise_ack_code(code)
    try:
        body = CloseRequestSchema().load(request_json() or {})
    except ValidationError as error:
        fields = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return error_response(
            400, "invalid", translate("api.error.invalid_close", language), fields
        )
    session = request_session()
    settings = current_settings()
    try:
        close_as(
            session,
            scope_for(session),
            wanted,
            outcome=body["outcome"],
            reason=body["reason"],
            via="api",
            now=now(),
            tz=settings.tz,
        )
    except CaseHidden as hidden:
        if hidden.forbidden:
            return error_response(403, "forbidden", translate("api.error.forbidden", language))
        return error_response(
            404, "not_found", translate("api.error.escalation_not_found", language, code=wanted)
        )
    except OutcomeRefused as refused:
        return error_response(
            409,
            refused.reason,
            translate(f"sms.reply.case.{refused.reason}", language, code=wanted),
        )
    session.commit()
    [item] = escalation_items(session, code=wanted, limit=1)
    return jsonify(EscalationSchema().dump(item))


def init_app(app: Flask) -> None:
    from grids.web.case_pages import case_pages

    app.register_blueprint(escalations_api)
    app.register_blueprint(case_pages)
