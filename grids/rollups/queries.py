"""The SQL behind the indicators: one statement counts every grid's members at once.

Same statements on SQLite and PostgreSQL (window functions, CASE, no JSON
operators). Thresholds come from `indicators`; week bounds from `WeekPeriod`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from grids.escalation.models import Escalation
from grids.models import (
    ExchangeAttendance,
    Grid,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
from grids.rollups.followup_counts import (
    FOLLOWUP_MEMBER_COUNTS,
    followup_member_columns,
    followups_done,
)
from grids.rollups.indicators import (
    BP_CONTROLLED_BELOW,
    BP_CRISIS_AT,
    CASE_OUTCOMES,
    DIABETES,
    GLUCOSE_CONTROLLED_BELOW,
    GLUCOSE_CRISIS_AT,
    HYPERTENSION,
    MEMBER_COUNTS,
    UrgentCase,
)
from grids.rollups.period import WeekPeriod
from grids.rollups.scope import (
    Patients,
    Scope,
    grids_only,
    in_grids,
    in_patients,
    in_slice,
    part,
    scope_patients,
    scoped,
)
from grids.rollups.slices import slice_bounds, start_sliced


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _has_condition(code: str) -> ColumnElement[bool]:
    # `conditions` is a JSON list of codes; its text form holds each code in quotes.
    return cast(Patient.conditions, String).like(f'%"{code}"%')


def _latest_readings(
    period: WeekPeriod, grid_ids: Scope, patients: Patients, sliced: bool
) -> tuple[Any, Any]:
    """Each member's latest BP and latest glucose in the control window, ranked in one
    pass over the window's readings (one CTE the two kinds are read from)."""
    ranked = select(
        Reading.patient_id,
        Reading.kind,
        Reading.week,
        Reading.systolic,
        Reading.diastolic,
        Reading.glucose_mmol,
        func.row_number()
        .over(partition_by=(Reading.patient_id, Reading.kind), order_by=Reading.week.desc())
        .label("rank"),
    ).where(
        Reading.week >= period.control_from,
        Reading.week <= period.week,
    )
    ranked = scoped(ranked, Reading.patient_id, grid_ids, patients, sliced=sliced)
    ranked = ranked.subquery("ranked")
    latest = part(
        select(ranked).where(ranked.c.rank == 1),
        "latest",
        grid_ids,
        shared=True,
    )
    bp = select(latest.c.patient_id, latest.c.week, latest.c.systolic, latest.c.diastolic)
    glucose = select(latest.c.patient_id, latest.c.week, latest.c.glucose_mmol)
    return (
        part(bp.where(latest.c.kind == "bp"), "latest_bp", grid_ids),
        part(glucose.where(latest.c.kind == "glucose"), "latest_glucose", grid_ids),
    )


def member_status(
    period: WeekPeriod, grid_ids: Scope = None, patients: Patients = None, *, sliced: bool = False
) -> Any:
    """One row per member under care at the week's end, each indicator a 0/1 column.

    The grid counts add these columns up; the pages list them for one grid. The
    statement (immutable) is built once per week and scope: a page asks for the
    same ones again and again. `patients` names the members to read (the grids'
    `scope_patients`, or a few of them for a list), sparing a page's statement the
    subquery that finds them. A `sliced` statement reads the patients of one slice
    (`scope.in_slice`: its bounds are parameters).
    """
    scope = None if grid_ids is None else tuple(sorted({int(grid_id) for grid_id in grid_ids}))
    return _member_status(period, scope, None if scope is None else patients, sliced)


