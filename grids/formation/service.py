"""Grid formation against the database: load the roster, call `form_grids`, write the plan.

A province (a million patients) must load, form and save in seconds, so the county-wide
load reads plain rows through the driver's cursor (with the garbage collector paused,
as in formation), and on PostgreSQL grids and memberships are
written with COPY. A write of more than `BULK_MEMBERSHIPS` memberships (a first
formation at province scale) also drops the memberships' foreign keys and adds them
back before the end of the transaction: PostgreSQL then checks them in one pass
instead of once per row (its own advice for bulk loading), at the price of locking the
memberships table until the commit. Nothing here commits: the caller does, so a failure
anywhere leaves the database as it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from grids.core.vocabulary import DoctorStatus, FacilityLevel
from grids.formation.numbers import renumber, unnumbered
from grids.formation.planner import collector_paused, form_grids
from grids.formation.planner_records import (
    ClinicIn,
    DoctorIn,
    FormationInput,
    FormationPlan,
    GridIn,
    MemberIn,
    PatientIn,
)
from grids.models import AuditEntry, Doctor, Facility, Grid, Membership, Patient
from grids.storage.database import is_postgresql
from grids.storage.rows import rows_matched

AUDIT_ACTION = "grids.form"
FORMATION_LOCK_KEY = 0x4855_5A48_4600_0001
"""PostgreSQL advisory lock taken by a formation that writes: one at a time."""
BULK_MEMBERSHIPS = 50_000
_BATCH = 10_000


class UnknownFacility(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class FormationConflict(RuntimeError):
    """A grid changed between reading and writing (another process edited it)."""

    def __init__(self, grid_code: str) -> None:
        super().__init__(grid_code)
        self.grid_code = grid_code


@dataclass
class FormationResult:
    plan: FormationPlan
    written: bool
    facility_code: str | None = None
    clinics_in_scope: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent loading, forming and writing."""

    @property
    def changed(self) -> bool:
        return not self.plan.is_empty


def form_grids_in_database(
    session: Session,
    *,
    facility_code: str | None = None,
    now: datetime,
    dry_run: bool = False,
    actor: str = "cli",
) -> FormationResult:
    """Form grids for the county (or one facility's clinics); write unless `dry_run`.

    Raises `UnknownFacility` for a code that is not in the roster and
    `FormationConflict` when a grid changed under us. Never commits.
    """
    started = time.perf_counter()
    if not dry_run and is_postgresql(session):
        # A second formation waits here, then reads what the first one wrote.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FORMATION_LOCK_KEY})
    with collector_paused():
        data = _load(session, facility_code)
        loaded = time.perf_counter()
        plan = form_grids(data)
        formed = time.perf_counter()
    written = False
    if not dry_run and not plan.is_empty:
        _write(session, plan, actor, facility_code, now)
        written = True
    if not dry_run:
        missing = unnumbered(session)
        if missing:  # grids made before their numbers were kept
            renumber(session, missing)
            written = True
    finished = time.perf_counter()
    return FormationResult(
        plan=plan,
        written=written,
        facility_code=facility_code,
        clinics_in_scope=len(data.scope) if data.scope is not None else len(data.clinics),
        timings={"load": loaded - started, "form": formed - loaded, "write": finished - formed},
    )


# --- loading ------------------------------------------------------------------------------


def _load(session: Session, facility_code: str | None) -> FormationInput:
    facilities = session.execute(
        select(Facility.id, Facility.code, Facility.level, Facility.parent_id)
    ).all()
    clinics = {
        row.id: ClinicIn(row.id, row.code, row.parent_id)
        for row in facilities
        if row.level == FacilityLevel.VILLAGE_CLINIC
    }
    scope = _scope(facilities, clinics, facility_code)
    if scope is None:
        return _load_everything(session, clinics)
    return _load_scope(session, clinics, scope)


