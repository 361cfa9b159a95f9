"""The doctor's Monday page, grid, member, township and county pages, and exports.

Views stay thin: check role and scope, load through `boards`, render. They only read,
through `read_session()` (the replica when there is one), except the member page
shown right after a follow-up was recorded, which must show it, and the township and
county pages and exports, which store a rollup snapshot through `request_session()`
when the week has none yet.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from config.clock import now
from config.logging import mask_phone
from config.runtime import current_settings
from grids.accounts.access import (
    any_role,
    current,
    doctor_or_403,
    facility_or_403,
    grid_or_403,
    patient_or_403,
    require_role,
    scope_for,
)
from grids.escalation.board import followups_due
from grids.followups.due import due_items, township_grid_ids, township_overdue
from grids.followups.rules import quarter_of
from grids.followups.service import last_followup
from grids.models import Doctor, Facility, Reading
from grids.rollups import boards, exports
from grids.rollups.charts import Series, trend_chart
from grids.rollups.indicators import LEVELS, rate
from grids.rollups.member_record import member_record
from grids.rollups.needs import grid_needs
from grids.rollups.period import WeekPeriod, current_week, last_closed_week
from grids.rollups.places import grid_places
from grids.rollups.reading_chart import Line, reading_chart
from grids.rollups.service import RollupError, doctor_timeout_of, parse_period
from grids.storage.session import read_session, request_session
from grids.web.language import page_language
from i18n import LANGUAGES, catalogue, translate

rollup_pages = Blueprint("rollups", __name__)

OVERDUE_SHOWN = 50
"""Members 30+ days past due listed on a township's page (the most overdue; all are in
`followups due --township` and the quarter's export)."""

SORTABLE = (
    "members",
    "grids_reported",
    "red",
    "yellow",
    "members_no_news_2w",
    "bp_control",
    "glucose_control",
    "attendance",
    "urgent",
    "deaths",
)


def _period() -> WeekPeriod:
    try:
        return parse_period(request.args.get("week"), now(), current_settings().tz)
    except RollupError as refused:
        abort(400, description=translate(refused.key, page_language(), **refused.params))


def _figures(period: WeekPeriod, keys: list[tuple[str, str]]) -> boards.WeekFigures:
    return boards.week_figures(
        read_session(),
        period,
        now(),
        keys,
        doctor_timeout_s=doctor_timeout_of(current_settings()),
    )


def _stored_figures(period: WeekPeriod, keys: list[tuple[str, str]]) -> boards.WeekFigures:
    """Township and county figures, read from the stored snapshots through the read
    session; what is missing is computed and stored on the primary, committed at once
    so that the next load reads it."""
    primary = request_session()
    figures = boards.stored_figures(
        read_session(),
        period,
        now(),
        keys,
        primary=primary,
        doctor_timeout_s=doctor_timeout_of(current_settings()),
    )
    primary.commit()
    return figures


def as_of_text(figures: boards.WeekFigures) -> str:
    """数据截至 HH:MM: the snapshot's time, with its date unless it is today's."""
    tz = figures.period.tz
    local = figures.as_of.astimezone(tz)
    if local.date() == now().astimezone(tz).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def _render(template: str, **context: Any) -> str:
    language = page_language()
    return render_template(
        template,
        t=catalogue(language).text,
        language=language,
        languages=LANGUAGES,
        rate=rate,
        **context,
    )


def _chart(level: str, code: str, period: WeekPeriod, *, stored: bool = False) -> str:
    language = page_language()
    t = catalogue(language).text
    moment = now()
    # Looking at the week that just ended, the chart runs on into the current one
    # (drawn as provisional).
    last = period.week
    if period.week == last_closed_week(moment, period.tz):
        last = current_week(moment, period.tz)
    points = boards.trend_points(
        read_session(),
        level,
        code,
        last,
        moment,
        period.tz,
        doctor_timeout_s=doctor_timeout_of(current_settings()),
        primary=request_session() if stored else None,
    )
    if stored:
        request_session().commit()
    provisional = bool(points) and not WeekPeriod(points[-1].week, period.tz).closed_at(now())
    return trend_chart(
        t("web.chart.title"),
        [point.week[-3:] for point in points],
        [
            Series(t("web.chart.bp_control"), "#1f6fb2", [p.bp_control for p in points]),
            Series(t("web.chart.coverage"), "#2e9e4a", [p.coverage for p in points]),
            Series(t("web.chart.attendance"), "#b36b00", [p.attendance for p in points]),
        ],
        provisional_last=provisional,
        provisional_label=t("web.chart.provisional"),
    )


