"""The phone form for one follow-up, opened from the member page or the Monday list:
large fields, the last values shown, only date and method required, saved in one tap."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from config.clock import now
from config.runtime import current_settings
from grids.accounts.access import (
    current,
    doctor_or_403,
    facility_or_403,
    patient_or_403,
    require_role,
)
from grids.channel import channel
from grids.followups import export, rules
from grids.followups.service import (
    FollowupInput,
    FollowupRefused,
    NotAllowed,
    Problem,
    last_followup,
    record_followup,
)
from grids.storage.session import read_session, request_session
from grids.web.language import page_language
from i18n import LANGUAGES, catalogue

followup_pages = Blueprint("followup_pages", __name__, template_folder="templates")
INTEGERS = ("heart_rate", "cigarettes_per_day", "alcohol_liang_per_day")
DECIMALS = ("weight_kg", "height_cm", "glucose_mmol", "hba1c")
TEXTS = ("symptoms_text", "exercise", "adverse_text", "referral_reason", "referral_to")
CHOICES = ("method", "classification", "adherence", "hypoglycaemia", "salt")


def _render(status: int = 200, **context: Any) -> tuple[str, int]:
    language = page_language()
    page = render_template(
        "followups/new.html",
        t=catalogue(language).text,
        language=language,
        languages=LANGUAGES,
        methods=[str(m) for m in rules.Method],
        classifications=[str(c) for c in rules.Classification],
        adherences=[str(a) for a in rules.Adherence],
        hypoglycaemias=[str(h) for h in rules.Hypoglycaemia],
        salts=[str(s) for s in rules.Salt],
        symptoms=rules.SYMPTOMS,
        **context,
    )
    return page, status


def _read(form: MultiDict[str, str], code: str) -> tuple[FollowupInput, list[Problem]]:
    """The form as a follow-up, and the problems of fields that are not even numbers or
    dates (left out of it, to be reported with the others)."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}

    def text(name: str) -> str | None:
        return (form.get(name) or "").strip() or None

    try:
        visit = date.fromisoformat(text("date") or "")
    except ValueError:
        problems.append(Problem("date", "followups.error.date", {"value": text("date") or ""}))
        visit = date.min
    bp = text("bp")
    if bp:
        try:
            values["systolic"], values["diastolic"] = rules.parse_bp(bp)
        except ValueError:
            problems.append(Problem("bp", "followups.error.bp", {"value": bp}))
    for name in INTEGERS:
        raw = text(name)
        if raw is None:
            continue
        if raw.isdecimal():
            values[name] = int(raw)
        else:
            problems.append(Problem(name, "followups.error.number", {"value": raw}))
    for name in DECIMALS:
        raw = text(name)
        if raw is None:
            continue
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            values[name] = number
        else:
            problems.append(Problem(name, "followups.error.number", {"value": raw}))
    next_raw = text("next_due")
    if next_raw:
        try:
            values["next_due"] = date.fromisoformat(next_raw)
        except ValueError:
            problems.append(Problem("next_due", "followups.error.date", {"value": next_raw}))
    for name in TEXTS:
        values[name] = text(name)
    for name in CHOICES:
        values[name] = text(name)
    values["symptoms"] = form.getlist("symptoms")
    values["adverse_reaction"] = form.get("adverse_reaction") == "yes"
    medicine = text("medicine")
    if medicine:
        values["medicines"] = [{"name": medicine, "dose": text("dose") or ""}]
    method = values.pop("method") or ""
    return FollowupInput(member_code=code, visit_date=visit, method=method, **values), problems


@followup_pages.route("/members/<code>/followups/new", methods=["GET", "POST"])
@require_role("admin", "township", "doctor")
def new(code: str) -> Any:
    session = request_session()
    patient = patient_or_403(session, code)
    settings = current_settings()
    moment = now()
    today = moment.astimezone(settings.tz).date()
    context: dict[str, Any] = {
        "patient": patient,
        "last": last_followup(session, patient.id),
        "today": today.isoformat(),
        "form": request.form,
        "errors": {},
    }
    if request.method == "GET":
        return _render(**context)
    data, unread = _read(request.form, code)
    t = catalogue(page_language()).text
    try:
        recorded = record_followup(
            session, data, user=current(), now=moment, settings=settings, unread=unread
        )
    except FollowupRefused as error:
        problems = error.problems
    except NotAllowed as error:
        problems = [Problem("member", error.key, error.params)]
    else:
        channel()(session, recorded.notices, moment)
        session.commit()
        return redirect(url_for("rollups.member_page", code=code, recorded=recorded.followup.id))
    context["errors"] = {p.field: t(p.key, **p.params) for p in problems}
    return _render(status=400, **context)


@followup_pages.get("/exports/followups/<level>/<code>/<quarter>.<fmt>")
@require_role("admin", "township", "doctor")
def quarter_export(level: str, code: str, quarter: str, fmt: str) -> Response:
    """A quarter's follow-ups of a doctor, township or county in the national layout."""
    if level not in ("doctor", "township", "county") or fmt not in ("csv", "xlsx"):
        abort(404)
    try:
        start, end = rules.quarter_bounds(quarter)
    except ValueError:
        abort(404)
    session = read_session()
    doctor = doctor_or_403(session, code) if level == "doctor" else None
    facility = facility_or_403(session, code) if level != "doctor" else None
    township = facility if level == "township" else None
    if level == "county" and current().role != "admin":
        abort(403)
    table = export.quarter_rows(session, start, end, doctor=doctor, township=township)
    if fmt == "csv":
        body, mimetype = export.to_csv(table), "text/csv"
    else:
        body = export.to_xlsx(table, quarter)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"followups-{level}-{code}-{quarter}.{fmt}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