def _scope(
    facilities: Sequence[Any], clinics: dict[int, ClinicIn], facility_code: str | None
) -> frozenset[int] | None:
    """The clinic ids to form; None when that is every clinic."""
    if facility_code is None:
        return None
    start = next((row for row in facilities if row.code == facility_code), None)
    if start is None:
        raise UnknownFacility(facility_code)
    children: dict[int, list[int]] = {}
    for row in facilities:
        if row.parent_id is not None:
            children.setdefault(row.parent_id, []).append(row.id)
    found: set[int] = set()
    seen = {start.id}
    stack = [start.id]
    while stack:
        facility_id = stack.pop()
        if facility_id in clinics:
            found.add(facility_id)
        for child in children.get(facility_id, ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    if found == set(clinics):
        return None
    return frozenset(found)


_PATIENT_COLUMNS = (
    Patient.id,
    Patient.code,
    Patient.facility_id,
    Patient.primary_condition,
    Patient.status,
    Patient.volunteer,
    Patient.phone.is_not(None),
    Patient.conditions,
)
_GRID_COLUMNS = (
    Grid.id,
    Grid.code,
    Grid.facility_id,
    Grid.condition,
    Grid.doctor_id,
    Grid.coordinator_id,
    Grid.version,
    Grid.deputy_id,
)
_MEMBER_COLUMNS = (Membership.id, Membership.grid_id, Membership.patient_id, Membership.seat)


def _plain_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """All rows of a parameterless query through the driver's cursor, as plain tuples.

    The statement is still built from the models; only SQLAlchemy's per-row result
    processing (seconds for a million rows) is skipped.
    """
    sql = str(statement.compile(dialect=session.get_bind().dialect))
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _patient_rows(rows: Iterable[Sequence[Any]]) -> list[PatientIn]:
    return [
        PatientIn(row[0], row[1], row[2], row[3], row[4], row[5], row[6], _listed(row[7]))
        for row in rows
    ]


def _listed(conditions: Any) -> tuple[str, ...]:
    """Every listed condition when there are several (a raw cursor gives JSON text)."""
    if not conditions:
        return ()
    if isinstance(conditions, str):
        if "," not in conditions:
            return ()
        conditions = json.loads(conditions)
    return tuple(conditions) if len(conditions) > 1 else ()


def _grids_with_members(
    grid_rows: Iterable[Sequence[Any]], member_rows: Iterable[Sequence[Any]]
) -> list[GridIn]:
    grids = {
        row[0]: GridIn(row[0], row[1], row[2], row[3], row[4], row[5], [], row[6], row[7])
        for row in grid_rows
    }
    for row in member_rows:
        grid = grids.get(row[1])
        if grid is not None:
            grid.members.append(MemberIn(row[0], row[2], row[3]))
    return list(grids.values())


def _doctors(session: Session, clinic_ids: Iterable[int] | None) -> list[DoctorIn]:
    query = select(Doctor.id, Doctor.code, Doctor.facility_id, Doctor.status)
    if clinic_ids is not None:
        query = query.where(Doctor.facility_id.in_(list(clinic_ids)))
    return [
        DoctorIn(row.id, row.code, row.facility_id, row.status == DoctorStatus.ACTIVE)
        for row in session.execute(query)
    ]


def _load_everything(session: Session, clinics: dict[int, ClinicIn]) -> FormationInput:
    patients = _patient_rows(_plain_rows(session, select(*_PATIENT_COLUMNS).order_by(Patient.code)))
    grids = _grids_with_members(
        _plain_rows(session, select(*_GRID_COLUMNS).where(Grid.closed_at.is_(None))),
        _plain_rows(session, select(*_MEMBER_COLUMNS).where(Membership.left_at.is_(None))),
    )
    closed = _grids_with_members(
        session.execute(select(*_GRID_COLUMNS).where(Grid.closed_at.is_not(None))).all(), []
    )
    return FormationInput(
        clinics=list(clinics.values()),
        doctors=_doctors(session, None),
        patients=patients,
        grids=grids,
        closed=closed,
    )


def _load_scope(
    session: Session, clinics: dict[int, ClinicIn], scope: frozenset[int]
) -> FormationInput:
    """The scope's clinics, patients and grids, plus what formation needs around them:
    the sibling clinics (their doctors cover clinics without one), and the old grids of
    patients who moved into the scope (they leave them)."""
    parents = {clinics[clinic_id].parent_id for clinic_id in scope}
    neighbourhood = [clinic for clinic in clinics.values() if clinic.parent_id in parents]
    scope_ids = list(scope)
    patients = _patient_rows(
        session.execute(
            select(*_PATIENT_COLUMNS)
            .where(Patient.facility_id.in_(scope_ids))
            .order_by(Patient.code)
        ).tuples()
    )
    # Members of the scope's grids who now belong to a clinic outside it.
    patients += _patient_rows(
        session.execute(
            select(*_PATIENT_COLUMNS)
            .join(Membership, Membership.patient_id == Patient.id)
            .join(Grid, Grid.id == Membership.grid_id)
            .where(
                Membership.left_at.is_(None),
                Grid.facility_id.in_(scope_ids),
                Patient.facility_id.not_in(scope_ids),
            )
        ).tuples()
    )
    grid_rows = list(
        session.execute(
            select(*_GRID_COLUMNS).where(Grid.facility_id.in_(scope_ids), Grid.closed_at.is_(None))
        ).all()
    )
    closed = _grids_with_members(
        session.execute(
            select(*_GRID_COLUMNS).where(
                Grid.facility_id.in_(scope_ids), Grid.closed_at.is_not(None)
            )
        ).all(),
        [],
    )
    member_rows = session.execute(
        select(*_MEMBER_COLUMNS)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Membership.left_at.is_(None), Grid.facility_id.in_(scope_ids))
    ).all()
    # Old grids outside the scope still holding patients who moved in; only those members.
    moved_in = session.execute(
        select(*_MEMBER_COLUMNS)
        .join(Grid, Grid.id == Membership.grid_id)
        .join(Patient, Patient.id == Membership.patient_id)
        .where(
            Membership.left_at.is_(None),
            Patient.facility_id.in_(scope_ids),
            Grid.facility_id.not_in(scope_ids),
        )
    ).all()
    if moved_in:
        grid_rows += session.execute(
            select(*_GRID_COLUMNS).where(Grid.id.in_({row[1] for row in moved_in}))
        ).all()
    grids = _grids_with_members(grid_rows, [*member_rows, *moved_in])

    doctors = _doctors(session, [clinic.id for clinic in neighbourhood])
    loaded = {grid.id for grid in grids}
    totals: dict[int | None, int] = dict(
        session.execute(
            select(Grid.doctor_id, func.count())
            .where(Grid.doctor_id.in_([doctor.id for doctor in doctors]))
            .group_by(Grid.doctor_id)
        )
        .tuples()
        .all()
    )
    in_input: dict[int, int] = {}
    for grid in grids:
        if grid.doctor_id is not None and grid.id in loaded:
            in_input[grid.doctor_id] = in_input.get(grid.doctor_id, 0) + 1
    doctors = [
        DoctorIn(
            doctor.id,
            doctor.code,
            doctor.clinic_id,
            doctor.active,
            totals.get(doctor.id, 0) - in_input.get(doctor.id, 0),
        )
        for doctor in doctors
    ]
    return FormationInput(
        clinics=neighbourhood,
        doctors=doctors,
        patients=patients,
        grids=grids,
        scope=scope,
        closed=closed,
    )


