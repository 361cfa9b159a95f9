"""The landing page, health check and JSON API of the domain. Views stay thin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, HTTPException

from config.clock import now as clock_now
from config.runtime import current_settings, settings_of
from config.settings import Settings
from grids.accounts.access import any_role
from grids.storage.session import read_session, replica_of, request_session
from grids.web.errors import error_response
from grids.web.language import page_language
from grids.web.openapi import build_openapi
from grids.web.schemas import HealthSchema, SummarySchema
from grids.web.summary import county_summary
from i18n import LANGUAGES, catalogue

log = logging.getLogger(__name__)

web = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@web.get("/")
def home() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("rollups.landing"))
    language = page_language()
    summary = county_summary(read_session())
    return render_template(
        "home.html",
        t=catalogue(language).text,
        language=language,
        languages=LANGUAGES,
        summary=summary,
    )


HEALTH_CHECKS = "huzhu.health_checks"
HealthCheck = Callable[[Session, datetime], dict[str, Any]]


def add_health_check(app: Flask, check: HealthCheck) -> None:
    """More for `/healthz` to report (the scheduler adds its heartbeat)."""
    app.extensions.setdefault(HEALTH_CHECKS, []).append(check)


def _more_health(session: Session) -> dict[str, Any]:
    more: dict[str, Any] = {}
    for check in current_app.extensions.get(HEALTH_CHECKS, []):
        try:
            more.update(check(session, clock_now()))
        except SQLAlchemyError:
            session.rollback()
            log.exception("health check %s failed", getattr(check, "__name__", check))
    return more


@web.get("/healthz")
def healthz() -> tuple[Response, int]:
    body: dict[str, Any]
    try:
        session = request_session()
        session.execute(text("SELECT 1"))
        body, status = {"status": "ok", "database": "ok", **_more_health(session)}, 200
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        body, status = {"status": "unavailable", "database": "unreachable"}, 503
    replica = replica_of(current_app)
    if replica is not None:
        # Pages fail over to the primary meanwhile: the service stays up.
        body["replica"] = "ok" if replica.database.is_reachable() else "unreachable"
    warnings = startup_warnings(current_settings())
    if warnings:
        body["warnings"] = warnings
    return jsonify(HealthSchema().dump(body)), status


def startup_warnings(settings: Settings) -> list[str]:
    """What an operator must know about this process's configuration: logged at start,
    listed on /healthz."""
    warnings = []
    if not settings.twilio_validate_signature:
        warnings.append("twilio_signature_not_checked")
    return warnings


@web.get("/api/v1/summary")
@any_role
def summary() -> Response:
    result = county_summary(read_session())
    payload = {
        "facilities": result.facilities,
        "facilities_by_level": result.facilities_by_level,
        "doctors": result.doctors,
        "patients_by_status": result.patients_by_status,
        "grids": result.grids,
        "grids_by_condition": result.grids_by_condition,
        "members": result.members,
        "grids_without_doctor": result.grids_without_doctor,
        "grids_without_coordinator": result.grids_without_coordinator,
    }
    return jsonify(SummarySchema().dump(payload))


@web.get("/api/v1/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi())


def _wants_json() -> bool:
    return request.path.startswith(
        ("/api/", "/sms/", "/voice/")
    ) or request.accept_mimetypes.best == ("application/json")


def _own_description(error: HTTPException) -> str | None:
    """The reason a view gave when it refused the request (`abort(400, description=...)`),
    None for werkzeug's generic English text."""
    described = error.description
    return described if described and described != type(error).description else None


def handle_http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if isinstance(error, CSRFError):
        # Flask-WTF's reasons are English: say it in the reader's language, with the fix.
        language = page_language() if not _wants_json() else current_settings().default_language
        message = catalogue(language).text("web.error.csrf")
        if _wants_json():
            return error_response(400, "bad_request", message)
        error = BadRequest(description=message)
    if not _wants_json():
        if status in (400, 403, 404):
            language = page_language()
            t = catalogue(language).text
            message = (status == 400 and _own_description(error)) or t(f"web.error.{status}")
            page = render_template(
                "error.html",
                t=t,
                language=language,
                languages=LANGUAGES,
                status=status,
                message=message,
            )
            return page, status
        return error
    language = current_settings().default_language
    if status == 401:
        message = catalogue(language).text("api.error.unauthorized")
    elif status == 403:
        message = catalogue(language).text("api.error.forbidden")
    elif status == 404:
        message = catalogue(language).text("api.error.not_found", path=request.path)
    elif status == 405:
        message = catalogue(language).text("api.error.method_not_allowed", method=request.method)
    else:
        message = error.description or error.name
    return error_response(status, error.name.lower().replace(" ", "_"), message)


DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
"""Errors that mean the database cannot be reached, rather than a bug."""


def handle_database_unavailable(error: Exception) -> Any:
    log.error("database unavailable on %s %s: %s", request.method, request.path, error)
    language = current_settings().default_language
    message = catalogue(language).text("http.error.database_unavailable")
    return error_response(503, "database_unavailable", message)


def handle_unexpected_error(error: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, request.path)
    language = current_settings().default_language
    message = catalogue(language).text("api.error.internal")
    if _wants_json():
        return error_response(500, "internal_error", message)
    return message, 500


def init_app(app: Flask) -> None:
    app.register_blueprint(web)
    app.register_error_handler(HTTPException, handle_http_error)
    for database_error in DATABASE_UNAVAILABLE:
        app.register_error_handler(database_error, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)
    for warning in startup_warnings(settings_of(app)):
        if warning == "twilio_signature_not_checked":
            log.warning(
                "TWILIO_VALIDATE_SIGNATURE=false: the Twilio webhooks accept unsigned requests "
                "from anyone; set it to true outside development"
            )
