"""The administration pages: grid browser, grid page, operation forms with preview, the
retire-a-doctor flow with its editable suggestion, the change log with undo, and the
admin-only (audited) export of a grid's members. Server-rendered; views stay thin."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlalchemy import func, select

from config.clock import now
from config.logging import mask_phone
from config.runtime import current_settings
from grids import audit
from grids.accounts.access import current, doctor_or_403, grid_or_403, require_role, scope_for
from grids.admin import browse as browsing
from grids.admin.lookups import NotFound
from grids.admin.operations import OPERATIONS, STATUSES, retirement_suggestion
from grids.admin.requests import (
    actor_for,
    change_set_document,
    conflict_params,
    outcome_document,
    run_operation,
    run_undo,
    visible_change_sets,
)
from grids.admin.service import AdminError, Outcome
from grids.audit import ChangeConflict, UndoRefused
from grids.core.limits import DOCTOR_GRID_CAPACITY
from grids.core.spreadsheet_cells import csv_row
from grids.core.vocabulary import CONDITION_CODES, MIXED, DoctorStatus
from grids.models import Doctor, Facility, Grid
from grids.storage.session import request_session
from grids.web.language import page_language
from i18n import LANGUAGES, MessageNotFound, catalogue, translate

admin_pages = Blueprint("admin_pages", __name__, url_prefix="/admin", template_folder="templates")
EDITORS = ("admin", "township")


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    language = page_language()
    texts = catalogue(language)
    tz = current_settings().tz

    def label(prefix: str, code: str | None) -> str:
        """A code shown to people (`mixed`, `active`, `move-grid`), translated."""
        if not code:
            return ""
        try:
            return texts.text(f"{prefix}{code}")
        except MessageNotFound:
            return code

    def actor(name: str | None) -> str:
        """`user:admin` as "用户 admin", `cli:admin.move-grid` as "命令行"."""
        kind, _, who = (name or "").partition(":")
        try:
            return texts.text(f"admin.actor.{kind}", name=who)
        except MessageNotFound:
            return name or ""

    def local(moment: str | None) -> str:
        """An ISO time of the change log, in the county's time zone."""
        if not moment:
            return ""
        return datetime.fromisoformat(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M")

    page = render_template(
        template,
        t=texts.text,
        label=label,
        actor=actor,
        local=local,
        language=language,
        languages=LANGUAGES,
        conditions=(*CONDITION_CODES, MIXED),
        **context,
    )
    return page, status


def _scope() -> set[int] | None:
    return scope_for(request_session()).facility_ids()


def _flag(name: str) -> bool:
    return request.values.get(name) in ("1", "on", "true", "y")


@admin_pages.get("/grids")
@require_role(*EDITORS)
def grids() -> Any:
    args = request.args
    capacity = args.get("capacity") or None
    wanted = browsing.GridFilter(
        township=args.get("township") or None,
        clinic=args.get("clinic") or None,
        condition=args.get("condition") or None,
        doctor=args.get("doctor") or None,
        needs_coordinator=_flag("needs_coordinator"),
        no_doctor=_flag("no_doctor"),
        capacity=capacity if capacity in browsing.CAPACITY_FILTERS else None,
        page=args.get("page", 1, type=int) or 1,
    )
    found = browsing.browse(request_session(), wanted, _scope())
    return _render(
        "admin/grids.html",
        found=found,
        wanted=wanted,
        capacities=browsing.CAPACITY_FILTERS,
        query={k: v for k, v in args.items() if k != "page"},
    )


@admin_pages.get("/grids/<code>")
@require_role(*EDITORS)
def grid(code: str) -> Any:
    session = request_session()
    found = grid_or_403(session, code)
    admin = current().role == "admin"
    members = browsing.members(session, found)
    for member in members:
        member.phone = member.phone if admin else mask_phone(member.phone)
    doctor = session.get(Doctor, found.doctor_id) if found.doctor_id else None
    clinic = session.get(Facility, found.facility_id)
    return _render(
        "admin/grid.html",
        grid=found,
        doctor=doctor,
        clinic=clinic,
        members=members,
        past=browsing.past_members(session, found),
        history=browsing.history(session, found),
        statuses=STATUSES,
        is_admin=admin,
    )


@admin_pages.get("/grids/<code>/members.csv")
@require_role("admin")
def export_members(code: str) -> Response:
    """Personal data: admins only, and every export is in the audit log."""
    session = request_session()
    found = grid_or_403(session, code)
    rows = browsing.members(session, found)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seat", "code", "name", "phone", "status", "coordinator"])
    for row in rows:
        writer.writerow(
            csv_row([row.seat, row.code, row.name, row.phone, row.status, row.coordinator])
        )
    audit.record(
        session,
        actor=audit.actor("user", current().username),
        action="admin.export_members",
        entity_type="grid",
        entity_code=found.code,
        after={"rows": len(rows)},
        at=now(),
    )
    session.commit()
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={found.code}-members.csv"},
    )


@admin_pages.get("/doctors/<code>/retire")
@require_role(*EDITORS)
def retire(code: str) -> Any:
    session = request_session()
    doctor = doctor_or_403(session, code)
    suggestion = retirement_suggestion(session, doctor)
    return _render(
        "admin/retire.html",
        doctor=doctor,
        suggestion=suggestion,
        candidates=_candidates(doctor),
    )