# --- writing ------------------------------------------------------------------------------


def _write(
    session: Session, plan: FormationPlan, actor: str, facility_code: str | None, now: datetime
) -> None:
    if plan.leaves:
        session.execute(
            update(Membership),
            [
                {"id": leave.membership_id, "left_at": now, "left_reason": leave.reason}
                for leave in plan.leaves
            ],
        )
    for change in plan.grid_changes:
        result = session.execute(
            update(Grid)
            .where(Grid.id == change.grid_id, Grid.version == change.version)
            .values(
                doctor_id=change.doctor_id,
                coordinator_id=change.coordinator_id,
                deputy_id=change.deputy_id,
                version=Grid.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if rows_matched(result) != 1:
            raise FormationConflict(change.code)

    memberships = [(join.grid_id, join.patient_id, join.seat) for join in plan.joins]
    numbered = [change.grid_id for change in plan.grid_changes if change.doctor_changed]
    if plan.new_grids:
        ids = _insert_grids(session, plan, now)
        numbered += ids
        for grid, grid_id in zip(plan.new_grids, ids, strict=True):
            memberships.extend((grid_id, patient_id, seat) for patient_id, seat in grid.members)
    _insert_memberships(session, memberships, now)
    renumber(session, numbered)

    session.add(
        AuditEntry(
            actor=actor,
            action=AUDIT_ACTION,
            entity_type="facility" if facility_code else "county",
            entity_code=facility_code,
            after=plan.report.counts(),
        )
    )
    session.flush()


def _insert_grids(session: Session, plan: FormationPlan, now: datetime) -> list[int]:
    """Insert the new grids; return their ids in plan order."""
    count = len(plan.new_grids)
    if is_postgresql(session):
        sequence = session.scalar(text("SELECT pg_get_serial_sequence('grids', 'id')"))
        ids = list(
            session.execute(
                text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
                {"sequence": sequence, "count": count},
            ).scalars()
        )
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = (
            "id, code, facility_id, condition, doctor_id, coordinator_id, deputy_id, "
            "exchange_minutes, version, created_at, updated_at"
        )
        with cursor.copy(f"COPY grids ({columns}) FROM STDIN") as copy:
            for grid_id, grid in zip(ids, plan.new_grids, strict=True):
                copy.write_row(
                    (
                        grid_id,
                        grid.code,
                        grid.clinic_id,
                        grid.condition,
                        grid.doctor_id,
                        grid.coordinator_id,
                        grid.deputy_id,
                        60,
                        1,
                        now,
                        now,
                    )
                )
        return ids
    ids = []
    rows = [
        {
            "code": grid.code,
            "facility_id": grid.clinic_id,
            "condition": grid.condition,
            "doctor_id": grid.doctor_id,
            "coordinator_id": grid.coordinator_id,
            "deputy_id": grid.deputy_id,
            "created_at": now,
            "updated_at": now,
        }
        for grid in plan.new_grids
    ]
    for start in range(0, count, _BATCH):
        result = session.execute(
            insert(Grid).returning(Grid.id, sort_by_parameter_order=True),
            rows[start : start + _BATCH],
        )
        ids.extend(result.scalars())
    return ids


def _insert_memberships(
    session: Session, memberships: list[tuple[int, int, int]], now: datetime
) -> None:
    if not memberships:
        return
    if is_postgresql(session):
        foreign_keys = (
            sorted(Membership.__table__.foreign_key_constraints, key=lambda fk: str(fk.name))
            if len(memberships) >= BULK_MEMBERSHIPS
            else []
        )
        for foreign_key in foreign_keys:
            session.execute(DropConstraint(foreign_key))
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(
            "COPY memberships (grid_id, patient_id, seat, joined_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "int4", "int2", "timestamptz"])
            for grid_id, patient_id, seat in memberships:
                copy.write_row((grid_id, patient_id, seat, now))
        for foreign_key in foreign_keys:
            session.execute(AddConstraint(foreign_key))
        return
    for start in range(0, len(memberships), _BATCH):
        session.execute(
            insert(Membership),
            [
                {"grid_id": grid_id, "patient_id": patient_id, "seat": seat, "joined_at": now}
                for grid_id, patient_id, seat in memberships[start : start + _BATCH]
            ],
        )
