"""The six reassignment operations as plans: what rows change, and what is wrong.

Each function reads the roster, checks the rules of `grids.admin.rules` and
returns a `Plan`: the changes to apply (in the format of `grids.audit`), the
problems found, and the moves and assignments a person reads in the preview.
Nothing here writes; `grids.admin.service` applies a plan as one change-set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.admin.deputies import appointment, can_lead, release_deputy
from grids.admin.lookups import (
    NotFound,
    current_memberships,
    load_doctor,
    load_grid,
    load_patient,
    parents_of,
    place_of,
    places_of,
    slot_of,
    slots_of,
)
from grids.admin.plans import Plan, join, leave, refuse_closed, set_field, touch
from grids.admin.rules import (
    Problem,
    doctor_problems,
    grid_room_problems,
    lowest_free_seats,
    problem,
    split_seats,
    suggest_reassignment,
)
from grids.core.limits import GRID_CAPACITY
from grids.core.vocabulary import DoctorStatus, PatientStatus, condition_abbreviation
from grids.models import Doctor, Facility, Grid, Membership, Patient

OPERATIONS = (
    "move-grid",
    "set-coordinator",
    "set-deputy",
    "move-member",
    "split",
    "merge",
    "retire-doctor",
    "set-status",
    "pause-member",
    "rebalance",
)
PAUSE_DAYS_MAX = 366
STATUSES = ("hospitalised", "discharged", "moved_away", "deceased")


def move_grid(session: Session, grid_code: str, doctor_code: str) -> Plan:
    grid = load_grid(session, grid_code)
    doctor = load_doctor(session, doctor_code)
    plan = Plan("move-grid", grid.code)
    touch(plan, grid)
    refuse_closed(plan, grid)
    plan.facility_ids.add(doctor.facility_id)
    old = session.get(Doctor, grid.doctor_id) if grid.doctor_id else None
    if old is not None and old.id == doctor.id:
        plan.problems.append(problem("same_doctor", grid=grid.code, doctor=doctor.code))
    else:
        plan.problems += doctor_problems(place_of(session, grid), slot_of(session, doctor))
    _assign(plan, grid, old, doctor)
    return plan


def _assign(plan: Plan, grid: Grid, old: Doctor | None, new: Doctor | None) -> None:
    plan.changes.append(
        set_field("grids", grid.id, grid.code, "doctor_id", grid.doctor_id, new.id if new else None)
    )
    plan.assignments.append(
        {"grid": grid.code, "from": old.code if old else None, "to": new.code if new else None}
    )
    plan.doctor_ids.update(d.id for d in (old, new) if d is not None)


def set_coordinator(session: Session, grid_code: str, patient_code: str) -> Plan:
    plan, grid, patient = appointment(
        session, "set-coordinator", grid_code, patient_code, "coordinator"
    )
    release_deputy(plan, grid, patient.id)
    return plan


def move_members(session: Session, moves: Sequence[tuple[str, str]], now: datetime) -> Plan:
    """Move each (patient code, grid code) to the lowest free seat of that grid."""
    patient_codes = [patient for patient, _ in moves]
    grid_codes = sorted({grid for _, grid in moves})
    patients = {
        p.code: p for p in session.scalars(select(Patient).where(Patient.code.in_(patient_codes)))
    }
    targets = {g.code: g for g in session.scalars(select(Grid).where(Grid.code.in_(grid_codes)))}
    for code in patient_codes:
        if code not in patients:
            raise NotFound("admin.error.no_patient", code=code)
    for code in grid_codes:
        if code not in targets:
            raise NotFound("admin.error.no_grid", code=code)
    current = {
        m.patient_id: m
        for m in session.scalars(
            select(Membership).where(
                Membership.patient_id.in_([p.id for p in patients.values()]),
                Membership.left_at.is_(None),
            )
        )
    }
    sources = {
        g.id: g
        for g in session.scalars(
            select(Grid).where(Grid.id.in_({m.grid_id for m in current.values()}))
        )
    }
    seats: dict[int, set[int]] = defaultdict(set)
    for grid_id, seat in session.execute(
        select(Membership.grid_id, Membership.seat).where(
            Membership.grid_id.in_([g.id for g in targets.values()]),
            Membership.left_at.is_(None),
        )
    ):
        seats[grid_id].add(seat)
    townships = dict(session.execute(select(Facility.id, Facility.parent_id)).tuples().all())
    subject = moves[0][0] if len(moves) == 1 else f"{len(moves)}"
    plan = Plan("move-member", subject)
    for patient_code, grid_code in moves:
        patient, grid = patients[patient_code], targets[grid_code]
        touch(plan, grid)
        membership = current.get(patient.id)
        source = sources.get(membership.grid_id) if membership else None
        if source is not None and source.id == grid.id:
            plan.problems.append(problem("same_grid", patient=patient.code, grid=grid.code))
            continue
        if refuse_closed(plan, grid):
            continue
        if patient.status not in (PatientStatus.ACTIVE, PatientStatus.HOSPITALISED):
            plan.problems.append(
                problem("patient_gone", patient=patient.code, status=patient.status.value)
            )
        if patient.primary_condition != grid.condition:
            plan.problems.append(
                problem("other_condition", True, patient=patient.code, grid=grid.code)
            )
        if patient.facility_id != grid.facility_id and townships.get(
            patient.facility_id
        ) != townships.get(grid.facility_id):
            plan.problems.append(
                problem("other_township", True, patient=patient.code, grid=grid.code)
            )
        if len(seats[grid.id]) >= GRID_CAPACITY:
            plan.problems.append(
                problem("grid_full", grid=grid.code, members=GRID_CAPACITY + 1, limit=GRID_CAPACITY)
            )
            continue
        if source is not None and membership is not None:
            touch(plan, source)
            leave(plan, membership, patient.code, now, "moved")
            seats[source.id].discard(membership.seat)
            if source.coordinator_id == patient.id:
                plan.problems.append(
                    problem("coordinator_leaves", True, patient=patient.code, grid=source.code)
                )
                plan.changes.append(
                    set_field("grids", source.id, source.code, "coordinator_id", patient.id, None)
                )
                plan.notes.append(problem("needs_coordinator", grid=source.code))
            release_deputy(plan, source, patient.id)
        seat = lowest_free_seats(seats[grid.id], 1)[0]
        seats[grid.id].add(seat)
        join(plan, grid.id, patient, seat, now)
        plan.moves.append(
            {
                "patient": patient.code,
                "from": source.code if source else None,
                "from_seat": membership.seat if membership else None,
                "to": grid.code,
                "to_seat": seat,
            }
        )
    return plan


def next_grid_code(session: Session, clinic: Facility, condition: str) -> str:
    """The formation's code rule: `<clinic code>-<condition abbreviation><NN>`, next number."""
    try:
        abbreviation = condition_abbreviation(condition)
    except KeyError:
        abbreviation = condition.upper()[:4]
    prefix = f"{clinic.code}-{abbreviation}"
    highest = 0
    for code in session.scalars(select(Grid.code).where(Grid.code.startswith(prefix))):
        number = code[len(prefix) :]
        if number.isascii() and number.isdigit():
            highest = max(highest, int(number))
    return f"{prefix}{highest + 1:02d}"


