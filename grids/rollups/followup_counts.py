"""The SQL behind the national follow-up indicators (docs/indicators.md): per grid, the
follow-ups done in the week, members overdue at its end, standard management over the
12 months to its end, and control at the latest follow-up of those 12 months."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Membership, Patient
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


def followup_counts(
    session: Session, period: WeekPeriod, grid_ids: Collection[int] | None
) -> dict[int, dict[str, int]]:
    """{grid_id: {field: count}} of the six follow-up fields (grids with none left out)."""
    last_day = period.last_day
    first_day, _ = rules.year_window(last_day)
    managed_from = local_midnight(first_day + timedelta(days=1), period.tz)
    routine_before = local_midnight(rules.add_months(last_day, -rules.ROUTINE_MONTHS), period.tz)
    counts: dict[int, dict[str, int]] = {}

    done = (
        select(Followup.grid_id, func.count().label("followups_done"))
        .where(
            Followup.visit_date >= period.start.astimezone(period.tz).date(),
            Followup.visit_date <= last_day,
            Followup.grid_id.is_not(None),
        )
        .group_by(Followup.grid_id)
    )
    if grid_ids is not None:
        done = done.where(Followup.grid_id.in_(list(grid_ids)))
    for grid_id, number in session.execute(done):
        counts.setdefault(grid_id, {})["followups_done"] = int(number)

    seen = Followup.visit_date <= last_day
    latest = (
        select(
            Followup.patient_id,
            Followup.next_due,
            func.row_number()
            .over(
                partition_by=Followup.patient_id,
                order_by=(Followup.visit_date.desc(), Followup.id.desc()),
            )
            .label("n"),
        )
        .where(seen)
        .subquery("latest")
    )
    in_year = and_(Followup.visit_date >= first_day, seen)
    face = (
        select(Followup.patient_id, func.count().label("visits"))
        .where(in_year, Followup.method.in_([str(m) for m in rules.FACE_TO_FACE]))
        .group_by(Followup.patient_id)
        .subquery("face")
    )
    bp = (
        select(
            Followup.patient_id,
            Followup.systolic,
            Followup.diastolic,
            func.row_number()
            .over(
                partition_by=Followup.patient_id,
                order_by=(Followup.visit_date.desc(), Followup.id.desc()),
            )
            .label("n"),
        )
        .where(in_year, Followup.systolic.is_not(None))
        .subquery("bp")
    )
    sugar = (
        select(
            Followup.patient_id,
            Followup.glucose_mmol,
            func.row_number()
            .over(
                partition_by=Followup.patient_id,
                order_by=(Followup.visit_date.desc(), Followup.id.desc()),
            )
            .label("n"),
        )
        .where(in_year, Followup.glucose_mmol.is_not(None))
        .subquery("sugar")
    )
    first_joined = (
        select(Membership.patient_id, func.min(Membership.joined_at).label("joined_at"))
        .group_by(Membership.patient_id)
        .subquery("first_joined")
    )
    managed = first_joined.c.joined_at < managed_from
    htn = _has_condition(HYPERTENSION)
    dm = _has_condition(DIABETES)
    members = (
        select(
            Membership.grid_id,
            _one(
                or_(
                    latest.c.next_due < last_day,
                    and_(latest.c.next_due.is_(None), first_joined.c.joined_at < routine_before),
                )
            ).label("followups_overdue"),
            _one(and_(managed, func.coalesce(face.c.visits, 0) >= rules.STANDARD_A_YEAR)).label(
                "standard_managed"
            ),
            _one(managed).label("standard_managed_denominator"),
            _one(
                and_(
                    managed,
                    htn,
                    bp.c.systolic < BP_CONTROLLED_BELOW[0],
                    bp.c.diastolic < BP_CONTROLLED_BELOW[1],
                )
            ).label("followup_bp_controlled"),
            _one(and_(managed, dm, sugar.c.glucose_mmol < GLUCOSE_CONTROLLED_BELOW)).label(
                "followup_glucose_controlled"
            ),
        )
        .select_from(Membership)
        .join(Patient, Patient.id == Membership.patient_id)
        .join(first_joined, first_joined.c.patient_id == Patient.id)
        .outerjoin(latest, and_(latest.c.patient_id == Patient.id, latest.c.n == 1))
        .outerjoin(face, face.c.patient_id == Patient.id)
        .outerjoin(bp, and_(bp.c.patient_id == Patient.id, bp.c.n == 1))
        .outerjoin(sugar, and_(sugar.c.patient_id == Patient.id, sugar.c.n == 1))
        .where(
            Membership.joined_at < period.end,
            or_(Membership.left_at.is_(None), Membership.left_at >= period.end),
            or_(Patient.died_on.is_(None), Patient.died_on > last_day),
        )
        .group_by(Membership.grid_id)
    )
    if grid_ids is not None:
        members = members.where(Membership.grid_id.in_(list(grid_ids)))
    for row in session.execute(members).mappings():
        values = counts.setdefault(row["grid_id"], {})
        for key, value in row.items():
            if key != "grid_id":
                values[key] = int(value or 0)
    return counts
