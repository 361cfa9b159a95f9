"""`/api/v1/admin/...`: the grid browser, the operations with preview, the change log and
undo, as JSON. Views are thin: schema in, domain call, schema out; domain errors become
the one JSON error shape (403 scope, 404 unknown code, 409 conflict, 422 rules)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from config.clock import now
from config.runtime import current_settings
from grids import audit
from grids.accounts.access import current, require_role, scope_for
from grids.admin import browse as browsing
from grids.admin import requests as admin_requests
from grids.admin.lookups import NotFound
from grids.admin.operations import OPERATIONS
from grids.admin.schemas import (
    ChangeLogSchema,
    GridFilterSchema,
    GridPageSchema,
    OperationRequestSchema,
    OutcomeSchema,
    UndoRequestSchema,
    missing_fields,
)
from grids.admin.service import AdminError, Outcome
from grids.audit import ChangeConflict, UndoRefused
from grids.storage.session import request_session
from grids.web.errors import error_response
from grids.web.request_checks import request_json
from i18n import normalise_language, translate

admin_api = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
EDITORS = ("admin", "township")
FORBIDDEN_KEYS = frozenset({"admin.error.out_of_scope", "admin.error.role"})


def language() -> str:
    user = current()
    return normalise_language(user.language or current_settings().default_language)


def domain_error(error: Exception) -> tuple[Response, int]:
    """A domain exception as the JSON error of the API."""
    lang = language()
    if isinstance(error, ValidationError):
        fields = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return error_response(400, "invalid", translate("admin.api.invalid", lang), fields)
    if isinstance(error, NotFound):
        return error_response(404, "not_found", translate(error.key, lang, **error.params))
    if isinstance(error, AdminError) and error.key == "admin.error.no_change_set":
        return error_response(404, "not_found", translate(error.key, lang, **error.params))
    if isinstance(error, AdminError):
        status = 403 if error.key in FORBIDDEN_KEYS else 400
        code = "forbidden" if status == 403 else "invalid"
        return error_response(status, code, translate(error.key, lang, **error.params))
    if isinstance(error, UndoRefused):
        return error_response(409, "undo_refused", translate(error.key, lang, **error.params))
    if isinstance(error, ChangeConflict):
        fields = {
            f"{c.key or c.row_id}.{c.field or 'row'}": translate(
                "admin.api.conflict_field",
                lang,
                expected=c.expected,
                actual=c.actual,
                by=c.changed_by or "-",
            )
            for c in error.conflicts
        }
        message = translate("admin.error.conflict", lang, **admin_requests.conflict_params(error))
        return error_response(409, "conflict", message, fields)
    raise error


def _scope() -> set[int] | None:
    return scope_for(request_session()).facility_ids()


def _reply(outcome: Outcome) -> Any:
    document = OutcomeSchema().dump(admin_requests.outcome_document(outcome, language()))
    if outcome.blocking and not outcome.dry_run:
        lang = language()
        fields = {p["code"]: p["message"] for p in document["blocking"]}
        return error_response(422, "rejected", translate("admin.api.rejected", lang), fields)
    return jsonify(document)


@admin_api.get("/grids")
@require_role(*EDITORS)
def grids() -> Any:
    try:
        wanted = GridFilterSchema().load(request.args.to_dict())
    except ValidationError as error:
        return domain_error(error)
    wanted.pop("lang", None)
    found = browsing.browse(request_session(), browsing.GridFilter(**wanted), _scope())
    return jsonify(
        GridPageSchema().dump(
            {"items": [vars(r) for r in found.rows], "page": found.page, "more": found.more}
        )
    )


@admin_api.post("/operations/<operation>")
@require_role(*EDITORS)
def operate(operation: str) -> Any:
    if operation not in OPERATIONS:
        return error_response(
            404,
            "not_found",
            translate("admin.error.bad_operation", language(), operation=operation),
        )
    session = request_session()
    try:
        body = OperationRequestSchema().load(request_json() or {})
        missing = missing_fields(operation, body)
        if missing:
            raise ValidationError(missing)
        outcome = admin_requests.run_operation(
            session,
            operation,
            body,
            who=admin_requests.actor_for(session, current()),
            now=now(),
            reason=body.get("reason"),
            override=body["override"],
            dry_run=body["dry_run"],
            expected_versions=body.get("expected_versions"),
        )
    except (ValidationError, NotFound, AdminError, ChangeConflict) as error:
        session.rollback()
        return domain_error(error)
    if outcome.applied:
        session.commit()
    return _reply(outcome)


DEFAULT_CHANGES, MAX_CHANGES = 50, 500
"""Change-sets the log lists unless `?limit=` says otherwise, and the most it may say."""


@admin_api.get("/changes")
@require_role(*EDITORS)
def changes() -> Any:
    raw = request.args.get("limit", "").strip()
    if raw and not (raw.isdecimal() and 1 <= int(raw) <= MAX_CHANGES):
        fix = translate("admin.api.fix.limit", language(), max=MAX_CHANGES)
        return error_response(
            400, "invalid", translate("admin.api.invalid", language()), {"limit": [fix]}
        )
    limit = int(raw) if raw else DEFAULT_CHANGES
    session = request_session()
    found = admin_requests.visible_change_sets(
        session, audit.change_sets(session, limit=limit), _scope()
    )
    items = [admin_requests.change_set_document(c) for c in found]
    return jsonify(ChangeLogSchema().dump({"items": items}))


@admin_api.post("/changes/<change_set_id>/undo")
@require_role(*EDITORS)
def undo_change(change_set_id: str) -> Any:
    session = request_session()
    if not (change_set_id.isascii() and change_set_id.isdigit()):
        error = AdminError("admin.error.no_change_set", id=change_set_id)
        return error_response(404, "not_found", translate(error.key, language(), **error.params))
    try:
        body = UndoRequestSchema().load(request_json() or {})
        outcome = admin_requests.run_undo(
            session,
            int(change_set_id),
            who=admin_requests.actor_for(session, current()),
            now=now(),
            reason=body.get("reason"),
            dry_run=body["dry_run"],
        )
    except (ValidationError, AdminError, UndoRefused) as error:
        session.rollback()
        return domain_error(error)
    if outcome.applied:
        session.commit()
    return _reply(outcome)