@lru_cache(maxsize=256)
def _member_status(
    period: WeekPeriod, grid_ids: tuple[int, ...] | None, patients: Patients, sliced: bool
) -> Any:
    week = period.week
    end = period.end

    def members_only(statement: Any, patient_column: Any) -> Any:
        return scoped(statement, patient_column, grid_ids, patients, sliced=sliced)

    def followup_part(statement: Any, patient_column: Any, name: str) -> Any:
        return part(members_only(statement, patient_column), name, grid_ids)

    first_joined = select(
        Membership.patient_id, func.min(Membership.joined_at).label("first_joined")
    ).group_by(Membership.patient_id)
    first_joined = part(members_only(first_joined, Membership.patient_id), "first_joined", grid_ids)
    bp, glucose = _latest_readings(period, grid_ids, patients, sliced)
    named = (
        select(
            MemberReport.patient_id,
            func.max(MemberReport.week).label("last_week"),
            func.max(case((MemberReport.week == week, 1), else_=0)).label("this_week"),
            func.max(
                case(
                    (
                        and_(
                            MemberReport.week == week,
                            or_(
                                MemberReport.hospitalised,
                                MemberReport.discharged,
                                MemberReport.missed_medication,
                                MemberReport.died,
                            ),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("flagged"),
            func.max(case((MemberReport.hospitalised, MemberReport.week))).label("last_in"),
            func.max(case((MemberReport.discharged, MemberReport.week))).label("last_out"),
        )
        .where(MemberReport.week <= week)
        .group_by(MemberReport.patient_id)
    )
    named = part(members_only(named, MemberReport.patient_id), "named", grid_ids)
    # The latest readings cover the control window; before it, the lost-to-follow-up
    # window needs only whether a member was read at all.
    read_before = (
        select(Reading.patient_id, func.max(Reading.week).label("last_week"))
        .where(Reading.week >= period.lost_from, Reading.week < period.control_from)
        .group_by(Reading.patient_id)
    )
    read_before = part(members_only(read_before, Reading.patient_id), "read_before", grid_ids)
    urgent = (
        select(
            UrgentReport.patient_id,
            func.max(UrgentReport.received_at).label("last_at"),
            _flag(UrgentReport.received_at >= period.start).label("this_week"),
            _flag(UrgentReport.received_at >= period.start_of(period.red_urgent_from)).label(
                "recent"
            ),
        )
        .where(
            UrgentReport.patient_id.is_not(None),
            # A critical reading is counted by its reading, not as an urgent report.
            UrgentReport.kind == "urgent",
            UrgentReport.received_at >= period.start_of(period.lost_from),
            UrgentReport.received_at < end,
        )
        .group_by(UrgentReport.patient_id)
    )
    urgent = part(members_only(urgent, UrgentReport.patient_id), "urgent", grid_ids)
    stable = (
        select(
            WeeklyReport.grid_id,
            func.max(WeeklyReport.week).label("last_week"),
            func.max(WeeklyReport.last_received_at).label("last_at"),
        )
        .where(
            WeeklyReport.all_stable.is_(True),
            WeeklyReport.week >= period.lost_from,
            WeeklyReport.week <= week,
        )
        .group_by(WeeklyReport.grid_id)
    )
    stable = part(grids_only(stable, WeeklyReport.grid_id, grid_ids), "stable", grid_ids)
    this_report = grids_only(
        select(WeeklyReport.grid_id, WeeklyReport.all_stable).where(WeeklyReport.week == week),
        WeeklyReport.grid_id,
        grid_ids,
    ).subquery("this_report")

    def read_since(first_week: str) -> ColumnElement[bool]:
        if first_week >= period.control_from:
            return or_(bp.c.week >= first_week, glucose.c.week >= first_week)
        return or_(
            bp.c.week.is_not(None),
            glucose.c.week.is_not(None),
            read_before.c.last_week >= first_week,
        )

    def heard_since(first_week: str) -> ColumnElement[bool]:
        return or_(
            named.c.last_week >= first_week,
            read_since(first_week),
            urgent.c.last_at >= period.start_of(first_week),
            and_(stable.c.last_week >= first_week, stable.c.last_at >= Membership.joined_at),
        )

    registered_before = first_joined.c.first_joined
    # A member paused past the week's end (away for the winter) is neither.
    here = ~func.coalesce(Patient.paused_until > period.last_day, False)
    no_news = and_(
        registered_before < period.start_of(period.no_news_from),
        ~func.coalesce(heard_since(period.no_news_from), False),
        here,
    )
    lost = and_(
        registered_before < period.start_of(period.lost_from),
        ~func.coalesce(heard_since(period.lost_from), False),
        here,
    )
    systolic_ok, diastolic_ok = BP_CONTROLLED_BELOW
    bp_controlled = and_(bp.c.systolic < systolic_ok, bp.c.diastolic < diastolic_ok)
    bp_known = bp.c.systolic.is_not(None)
    glucose_known = glucose.c.glucose_mmol.is_not(None)
    glucose_controlled = glucose.c.glucose_mmol < GLUCOSE_CONTROLLED_BELOW
    in_care_long = registered_before < period.start_of(period.control_from)
    htn = and_(_has_condition(HYPERTENSION), in_care_long)
    dm = and_(_has_condition(DIABETES), in_care_long)
    hospitalised = and_(
        named.c.last_in.is_not(None),
        or_(named.c.last_out.is_(None), named.c.last_out < named.c.last_in),
    )
    red = or_(
        func.coalesce(urgent.c.recent, 0) > 0,
        bp.c.systolic >= BP_CRISIS_AT[0],
        bp.c.diastolic >= BP_CRISIS_AT[1],
        glucose.c.glucose_mmol >= GLUCOSE_CRISIS_AT,
        hospitalised,
    )
    yellow = or_(
        and_(bp_known, ~bp_controlled),
        and_(glucose_known, ~glucose_controlled),
        no_news,
    )
    red_flag = func.coalesce(red, False)
    yellow_flag = and_(~red_flag, func.coalesce(yellow, False))

    def one(condition: ColumnElement[bool]) -> Any:
        return case((condition, 1), else_=0)

    followup_joins, followup_columns = followup_member_columns(
        period,
        Membership.patient_id,
        registered_before,
        followup_part,
    )
    statement = (
        select(
            Membership.grid_id,
            Membership.patient_id,
            Membership.seat,
            one(
                and_(this_report.c.all_stable.is_(True), func.coalesce(named.c.this_week, 0) == 0)
            ).label("members_stable"),
            one(or_(bp.c.week == week, glucose.c.week == week)).label("members_with_reading"),
            one(or_(named.c.flagged == 1, urgent.c.this_week > 0)).label("members_flagged"),
            one(no_news).label("members_no_news_2w"),
            one(htn).label("htn_denominator"),
            one(and_(htn, bp_controlled)).label("bp_controlled"),
            one(and_(htn, bp_known, ~bp_controlled)).label("bp_uncontrolled"),
            one(and_(htn, ~bp_known)).label("bp_missed"),
            one(lost).label("lost_to_follow_up"),
            one(dm).label("dm_denominator"),
            one(and_(dm, glucose_controlled)).label("glucose_controlled"),
            one(and_(dm, glucose_known, ~glucose_controlled)).label("glucose_uncontrolled"),
            one(and_(dm, ~glucose_known)).label("glucose_missed"),
            one(red_flag).label("red"),
            one(yellow_flag).label("yellow"),
            one(and_(~red_flag, ~yellow_flag)).label("green"),
            # Why a member is red, for the doctor's page.
            one(func.coalesce(urgent.c.recent, 0) > 0).label("red_urgent"),
            one(or_(bp.c.systolic >= BP_CRISIS_AT[0], bp.c.diastolic >= BP_CRISIS_AT[1])).label(
                "red_bp"
            ),
            one(glucose.c.glucose_mmol >= GLUCOSE_CRISIS_AT).label("red_glucose"),
            one(hospitalised).label("red_hospitalised"),
            bp.c.systolic,
            bp.c.diastolic,
            bp.c.week.label("bp_week"),
            glucose.c.glucose_mmol,
            glucose.c.week.label("glucose_week"),
            *followup_columns,
        )
        .select_from(Membership)
        .join(Patient, Patient.id == Membership.patient_id)
        .join(first_joined, first_joined.c.patient_id == Membership.patient_id)
        .outerjoin(bp, bp.c.patient_id == Membership.patient_id)
        .outerjoin(glucose, glucose.c.patient_id == Membership.patient_id)
        .outerjoin(named, named.c.patient_id == Membership.patient_id)
        .outerjoin(read_before, read_before.c.patient_id == Membership.patient_id)
        .outerjoin(urgent, urgent.c.patient_id == Membership.patient_id)
        .outerjoin(stable, stable.c.grid_id == Membership.grid_id)
        .outerjoin(this_report, this_report.c.grid_id == Membership.grid_id)
        .where(
            Membership.joined_at < end,
            or_(Membership.left_at.is_(None), Membership.left_at >= end),
            or_(Patient.died_on.is_(None), Patient.died_on > period.last_day),
            *([] if grid_ids is None else [in_grids(Membership.grid_id, grid_ids)]),
            # Named patients: the members as they were when they were named, every part
            # agreeing on who they are.
            *([] if patients is None else [in_patients(Membership.patient_id, patients)]),
            *([in_slice(Membership.patient_id)] if sliced else []),
        )
    )
    for joined, on in followup_joins:
        statement = statement.outerjoin(joined, on)
    return statement


MemberRows = Callable[[], list[Any]]
"""The members' counts of a rollup, started: calling it waits for the rows."""


def member_counts_started(session: Session, period: WeekPeriod, grid_ids: Scope) -> MemberRows:
    """Rows (grid id, members, then the members' 0/1 columns summed, in the order of
    MEMBER_COUNTS and FOLLOWUP_MEMBER_COUNTS), when the returned function is called.

    For the whole population of a large PostgreSQL database the statement runs per
    slice of patients, each on a connection of its own, from now on: the session
    meanwhile reads the rest of the rollup (a grid may then have a row from each
    slice). Otherwise it runs on the session when the rows are asked for."""

    def counted(members: Any) -> Any:
        members = members.subquery("members")
        return select(
            members.c.grid_id,
            func.count().label("members"),
            *(
                func.coalesce(func.sum(members.c[name]), 0).label(name)
                for name in (*MEMBER_COUNTS, *FOLLOWUP_MEMBER_COUNTS)
            ),
        ).group_by(members.c.grid_id)

    if session.get_bind().dialect.name == "postgresql":
        # Compiling the statements of a rollup to machine code (JIT) costs seconds at a
        # county's scale and wins nothing back; the setting ends with the transaction.
        # (A slice, on its own connection, has its own settings.)
        session.execute(text("SET LOCAL jit = off"))
    if grid_ids is None:
        bounds = slice_bounds(session)
        if len(bounds) > 1:
            return start_sliced(session, counted(member_status(period, sliced=True)), bounds)
    patients = None if grid_ids is None else scope_patients(session, grid_ids)
    statement = counted(member_status(period, grid_ids, patients))
    return lambda: list(session.execute(statement))


def grid_counts(
    session: Session,
    period: WeekPeriod,
    grid_ids: Scope = None,
    *,
    member_rows: MemberRows | None = None,
) -> dict[int, dict[str, int]]:
    """Every indicator count of every grid for the week: {grid_id: {field: count}}.
    `member_rows`: the members' counts, started already (`member_counts_started`)."""
    week = period.week
    if member_rows is None:
        member_rows = member_counts_started(session, period, grid_ids)
    merged: dict[int, dict[str, int]] = {}

    def merge(statement: Any, grid_column: Any) -> None:
        result = session.execute(grids_only(statement, grid_column, grid_ids))
        _grid, *names = result.keys()
        for grid_id, *numbers in result:
            merged.setdefault(grid_id, {}).update(
                zip(names, [int(number or 0) for number in numbers], strict=True)
            )

    merge(
        select(WeeklyReport.grid_id, literal(1).label("grids_reported")).where(
            WeeklyReport.week == week
        ),
        WeeklyReport.grid_id,
    )
    merge(
        select(
            ExchangeAttendance.grid_id,
            case((ExchangeAttendance.headcount > 0, 1), else_=0).label("exchanges_held"),
            ExchangeAttendance.headcount.label("attendance"),
        ).where(ExchangeAttendance.week == week),
        ExchangeAttendance.grid_id,
    )
    merge(
        select(
            WeeklyReport.grid_id,
            func.count(func.distinct(MemberReport.patient_id)).label("hospitalisations"),
        )
        .join(WeeklyReport, WeeklyReport.id == MemberReport.weekly_report_id)
        .where(MemberReport.week == week, MemberReport.hospitalised.is_(True))
        .group_by(WeeklyReport.grid_id),
        WeeklyReport.grid_id,
    )
    deaths, death_grid = _deaths(period)
    merge(deaths, death_grid)
    merge(
        select(
            Escalation.grid_id,
            *(
                func.sum(case((Escalation.outcome == outcome, 1), else_=0)).label(
                    f"outcome_{outcome}"
                )
                for outcome in CASE_OUTCOMES
            ),
        )
        .where(Escalation.closed_at >= period.start, Escalation.closed_at < period.end)
        .group_by(Escalation.grid_id),
        Escalation.grid_id,
    )
    first_day = period.start.astimezone(period.tz).date()
    merge(
        select(
            Escalation.grid_id,
            func.sum(
                case((Escalation.followup_due.between(first_day, period.last_day), 1), else_=0)
            ).label("referral_followups_due"),
            func.sum(
                case(
                    (
                        and_(
                            Escalation.followup_at >= period.start,
                            Escalation.followup_at < period.end,
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("referral_followups_done"),
        )
        .where(Escalation.followup_due.is_not(None))
        .group_by(Escalation.grid_id),
        Escalation.grid_id,
    )
    for grid_id, done in followups_done(session, period, grid_ids).items():
        merged.setdefault(grid_id, {}).update(done)

    counts: dict[int, dict[str, int]] = {}
    names = ("members", *MEMBER_COUNTS, *FOLLOWUP_MEMBER_COUNTS)
    for grid_id, *numbers in member_rows():
        known = counts.get(grid_id)
        if known is None:
            counts[grid_id] = dict(zip(names, map(int, numbers), strict=True))
        else:  # the grid's members in another slice
            for name, number in zip(names, numbers, strict=True):
                known[name] += int(number)
    for values in counts.values():
        values["grids"] = 1 if values["members"] else 0
    for grid_id, values in merged.items():
        counts.setdefault(grid_id, {}).update(values)
    return counts


def _deaths(period: WeekPeriod) -> tuple[Any, Any]:
    """Deaths in the 52 weeks up to the week's end, in the grid the member was last in.

    Starts from the deaths (few) and their memberships, keeping the one no later
    membership follows, rather than ranking every membership of the county."""
    later = aliased(Membership, name="later")
    age = cast(extract("year", Patient.died_on), Integer) - Patient.birth_year
    return (
        select(
            Membership.grid_id,
            func.count().label("deaths"),
            func.coalesce(func.sum(age), 0).label("death_age_sum"),
            func.count(Patient.birth_year).label("deaths_with_age"),
        )
        .join(Membership, Membership.patient_id == Patient.id)
        .where(
            Patient.died_on.is_not(None),
            Patient.died_on >= period.start_of(period.outcome_from).astimezone(period.tz).date(),
            Patient.died_on <= period.last_day,
            Membership.joined_at < period.end,
            ~select(later.id)
            .where(
                later.patient_id == Membership.patient_id,
                later.joined_at < period.end,
                or_(
                    later.joined_at > Membership.joined_at,
                    and_(later.joined_at == Membership.joined_at, later.id > Membership.id),
                ),
            )
            .exists(),
        )
        .group_by(Membership.grid_id)
    ), Membership.grid_id


def urgent_cases(session: Session, period: WeekPeriod, grid_ids: Scope = None) -> list[UrgentCase]:
    """The week's urgent reports (few): their acknowledgement times, whenever they came."""
    rows = session.execute(
        select(
            UrgentReport.grid_id,
            UrgentReport.received_at,
            UrgentReport.acknowledged_at,
            (UrgentReport.acknowledged_by_id == Grid.doctor_id).label("by_grid_doctor"),
            UrgentReport.kind,
        )
        .join(Grid, Grid.id == UrgentReport.grid_id)
        .where(
            UrgentReport.received_at >= period.start,
            UrgentReport.received_at < period.end,
            *([] if grid_ids is None else [in_grids(UrgentReport.grid_id, grid_ids)]),
        )
    )
    return [
        UrgentCase(
            grid_id=grid_id,
            received_at=received,
            acknowledged_at=acknowledged,
            acknowledged_by_grid_doctor=bool(by_doctor),
            kind=kind or "urgent",
        )
        for grid_id, received, acknowledged, by_doctor, kind in rows
    ]
