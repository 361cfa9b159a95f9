"""The SQL behind the national follow-up indicators (docs/indicators.md): per grid, the
follow-ups done in the week, members overdue at its end, standard management over the
12 months to its end, and control at the latest follow-up of those 12 months."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Patient
from grids.rollups.indicators import (
    BP_CONTROLLED_BELOW,
    DIABETES,
    GLUCOSE_CONTROLLED_BELOW,
    HYPERTENSION,
)
from grids.rollups.period import WeekPeriod


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _has_condition(code: str) -> Any:
    # `conditions` is a JSON list of codes; its text form holds each code in quotes.
    return cast(Patient.conditions, String).like(f'%"{code}"%')


def _one(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


FOLLOWUP_MEMBER_COUNTS = (
    "followups_overdue",
    "standard_managed",
    "standard_managed_denominator",
    "followup_bp_controlled",
    "followup_glucose_controlled",
)
"""Per-member 0/1 columns of the members' statement (`grids.rollups.queries.member_status`),
summed per grid beside the other member counts."""


def followups_done(
    session: Session, period: WeekPeriod, grid_ids: Collection[int] | None
) -> dict[int, dict[str, int]]:
    """{grid_id: {"followups_done": n}}: the follow-ups recorded for the week's days."""
    done = (
        select(Followup.grid_id, func.count().label("followups_done"))
        .where(
            Followup.visit_date >= period.start.astimezone(period.tz).date(),
            Followup.visit_date <= period.last_day,
            Followup.grid_id.is_not(None),
        )
        .group_by(Followup.grid_id)
    )
    if grid_ids is not None:
        done = done.where(Followup.grid_id.in_(list(grid_ids)))
    return {grid_id: {"followups_done": int(number)} for grid_id, number in session.execute(done)}


Part = Callable[[Any, Any, str], Any]
"""How the members' statement makes a part of itself: (statement, its patient id
column, name) to the FROM element it joins: for a few grids, scoped to their
members."""


def _latest_of(*columns: Any, where: Any, name: str, part: Part) -> Any:
    """Each member's latest follow-up (by visit date) among those `where` selects."""
    ranked = part(
        select(
            Followup.patient_id,
            *columns,
            func.row_number()
            .over(
                partition_by=Followup.patient_id,
                order_by=(Followup.visit_date.desc(), Followup.id.desc()),
            )
            .label("n"),
        ).where(where),
        Followup.patient_id,
        f"{name}_ranked",
    )
    return select(ranked).where(ranked.c.n == 1).subquery(name)


def followup_member_columns(
    period: WeekPeriod, patient_id: Any, first_joined: Any, part: Part
) -> tuple[list[tuple[Any, Any]], list[Any]]:
    """What the members' statement outer-joins (subquery, ON clause) and the 0/1 columns
    it selects for the follow-up indicators, given its patient id and first-joined
    columns (the members under care at the week's end are its rows). `part` scopes
    each part to the statement's members (a page reads a few grids' follow-ups, not
    the province's)."""
    last_day = period.last_day
    first_day, _ = rules.year_window(last_day)
    managed_from = local_midnight(first_day + timedelta(days=1), period.tz)
    routine_before = local_midnight(rules.add_months(last_day, -rules.ROUTINE_MONTHS), period.tz)
    seen = Followup.visit_date <= last_day
    in_year = and_(Followup.visit_date >= first_day, seen)
    latest = _latest_of(Followup.next_due, where=seen, name="fu_latest", part=part)
    face = part(
        select(Followup.patient_id, func.count().label("visits"))
        .where(in_year, Followup.method.in_([str(m) for m in rules.FACE_TO_FACE]))
        .group_by(Followup.patient_id),
        Followup.patient_id,
        "fu_face",
    )
    bp = _latest_of(
        Followup.systolic,
        Followup.diastolic,
        where=and_(in_year, Followup.systolic.is_not(None)),
        name="fu_bp",
        part=part,
    )
    sugar = _latest_of(
        Followup.glucose_mmol,
        where=and_(in_year, Followup.glucose_mmol.is_not(None)),
        name="fu_sugar",
        part=part,
    )
    managed = first_joined < managed_from

    def one(condition: Any) -> Any:
        return case((condition, 1), else_=0)

    columns = [
        one(
            or_(
                latest.c.next_due < last_day,
                and_(latest.c.next_due.is_(None), first_joined < routine_before),
            )
        ).label("followups_overdue"),
        one(and_(managed, func.coalesce(face.c.visits, 0) >= rules.STANDARD_A_YEAR)).label(
            "standard_managed"
        ),
        one(managed).label("standard_managed_denominator"),
        one(
            and_(
                managed,
                _has_condition(HYPERTENSION),
                bp.c.systolic < BP_CONTROLLED_BELOW[0],
                bp.c.diastolic < BP_CONTROLLED_BELOW[1],
            )
        ).label("followup_bp_controlled"),
        one(
            and_(managed, _has_condition(DIABETES), sugar.c.glucose_mmol < GLUCOSE_CONTROLLED_BELOW)
        ).label("followup_glucose_controlled"),
    ]
    joins = [
        (latest, latest.c.patient_id == patient_id),
        (face, face.c.patient_id == patient_id),
        (bp, bp.c.patient_id == patient_id),
        (sugar, sugar.c.patient_id == patient_id),
    ]
    return joins, columns
