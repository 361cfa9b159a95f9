"""`/escalations` and `/escalations/<code>`: the cases an account may see, one case's
timeline, and closing it with its outcome. Views stay thin: scope, load, render."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for

from config.clock import now
from config.logging import mask_phone
from config.runtime import current_settings
from grids.accounts.access import any_role, scope_for
from grids.escalation.acknowledgement import normalise_ack_code
from grids.escalation.board import case_lines, line_of, timeline
from grids.escalation.case import CaseOutcome
from grids.escalation.outcomes import OutcomeRefused
from grids.models import Grid, Patient
from grids.storage.session import request_session
from grids.web.case_actions import CaseHidden, close_as, visible_case
from grids.web.language import page_language
from i18n import LANGUAGES, catalogue

case_pages = Blueprint("cases", __name__)


def _render(template: str, **context: Any) -> str:
    language = page_language()
    tz = current_settings().tz

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    return render_template(
        template,
        t=catalogue(language).text,
        language=language,
        languages=LANGUAGES,
        local=local,
        **context,
    )


def age_text(seconds: float) -> str:
    t = catalogue(page_language()).text
    minutes = int(seconds // 60)
    if minutes < 60:
        return t("web.case.age_minutes", count=minutes)
    if minutes < 48 * 60:
        return t("web.case.age_hours", count=minutes // 60)
    return t("web.case.age_days", count=minutes // (24 * 60))


@case_pages.get("/escalations")
@any_role
def case_list() -> str:
    session = request_session()
    scope = scope_for(session)
    moment = now()
    current, closed = case_lines(session, scope.can_see_grid, moment)
    return _render(
        "escalations/list.html",
        current=current,
        closed=closed,
        age=lambda line: age_text((moment - line.opened_at).total_seconds()),
    )


@case_pages.get("/escalations/<code>")
@any_role
def case_page(code: str) -> str:
    session = request_session()
    scope = scope_for(session)
    wanted = normalise_ack_code(code)
    try:
        case = visible_case(session, scope, wanted)
    except CaseHidden as hidden:
        abort(403 if hidden.forbidden else 404)
    grid = session.get(Grid, case.grid_id) if case.grid_id else None
    member = session.get(Patient, case.patient_id) if case.patient_id else None

    def show(phone: str) -> str:
        return phone if scope.sees_phones() else mask_phone(phone)

    return _render(
        "escalations/case.html",
        case=case,
        line=line_of(case, grid.code if grid else None),
        member_code=member.code if member else None,
        phone_links=scope.sees_phones(),
        events=timeline(session, case, show),
        outcomes=[str(outcome) for outcome in CaseOutcome],
        error=request.args.get("error"),
    )


@case_pages.post("/escalations/<code>/close")
@any_role
def close_case_page(code: str) -> Any:
    session = request_session()
    scope = scope_for(session)
    wanted = normalise_ack_code(code)
    outcome = request.form.get("outcome", "")
    reason = request.form.get("reason", "").strip()
    if outcome not in {str(item) for item in CaseOutcome} or not reason:
        return redirect(url_for("cases.case_page", code=wanted, error="missing"))
    try:
        close_as(
            session,
            scope,
            wanted,
            outcome=outcome,
            reason=reason[:2000],
            via="web",
            now=now(),
            tz=current_settings().tz,
        )
    except CaseHidden as hidden:
        abort(403 if hidden.forbidden else 404)
    except OutcomeRefused as refused:
        return redirect(url_for("cases.case_page", code=wanted, error=refused.reason))
    session.commit()
    return redirect(url_for("cases.case_page", code=wanted))