@rollup_pages.get("/home")
@any_role
def landing() -> Any:
    """Each role's first page: a doctor's Monday page, a township's, the county's."""
    user = current()
    session = read_session()
    if user.role == "doctor" and user.doctor_id:
        doctor = session.get(Doctor, user.doctor_id)
        if doctor is not None:
            return redirect(url_for("rollups.doctor_page", code=doctor.code))
    if user.role == "township" and user.facility_id:
        facility = session.get(Facility, user.facility_id)
        if facility is not None:
            return redirect(url_for("rollups.area_page", level="township", code=facility.code))
    counties = sorted({place.county_code for place in grid_places(session)})
    if counties:
        return redirect(url_for("rollups.area_page", level="county", code=counties[0]))
    return redirect(url_for("web.home"))


@rollup_pages.get("/doctors/<code>")
@any_role
def doctor_page(code: str) -> str:
    session = read_session()
    doctor = doctor_or_403(session, code)
    period = _period()
    lines = boards.doctor_grids(session, doctor, period.week)
    keys = [("doctor", doctor.code)] + [("grid", line.grid.code) for line in lines]
    figures = _figures(period, keys)
    grid_ids = [line.grid.id for line in lines]
    cases = boards.open_cases(session, grid_ids, now())
    open_by_grid: dict[str, int] = {}
    for case in cases:
        open_by_grid[case.grid_code] = open_by_grid.get(case.grid_code, 0) + 1
    grid_values = {line.grid.code: figures.of("grid", line.grid.code) for line in lines}
    needs = grid_needs([line.grid.code for line in lines], grid_values, open_by_grid)
    line_of = {line.grid.code: line for line in lines}
    members = boards.member_rows(session, period, grid_ids)
    return _render(
        "rollups/doctor.html",
        doctor=doctor,
        period=period,
        figures=figures,
        values=figures.of("doctor", doctor.code),
        cases=cases,
        followups=followups_due(session, grid_ids, now().astimezone(period.tz).date()),
        due_followups=due_items(session, grid_ids, now(), period.tz),
        sees_phones=scope_for(session).sees_phones(),
        quarter=quarter_of(now().astimezone(period.tz).date()),
        red_members=[m for m in members if m.colour == "red"],
        silent_members=[m for m in members if m.silent],
        unreported=[need for need in needs if not need.reported and need.members],
        ordered=[(need, line_of[need.code], grid_values[need.code]) for need in needs],
        chart=_chart("doctor", doctor.code, period),
        number_of={line.grid.code: line.number for line in lines},
    )


@rollup_pages.get("/grids/<code>")
@any_role
def grid_page(code: str) -> str:
    session = read_session()
    grid = grid_or_403(session, code)
    period = _period()
    figures = _figures(period, [("grid", grid.code)])
    members = boards.member_rows(session, period, [grid.id])
    return _render(
        "rollups/grid.html",
        grid=grid,
        line=boards.grid_line(session, grid, period.week),
        period=period,
        figures=figures,
        values=figures.of("grid", grid.code),
        members=members,
        messages=boards.grid_messages(session, period, grid, members),
        cases=boards.open_cases(session, [grid.id], now()),
        chart=_chart("grid", grid.code, period),
    )


