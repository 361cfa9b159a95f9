"""The SQL behind the national follow-up indicators (docs/indicators.md): per grid, the
follow-ups done in the week, members overdue at its end, standard management over the
12 months to its end, and control at the latest follow-up of those 12 months."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.orm import Session, aliased

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
    newest_first = (Followup.visit_date.desc(), Followup.id.desc())

    def flag(condition: Any) -> Any:
        return case((condition, 1), else_=0)

    def counted_so_far(condition: Any) -> Any:
        # The default frame (up to the current row and its peers) is the row number's
        # too, so one window pass computes all three; no two rows are peers (ids differ).
        return func.sum(flag(condition)).over(
            partition_by=Followup.patient_id, order_by=newest_first
        )

    # One pass over the 12 months' follow-ups, newest first: each row knows whether it
    # is the member's latest, and the latest with a BP or a glucose. Older years are
    # not read: the history grows every year, the members do not.
    bp_row = Followup.systolic.is_not(None)
    sugar_row = Followup.glucose_mmol.is_not(None)
    ranked = part(
        select(
            Followup.patient_id,
            Followup.next_due,
            Followup.systolic,
            Followup.diastolic,
            Followup.glucose_mmol,
            flag(Followup.method.in_([str(m) for m in rules.FACE_TO_FACE])).label("face"),
            flag(bp_row).label("bp_row"),
            flag(sugar_row).label("sugar_row"),
            func.row_number()
            .over(partition_by=Followup.patient_id, order_by=newest_first)
            .label("n"),
            counted_so_far(bp_row).label("bp_n"),
            counted_so_far(sugar_row).label("sugar_n"),
        ).where(Followup.visit_date >= first_day, Followup.visit_date <= last_day),
        Followup.patient_id,
        "fu_ranked",
    )
    latest_bp = and_(ranked.c.bp_row == 1, ranked.c.bp_n == 1)
    latest_sugar = and_(ranked.c.sugar_row == 1, ranked.c.sugar_n == 1)
    followed = (
        select(
            ranked.c.patient_id,
            func.max(case((ranked.c.n == 1, ranked.c.next_due))).label("next_due"),
            func.sum(ranked.c.face).label("visits"),
            func.max(case((latest_bp, ranked.c.systolic))).label("systolic"),
            func.max(case((latest_bp, ranked.c.diastolic))).label("diastolic"),
            func.max(case((latest_sugar, ranked.c.glucose_mmol))).label("glucose_mmol"),
        )
        .group_by(ranked.c.patient_id)
        .subquery("fu")
    )
    # A member not followed up in the 12 months is due when their latest earlier
    # follow-up said (a doctor may have set a date far ahead): one look through the
    # (patient, day) index, only for them.
    earlier = aliased(Followup)
    due_before_the_year = (
        select(earlier.next_due)
        .where(earlier.patient_id == patient_id, earlier.visit_date < first_day)
        .order_by(earlier.visit_date.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    next_due = func.coalesce(followed.c.next_due, due_before_the_year)
    managed = first_joined < managed_from

    columns = [
        # Never followed up: due 3 months after joining.
        flag(func.coalesce(next_due < last_day, first_joined < routine_before)).label(
            "followups_overdue"
        ),
        flag(and_(managed, func.coalesce(followed.c.visits, 0) >= rules.STANDARD_A_YEAR)).label(
            "standard_managed"
        ),
        flag(managed).label("standard_managed_denominator"),
        flag(
            and_(
                managed,
                _has_condition(HYPERTENSION),
                followed.c.systolic < BP_CONTROLLED_BELOW[0],
                followed.c.diastolic < BP_CONTROLLED_BELOW[1],
            )
        ).label("followup_bp_controlled"),
        flag(
            and_(
                managed,
                _has_condition(DIABETES),
                followed.c.glucose_mmol < GLUCOSE_CONTROLLED_BELOW,
            )
        ).label("followup_glucose_controlled"),
    ]
    joins = [(followed, followed.c.patient_id == patient_id)]
    return joins, columns