def _candidates(doctor: Doctor) -> list[dict[str, Any]]:
    """Active doctors of the doctor's township (and any in scope), for the editable
    suggestion, each with the grids he holds: a full doctor shows as full."""
    session = request_session()
    township = session.scalar(select(Facility.parent_id).where(Facility.id == doctor.facility_id))
    clinics = select(Facility.id).where(Facility.parent_id == township)
    query = select(Doctor).where(
        Doctor.id != doctor.id,
        Doctor.status == DoctorStatus.ACTIVE,
        Doctor.facility_id.in_(clinics),
    )
    allowed = _scope()
    if allowed is not None:
        query = query.where(Doctor.facility_id.in_(allowed))
    doctors = list(session.scalars(query.order_by(Doctor.code)))
    loads = dict(
        session.execute(
            select(Grid.doctor_id, func.count())
            .where(Grid.doctor_id.in_([d.id for d in doctors]), Grid.closed_at.is_(None))
            .group_by(Grid.doctor_id)
        )
        .tuples()
        .all()
    )
    return [
        {"code": d.code, "name": d.name, "load": loads.get(d.id, 0), "cap": DOCTOR_GRID_CAPACITY}
        for d in doctors
    ]


def _params(operation: str) -> dict[str, Any]:
    form = request.form
    params: dict[str, Any] = {
        key: form.get(key, "").strip()
        for key in ("grid", "doctor", "patient", "status", "died_on", "until")
        if form.get(key, "").strip()
    }
    if operation == "merge":
        params["grids"] = [form.get("grid", "").strip(), form.get("other", "").strip()]
    if operation == "retire-doctor":
        params["suspend"] = _flag("suspend")
        params["to"] = {
            key[3:]: (value or None) for key, value in form.items() if key.startswith("to.")
        }
    return params


@admin_pages.post("/operations/<operation>")
@require_role(*EDITORS)
def operate(operation: str) -> Any:
    if operation not in OPERATIONS:
        abort(404)
    session = request_session()
    form = request.form
    apply = form.get("step") == "apply"
    params = _params(operation)
    versions = {
        key[2:]: int(v) for key, v in form.items() if key.startswith("v.") and v.isdecimal()
    }
    try:
        outcome = run_operation(
            session,
            operation,
            params,
            who=actor_for(session, current()),
            now=now(),
            reason=form.get("reason"),
            override=_flag("override"),
            dry_run=not apply,
            expected_versions=versions if apply else None,
        )
    except (NotFound, AdminError, ChangeConflict, KeyError, ValueError) as error:
        session.rollback()
        return _error_page(error)
    if outcome.applied:
        session.commit()
    return _outcome_page(outcome, operation, params)


def _error_page(error: Exception) -> tuple[str, int]:
    language = page_language()
    status = 400
    if isinstance(error, ChangeConflict):
        message = translate("admin.error.conflict", language, **conflict_params(error))
        status = 409
    elif isinstance(error, NotFound | AdminError | UndoRefused):
        message = translate(error.key, language, **error.params)
        status = (
            404 if isinstance(error, NotFound) else 409 if isinstance(error, UndoRefused) else 400
        )
        if isinstance(error, AdminError) and error.key == "admin.error.out_of_scope":
            status = 403
    else:
        message = translate("admin.web.bad_form", language)
    return _render("admin/message.html", status=status, message=message)


def _outcome_page(
    outcome: Outcome, operation: str, params: dict[str, Any], undo_of: int | None = None
) -> tuple[str, int]:
    document = outcome_document(outcome, page_language())
    return _render(
        "admin/outcome.html",
        status=422 if outcome.blocking and not outcome.dry_run else 200,
        outcome=document,
        operation=operation,
        form=request.form,
        undo_of=undo_of,
    )


@admin_pages.get("/changes")
@require_role(*EDITORS)
def changes() -> Any:
    session = request_session()
    found = visible_change_sets(session, audit.change_sets(session, limit=100), _scope())
    items = [change_set_document(c) for c in found]
    return _render("admin/changes.html", items=items)


@admin_pages.post("/changes/<change_set_id>/undo")
@require_role(*EDITORS)
def undo_change(change_set_id: str) -> Any:
    """A preview first, like every operation (what changes back, every SMS); the
    preview's own button applies it."""
    session = request_session()
    if not (change_set_id.isascii() and change_set_id.isdigit()):
        abort(404)
    apply = request.form.get("step") == "apply"
    try:
        outcome = run_undo(
            session,
            int(change_set_id),
            who=actor_for(session, current()),
            now=now(),
            reason=request.form.get("reason"),
            dry_run=not apply,
        )
    except (AdminError, UndoRefused) as error:
        session.rollback()
        return _error_page(error)
    if apply:
        session.commit()
    else:
        session.rollback()
    return _outcome_page(outcome, "undo", {}, undo_of=int(change_set_id))


@admin_pages.get("/")
@require_role(*EDITORS)
def index() -> Any:
    return redirect(url_for("admin_pages.grids"))