@rollup_pages.get("/members/<code>")
@any_role
def member_page(code: str) -> str:
    """The member's record: why he is flagged, readings over 12 months, reports and
    events, cases with outcomes, attendance, and who looks after him."""
    # Just after recording a follow-up the page must show it: read the primary.
    session = request_session() if request.args.get("recorded") else read_session()
    patient = patient_or_403(session, code)
    settings = current_settings()
    record = member_record(
        session, patient, now(), WeekPeriod(current_week(now(), settings.tz), settings.tz)
    )
    shown = patient.phone if scope_for(session).sees_phones() else None
    t = catalogue(page_language()).text
    tz = settings.tz

    def day(reading: Reading) -> str:
        return reading.reported_at.astimezone(tz).strftime("%m-%d")

    bp_chart = glucose_chart = None
    if record.bp:
        bp_chart = reading_chart(
            t("web.member.bp_chart"),
            [day(r) for r in record.bp],
            [
                Line(t("web.member.systolic"), "#b3261e", [r.systolic for r in record.bp]),
                Line(t("web.member.diastolic"), "#1f6fb2", [r.diastolic for r in record.bp]),
            ],
            low=50,
            high=220,
            guides=(180, 140, 110, 90),
        )
    if record.glucose:
        glucose_chart = reading_chart(
            t("web.member.glucose_chart"),
            [day(r) for r in record.glucose],
            [
                Line(
                    t("web.col.glucose"),
                    "#b36b00",
                    [
                        float(r.glucose_mmol) if r.glucose_mmol is not None else None
                        for r in record.glucose
                    ],
                )
            ],
            low=0,
            high=25,
            guides=(16.7, 7.0, 3.9),
        )
    return _render(
        "rollups/member.html",
        patient=patient,
        record=record,
        phone=shown,
        masked=None if shown else (mask_phone(patient.phone) if patient.phone else None),
        bp_chart=bp_chart,
        glucose_chart=glucose_chart,
        last_followup=last_followup(session, patient.id),
        recorded=request.args.get("recorded"),
        local=lambda moment: moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "",
    )


@rollup_pages.get("/areas/<level>/<code>")
@require_role("admin", "township")
def area_page(level: str, code: str) -> str:
    if level not in ("township", "county"):
        abort(404)
    session = read_session()
    facility = facility_or_403(session, code)
    period = _period()
    rows = boards.children(session, level, code)
    keys = [(level, code)] + [(child_level, child) for child_level, child, _ in rows]
    figures = _stored_figures(period, keys)
    table = [
        (child_level, child, name, figures.of(child_level, child))
        for child_level, child, name in rows
    ]
    sort = request.args.get("sort", "red")
    if sort in SORTABLE:
        table.sort(key=lambda row: _sort_value(row[3], sort), reverse=True)
    overdue_total, overdue = (
        township_overdue(
            session, township_grid_ids(session, facility), now(), period.tz, OVERDUE_SHOWN
        )
        if level == "township"
        else (0, [])
    )
    return _render(
        "rollups/area.html",
        level=level,
        facility=facility,
        period=period,
        figures=figures,
        values=figures.of(level, code),
        table=table,
        sort=sort,
        sortable=SORTABLE,
        chart=_chart(level, code, period, stored=True),
        as_of_text=as_of_text(figures),
        refresh_minutes=current_settings().rollups_refresh_minutes,
        overdue=overdue,
        overdue_total=overdue_total,
        quarter=quarter_of(now().astimezone(period.tz).date()),
    )


def _sort_value(values: dict[str, Any], column: str) -> float:
    if column == "bp_control":
        return rate(values.get("bp_controlled"), values.get("htn_denominator")) or -1.0
    if column == "glucose_control":
        return rate(values.get("glucose_controlled"), values.get("dm_denominator")) or -1.0
    return float(values.get(column) or 0)


@rollup_pages.get("/exports/<level>/<code>.<fmt>")
@any_role
def export(level: str, code: str, fmt: str) -> Response:
    """The page's table (the subject and one level down) as CSV or XLSX."""
    if level not in LEVELS or fmt not in ("csv", "xlsx"):
        abort(404)
    session = read_session()
    if level == "grid":
        name = grid_or_403(session, code).code
    elif level == "doctor":
        name = doctor_or_403(session, code).name
    else:
        name = facility_or_403(session, code).name
    period = _period()
    rows = boards.children(session, level, code)
    keys = [(level, code)] + [(child_level, child) for child_level, child, _ in rows]
    # Township and county tables come from the stored snapshots, as their pages do.
    stored = level in ("township", "county")
    figures = _stored_figures(period, keys) if stored else _figures(period, keys)
    language = request.args.get("lang") or page_language()
    header = exports.headers(language)
    table = exports.rows(level, period.week, [(code, name, figures.of(level, code))])
    for child_level, child, child_name in rows:
        table += exports.rows(
            child_level, period.week, [(child, child_name, figures.of(child_level, child))]
        )
    filename = f"huzhu-{level}-{code}-{period.week}.{fmt}"
    if fmt == "csv":
        body, mimetype = exports.to_csv(header, table), "text/csv"
    else:
        body = exports.to_xlsx(header, table, period.week)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