def split(session: Session, grid_code: str, now: datetime) -> Plan:
    grid = load_grid(session, grid_code)
    plan = Plan("split", grid.code)
    touch(plan, grid)
    if refuse_closed(plan, grid):
        return plan
    members = current_memberships(session, grid.id)
    if len(members) < 2:
        plan.problems.append(problem("too_small", grid=grid.code, members=len(members)))
        return plan
    by_seat = {m.seat: m for m in members}
    coordinator_seat = next((m.seat for m in members if m.patient_id == grid.coordinator_id), None)
    leaving = split_seats(list(by_seat), coordinator_seat)
    clinic = session.get(Facility, grid.facility_id)
    assert clinic is not None
    code = next_grid_code(session, clinic, grid.condition)
    patients = {
        p.id: p
        for p in session.scalars(
            select(Patient).where(Patient.id.in_([by_seat[s].patient_id for s in leaving]))
        )
    }
    volunteer = next(
        (by_seat[s].patient_id for s in leaving if can_lead(patients[by_seat[s].patient_id])),
        None,
    )
    if grid.doctor_id is not None:
        doctor = session.get(Doctor, grid.doctor_id)
        assert doctor is not None
        plan.problems += [
            p
            for p in doctor_problems(
                place_of(session, grid, len(members)), slot_of(session, doctor)
            )
            if p.code == "doctor_full"
        ]
        plan.doctor_ids.add(doctor.id)
    plan.changes.append(
        {
            "op": "insert",
            "table": "grids",
            "ref": "new_grid",
            "key": code,
            "values": {
                "code": code,
                "facility_id": grid.facility_id,
                "condition": grid.condition,
                "doctor_id": grid.doctor_id,
                "coordinator_id": volunteer,
                "exchange_minutes": grid.exchange_minutes,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        }
    )
    if volunteer is None:
        plan.notes.append(problem("needs_coordinator", grid=code))
        plan.accepted.add(("grid_without_coordinator", code))
    for new_seat, old_seat in enumerate(leaving, start=1):
        membership = by_seat[old_seat]
        patient = patients[membership.patient_id]
        leave(plan, membership, patient.code, now, "split")
        join(plan, {"ref": "new_grid"}, patient, new_seat, now)
        plan.moves.append(
            {
                "patient": patient.code,
                "from": grid.code,
                "from_seat": old_seat,
                "to": code,
                "to_seat": new_seat,
            }
        )
    return plan


def merge(session: Session, keep_code: str, absorb_code: str, now: datetime) -> Plan:
    keep = load_grid(session, keep_code)
    absorb = load_grid(session, absorb_code)
    plan = Plan("merge", f"{keep.code}+{absorb.code}")
    if keep.id == absorb.id:
        plan.problems.append(problem("same_grid_merge", grid=keep.code))
        return plan
    touch(plan, keep)
    touch(plan, absorb)
    if refuse_closed(plan, keep) | refuse_closed(plan, absorb):
        return plan
    kept = current_memberships(session, keep.id)
    joining = current_memberships(session, absorb.id)
    plan.problems += grid_room_problems(place_of(session, keep, len(kept)), len(joining))
    if keep.facility_id != absorb.facility_id:
        plan.problems.append(problem("other_clinic", True, grid=keep.code, other=absorb.code))
    if keep.condition != absorb.condition:
        plan.problems.append(
            problem("other_condition_grid", True, grid=keep.code, other=absorb.code)
        )
    if any(p.code == "grid_full" for p in plan.problems):
        return plan
    patients = {
        p.id: p
        for p in session.scalars(
            select(Patient).where(Patient.id.in_([m.patient_id for m in joining]))
        )
    }
    seats = lowest_free_seats([m.seat for m in kept], len(joining))
    for membership, seat in zip(joining, seats, strict=True):
        patient = patients[membership.patient_id]
        leave(plan, membership, patient.code, now, "merged")
        join(plan, keep.id, patient, seat, now)
        plan.moves.append(
            {
                "patient": patient.code,
                "from": absorb.code,
                "from_seat": membership.seat,
                "to": keep.code,
                "to_seat": seat,
            }
        )
    if absorb.coordinator_id is not None:
        plan.changes.append(
            set_field(
                "grids", absorb.id, absorb.code, "coordinator_id", absorb.coordinator_id, None
            )
        )
    if absorb.deputy_id is not None:
        plan.changes.append(
            set_field("grids", absorb.id, absorb.code, "deputy_id", absorb.deputy_id, None)
        )
    if absorb.doctor_id is not None:
        old = session.get(Doctor, absorb.doctor_id)
        plan.changes.append(
            set_field("grids", absorb.id, absorb.code, "doctor_id", absorb.doctor_id, None)
        )
        if old is not None:
            plan.doctor_ids.add(old.id)
    plan.changes.append(set_field("grids", absorb.id, absorb.code, "closed_at", None, now))
    plan.notes.append(problem("grid_closes", grid=absorb.code, into=keep.code))
    if keep.coordinator_id is None:
        plan.notes.append(problem("needs_coordinator", grid=keep.code))
    return plan


def retirement_suggestion(
    session: Session, doctor: Doctor, only: Sequence[str] | None = None
) -> dict[str, str | None]:
    """Grid code -> suggested doctor code for every grid of a leaving doctor: the active
    doctors of the same clinic, then the township; or only the doctors named in `only`."""
    grids = list(
        session.scalars(select(Grid).where(Grid.doctor_id == doctor.id).order_by(Grid.code))
    )
    clinics = {grid.facility_id for grid in grids} | {doctor.facility_id}
    townships = set(parents_of(session, clinics).values())
    nearby = select(Facility.id).where(
        Facility.id.in_(clinics) | Facility.parent_id.in_([t for t in townships if t is not None])
    )
    where = Doctor.code.in_(list(only)) if only else Doctor.facility_id.in_(nearby)
    candidates = list(
        session.scalars(
            select(Doctor).where(
                where, Doctor.id != doctor.id, Doctor.status == DoctorStatus.ACTIVE
            )
        )
    )
    slots = list(slots_of(session, candidates).values())
    places = list(places_of(session, grids).values())
    chosen = suggest_reassignment(places, slots, anywhere=bool(only))
    codes = {candidate.id: candidate.code for candidate in candidates}
    by_id = {grid.id: grid.code for grid in grids}
    return {by_id[grid_id]: (codes[d] if d else None) for grid_id, d in chosen.items()}


def retire_doctor(
    session: Session,
    doctor_code: str,
    *,
    suspend: bool = False,
    assignments: Mapping[str, str | None] | None = None,
    only: Sequence[str] | None = None,
) -> Plan:
    """Reassign all of a doctor's grids (the suggestion, or `assignments` edited from it)
    and mark the doctor retired or suspended."""
    doctor = load_doctor(session, doctor_code)
    plan = Plan("retire-doctor", doctor.code)
    plan.doctor_ids.add(doctor.id)
    plan.facility_ids.add(doctor.facility_id)
    grids = list(
        session.scalars(select(Grid).where(Grid.doctor_id == doctor.id).order_by(Grid.code))
    )
    for code in only or ():
        load_doctor(session, code)
    chosen = dict(retirement_suggestion(session, doctor, only))
    for grid_code, edited in (assignments or {}).items():
        if grid_code not in chosen:
            plan.problems.append(problem("not_doctors_grid", grid=grid_code, doctor=doctor.code))
        chosen[grid_code] = edited or None
    doctors = {
        d.code: d
        for d in session.scalars(
            select(Doctor).where(Doctor.code.in_([c for c in chosen.values() if c]))
        )
    }
    added: dict[str, int] = defaultdict(int)
    slots = slots_of(session, list(doctors.values()))
    places = places_of(session, grids)
    for grid in grids:
        touch(plan, grid)
        target_code = chosen.get(grid.code)
        target = doctors.get(target_code) if target_code else None
        if target_code and target is None:
            raise NotFound("admin.error.no_doctor", code=target_code)
        if target is None:
            plan.problems.append(problem("no_doctor_for", True, grid=grid.code))
        elif target.id == doctor.id:
            plan.problems.append(problem("same_doctor", grid=grid.code, doctor=doctor.code))
        else:
            added[target.code] += 1
            plan.facility_ids.add(target.facility_id)
            plan.problems += doctor_problems(places[grid.id], slots[target.id], added[target.code])
        _assign(plan, grid, doctor, target)
    status = DoctorStatus.SUSPENDED if suspend else DoctorStatus.RETIRED
    if doctor.status == status:
        plan.problems.append(problem("doctor_already", doctor=doctor.code, status=status.value))
    plan.changes.append(
        set_field("doctors", doctor.id, doctor.code, "status", doctor.status.value, status.value)
    )
    return _dedupe(plan)


def _dedupe(plan: Plan) -> Plan:
    seen: set[tuple[str, str]] = set()
    unique: list[Problem] = []
    for found in plan.problems:
        key = (found.code, repr(sorted(found.params.items())))
        if key not in seen:
            seen.add(key)
            unique.append(found)
    plan.problems = unique
    return plan


def set_status(
    session: Session, patient_code: str, status: str, now: datetime, died_on: date | None = None
) -> Plan:
    patient = load_patient(session, patient_code)
    plan = Plan("set-status", patient.code)
    if status not in STATUSES:
        plan.problems.append(problem("bad_status", status=status, allowed=", ".join(STATUSES)))
        return plan
    new_status = PatientStatus.ACTIVE if status == "discharged" else PatientStatus(status)
    if status == "discharged" and patient.status != PatientStatus.HOSPITALISED:
        plan.problems.append(problem("not_hospitalised", patient=patient.code))
    elif patient.status == new_status:
        plan.problems.append(problem("status_already", patient=patient.code, status=status))
    if status == "deceased":
        if died_on is None:
            plan.problems.append(problem("died_on_missing", patient=patient.code))
        elif died_on > now.date():
            plan.problems.append(problem("died_on_future", died_on=died_on.isoformat()))
    elif died_on is not None:
        plan.problems.append(problem("died_on_not_deceased"))
    membership, grid = _current_place(session, plan, patient)
    plan.changes.append(
        set_field(
            "patients", patient.id, patient.code, "status", patient.status.value, new_status.value
        )
    )
    if status == "deceased":
        plan.changes.append(
            set_field("patients", patient.id, patient.code, "died_on", patient.died_on, died_on)
        )
    if status in ("moved_away", "deceased") and membership is not None and grid is not None:
        leave(plan, membership, patient.code, now, status)
        plan.moves.append(
            {
                "patient": patient.code,
                "from": grid.code,
                "from_seat": membership.seat,
                "to": None,
                "to_seat": None,
            }
        )
        if grid.coordinator_id == patient.id:
            plan.changes.append(
                set_field("grids", grid.id, grid.code, "coordinator_id", patient.id, None)
            )
            plan.notes.append(problem("needs_coordinator", grid=grid.code))
        release_deputy(plan, grid, patient.id)
    return plan


def pause_member(session: Session, patient_code: str, until: date | None, now: datetime) -> Plan:
    """A member away (for the winter) until `until`: no prompts or nudges, and counted
    neither silent nor lost to follow-up until that day, when he resumes by himself."""
    patient = load_patient(session, patient_code)
    plan = Plan("pause-member", patient.code)
    today = now.date()
    if until is None:
        plan.problems.append(problem("pause_until_missing", patient=patient.code))
    elif until <= today:
        plan.problems.append(problem("pause_until_past", until=until.isoformat()))
    elif (until - today).days > PAUSE_DAYS_MAX:
        plan.problems.append(
            problem("pause_too_long", until=until.isoformat(), days=PAUSE_DAYS_MAX)
        )
    if patient.status in (PatientStatus.DECEASED, PatientStatus.MOVED_AWAY):
        plan.problems.append(
            problem("pause_not_active", patient=patient.code, status=patient.status.value)
        )
    _current_place(session, plan, patient)
    plan.changes.append(
        set_field("patients", patient.id, patient.code, "paused_until", patient.paused_until, until)
    )
    return plan


def _current_place(
    session: Session, plan: Plan, patient: Patient
) -> tuple[Membership | None, Grid | None]:
    """The patient's current membership and grid, both touched by `plan`."""
    plan.facility_ids.add(patient.facility_id)
    membership = session.scalar(
        select(Membership).where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
    )
    grid = session.get(Grid, membership.grid_id) if membership else None
    if grid is not None:
        touch(plan, grid)
    return membership, grid
