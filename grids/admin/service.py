"""Applying a plan as one change-set: preview, scope, compare-and-set, audit, SMS, undo.

`execute` runs the plan's changes in the caller's transaction, records the
change-set, re-targets what follows a moved grid and derives every SMS from
what changed. A dry run does all of that, reads the consequences, and rolls the
transaction back: the preview is exactly what applying would do. Nothing here
commits; the caller commits an applied outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.logging import mask_phone, mask_phones_in
from grids import audit
from grids.admin.follow import follow_grid
from grids.admin.hierarchy_check import added_problems, check_around
from grids.admin.lookups import grid_loads
from grids.admin.plans import Plan, phased
from grids.admin.rebalance import OPERATION as REBALANCE
from grids.admin.rebalance import rebalance_notices
from grids.admin.rules import Problem, blocking
from grids.audit import ChangeConflict, Conflict, UndoRefused
from grids.core.errors import CatalogueError
from grids.core.notices import Notice
from grids.core.vocabulary import GONE_STATUSES
from grids.delivery import Deliver
from grids.escalation.service import EscalationPolicy
from grids.formation.numbers import clear_numbers, renumber
from grids.models import ChangeSet, Doctor, Grid, Membership, Patient
from i18n import normalise_language, translate

NAME_LIMIT = 8
GRID_LIST_LIMIT = 3


class AdminError(CatalogueError, ValueError):
    """A request that cannot be done as asked; `key` and `params` name the catalogue text."""


@dataclass
class Outcome:
    operation: str
    subject: str
    actor: str
    reason: str | None
    override: bool
    dry_run: bool
    applied: bool = False
    change_set_id: int | None = None
    problems: list[Problem] = field(default_factory=list)
    blocking: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    grids: list[dict[str, Any]] = field(default_factory=list)
    """Each grid touched: members, coordinator, doctor and version before and after."""
    doctors: list[dict[str, Any]] = field(default_factory=list)
    """Each doctor touched: grids held and status before and after."""
    notices: list[Notice] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Before:
    """The grids and doctors an operation touches, as they were before it."""

    grids: dict[int, dict[str, Any]]
    doctors: dict[int, dict[str, Any]]

    @classmethod
    def read(cls, session: Session, grid_ids: set[int], doctor_ids: set[int]) -> _Before:
        return cls(_snapshot_grids(session, grid_ids), _snapshot_doctors(session, doctor_ids))


def _snapshot_grids(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    counts = dict(
        session.execute(
            select(Membership.grid_id, func.count())
            .where(Membership.grid_id.in_(ids), Membership.left_at.is_(None))
            .group_by(Membership.grid_id)
        )
        .tuples()
        .all()
    )
    found: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.version, Doctor.code, Patient.code)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
        .outerjoin(Patient, Patient.id == Grid.coordinator_id)
        .where(Grid.id.in_(ids))
    )
    for grid_id, code, version, doctor, coordinator in rows:
        found[grid_id] = {
            "code": code,
            "members": counts.get(grid_id, 0),
            "doctor": doctor,
            "coordinator": coordinator,
            "version": version,
        }
    return found


def _snapshot_doctors(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    counts = grid_loads(session, ids)
    return {
        doctor_id: {"code": code, "grids": counts.get(doctor_id, 0), "status": str(status)}
        for doctor_id, code, status in session.execute(
            select(Doctor.id, Doctor.code, Doctor.status).where(Doctor.id.in_(ids))
        )
    }


def _side_by_side(
    before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    for row_id in sorted(
        set(before) | set(after), key=lambda i: (after.get(i) or before[i])["code"]
    ):
        old, new = before.get(row_id, {}), after.get(row_id, {})
        row = {"code": (new or old)["code"]}
        for key in new or old:
            if key != "code":
                row[f"{key}_before"] = old.get(key)
                row[f"{key}_after"] = new.get(key)
        rows.append(row)
    return rows


def conflicts_with_expected(
    session: Session, plan: Plan, expected: dict[str, int] | None
) -> list[Conflict]:
    """Grids whose version is not the one the caller previewed."""
    if not expected:
        return []
    found = []
    ids = {g.code: g.id for g in session.scalars(select(Grid).where(Grid.code.in_(expected)))}
    for code, version in sorted(expected.items()):
        current = plan.versions.get(code)
        if current is not None and current != version:
            found.append(
                Conflict(
                    "grids",
                    ids.get(code),
                    code,
                    "version",
                    version,
                    current,
                    audit._later_change_set(session, "grids", ids.get(code), None),
                )
            )
    return found


def execute(
    session: Session,
    plan: Plan,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    override: bool = False,
    dry_run: bool = False,
    expected_versions: dict[str, int] | None = None,
    allowed_facilities: set[int] | None = None,
    deliver: Deliver | None = None,
    default_language: str = "zh_CN",
    policy: EscalationPolicy | None = None,
) -> Outcome:
    """Preview (`dry_run`) or apply `plan` as one change-set.

    Raises `AdminError` (override without a reason, out of the actor's scope) and
    `ChangeConflict` (a grid changed since it was read or previewed); a plan with
    problems that block it comes back not applied, with the problems listed. The
    changes are made, then `grids check` is read around them: a problem they would
    add blocks like the rules' own (`grids.admin.hierarchy_check`), and the outcome
    still shows everything the operation would do before it is rolled back.
    """
    reason = (reason or "").strip() or None
    if override and reason is None:
        raise AdminError("admin.error.override_needs_reason")
    if allowed_facilities is not None and not plan.facility_ids <= allowed_facilities:
        raise AdminError("admin.error.out_of_scope")
    outcome = Outcome(
        operation=plan.operation,
        subject=plan.subject,
        actor=actor,
        reason=reason,
        override=override,
        dry_run=dry_run,
        problems=plan.problems,
        blocking=blocking(plan.problems, override),
        notes=plan.notes,
        moves=plan.moves,
        assignments=plan.assignments,
        versions=plan.versions,
    )
    stale = conflicts_with_expected(session, plan, expected_versions)
    if stale:
        raise ChangeConflict(stale)
    before = _Before.read(session, plan.grid_ids, plan.doctor_ids)
    if outcome.blocking:
        outcome.grids = _side_by_side(before.grids, before.grids)
        outcome.doctors = _side_by_side(before.doctors, before.doctors)
        return outcome
    checked_before = check_around(session, plan.grid_ids, plan.doctor_ids)
    recorded = audit.apply_changes(session, phased(plan.changes))
    renumber(session, _doctor_changed(recorded))
    created = {c["id"] for c in recorded if c["table"] == "grids" and c["op"] == "insert"}
    checked_after = check_around(session, plan.grid_ids | created, plan.doctor_ids)
    outcome.problems = plan.problems + added_problems(
        checked_before, checked_after, plan.problems, plan.accepted
    )
    outcome.blocking = blocking(outcome.problems, override)
    change_set = audit.record_change_set(
        session,
        actor=actor,
        operation=plan.operation,
        subject=plan.subject,
        reason=reason,
        override=override and any(p.overridable for p in outcome.problems),
        changes=recorded,
        at=now,
    )
    _finish(session, outcome, change_set, recorded, before, now, default_language, policy)
    return _conclude(session, outcome, dry_run=dry_run, deliver=deliver, now=now)


def _conclude(
    session: Session,
    outcome: Outcome,
    *,
    dry_run: bool,
    deliver: Deliver | None,
    now: datetime,
) -> Outcome:
    """A preview, or an operation that would add a `grids check` problem, is rolled back
    (after showing all it would do); an applied change-set hands its SMS to the channel."""
    if dry_run or outcome.blocking:
        session.rollback()
        if outcome.blocking:
            outcome.change_set_id = None
    else:
        if deliver is not None and outcome.notices:
            deliver(session, outcome.notices, now)
        outcome.applied = True
    return outcome


def _finish(
    session: Session,
    outcome: Outcome,
    change_set: ChangeSet,
    recorded: list[dict[str, Any]],
    before: _Before,
    now: datetime,
    default_language: str,
    policy: EscalationPolicy | None,
) -> None:
    outcome.change_set_id = change_set.id
    outcome.changes = recorded
    grid_ids = set(before.grids) | {c["id"] for c in recorded if c["table"] == "grids"}
    doctor_ids = set(before.doctors) | _doctors_moved(recorded)
    session.expire_all()
    notices = notices_for(session, recorded, change_set.id)
    if change_set.operation == REBALANCE:
        notices += rebalance_notices(session, recorded, change_set.id)
    for grid_id, (old, new) in _final(recorded, "grids", "doctor_id").items():
        notices += follow_grid(
            session, grid_id, old, new, now, default_language=default_language, policy=policy
        )
    outcome.notices = notices
    outcome.grids = _side_by_side(before.grids, _snapshot_grids(session, grid_ids))
    outcome.doctors = _side_by_side(before.doctors, _snapshot_doctors(session, doctor_ids))


def _doctors_moved(changes: list[dict[str, Any]]) -> set[int]:
    """The doctors that grids left or went to in `changes`."""
    return {
        value
        for c in changes
        if c["table"] == "grids" and c["op"] == "update" and c["field"] == "doctor_id"
        for value in (c["expected"], c["set"])
        if value is not None
    }


def _final(recorded: list[dict[str, Any]], table: str, column: str) -> dict[int, tuple[Any, Any]]:
    """Row id -> (value before the change-set, value after) for one column."""
    found: dict[int, tuple[Any, Any]] = {}
    for change in recorded:
        if change["table"] != table:
            continue
        if change["op"] == "update" and change["field"] == column:
            first = found.get(change["id"], (change["expected"], None))[0]
            found[change["id"]] = (first, change["set"])
        elif change["op"] == "insert" and column in change["values"]:
            found[change["id"]] = (None, change["values"][column])
        elif change["op"] == "delete" and column in change["values"]:
            found[change["id"]] = (change["values"][column], None)
    return {row_id: pair for row_id, pair in found.items() if pair[0] != pair[1]}


# --- SMS: derived from what changed -----------------------------------------------------------


def _clip(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _grid_list(codes: list[str]) -> str:
    shown = ", ".join(sorted(codes)[:GRID_LIST_LIMIT])
    return shown + ("…" if len(codes) > GRID_LIST_LIMIT else "")


def notices_for(
    session: Session, recorded: list[dict[str, Any]], change_set_id: int
) -> list[Notice]:
    """Every SMS the change-set causes, read from the rows as they now are:
    the new coordinator, the grid's members, the moved members (and those an undo puts
    back in their seat), the old and new doctors. An undo goes through here too, so it
    tells the same people what the restored state is."""
    notices: list[Notice] = []
    prefix = f"admin:{change_set_id}"
    doctor_changes = _final(recorded, "grids", "doctor_id")
    coordinator_changes = {
        grid_id: new
        for grid_id, (_old, new) in _final(recorded, "grids", "coordinator_id").items()
        if new is not None
    }
    deputy_changes = _final(recorded, "grids", "deputy_id")
    joined = [
        change["values"]
        for change in recorded
        if change["table"] == "memberships" and change["op"] == "insert"
    ]
    # A seat taken again (an undo puts a member back where they were) is told like a new one.
    rejoined = [
        row_id
        for row_id, (left, now_left) in _final(recorded, "memberships", "left_at").items()
        if left is not None and now_left is None
    ]
    if rejoined:
        joined += [
            {"grid_id": grid_id, "patient_id": patient_id, "seat": seat}
            for grid_id, patient_id, seat in session.execute(
                select(Membership.grid_id, Membership.patient_id, Membership.seat)
                .where(Membership.id.in_(rejoined))
                .order_by(Membership.id)
            )
        ]
    grid_ids = set(doctor_changes) | set(coordinator_changes) | {c["grid_id"] for c in joined}
    grid_ids |= set(deputy_changes)
    grids = {g.id: g for g in session.scalars(select(Grid).where(Grid.id.in_(grid_ids)))}
    people_ids = set(coordinator_changes.values()) | {c["patient_id"] for c in joined}
    people_ids |= {g.coordinator_id for g in grids.values() if g.coordinator_id}
    people_ids |= {p for pair in deputy_changes.values() for p in pair if p is not None}
    members_of: dict[int, list[int]] = defaultdict(list)
    for grid_id, patient_id in session.execute(
        select(Membership.grid_id, Membership.patient_id).where(
            Membership.grid_id.in_(list(coordinator_changes)), Membership.left_at.is_(None)
        )
    ):
        members_of[grid_id].append(patient_id)
        people_ids.add(patient_id)
    people = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(people_ids)))}
    doctor_ids = {d for pair in doctor_changes.values() for d in pair if d is not None}
    doctor_ids |= {g.doctor_id for g in grids.values() if g.doctor_id}
    doctors = {d.id: d for d in session.scalars(select(Doctor).where(Doctor.id.in_(doctor_ids)))}

    def to_person(person: Patient | Doctor, template: str, **params: Any) -> None:
        key = f"{prefix}:{template.rsplit('.', 1)[-1]}:{person.recipient_type}:{person.id}"
        notices.append(Notice.to_person(person, key=key, template=template, params=params))

    def to_patient(patient: Patient | None, template: str, **params: Any) -> None:
        if patient is None or patient.phone is None or patient.status in GONE_STATUSES:
            return
        to_person(patient, template, **params)

    def to_doctor(doctor: Doctor, template: str, **params: Any) -> None:
        if doctor.phone:
            to_person(doctor, template, **params)

    def coordinator_name(grid: Grid) -> str:
        coordinator = people.get(grid.coordinator_id) if grid.coordinator_id else None
        return _clip(coordinator.name) if coordinator else "-"

    told: set[int] = set()
    for seat in joined:
        grid = grids[seat["grid_id"]]
        patient = people.get(seat["patient_id"])
        if patient is not None and patient.id != grid.coordinator_id:
            told.add(patient.id)
            to_patient(
                patient,
                "sms.admin.member_moved",
                grid=grid.code,
                seat=seat["seat"],
                name=coordinator_name(grid),
            )
    for grid_id, coordinator_id in sorted(coordinator_changes.items()):
        grid = grids[grid_id]
        told.add(coordinator_id)
        to_patient(people.get(coordinator_id), "sms.admin.coordinator_new", grid=grid.code)
        for member_id in members_of[grid_id]:
            if member_id not in told:
                to_patient(
                    people.get(member_id),
                    "sms.admin.member_coordinator",
                    grid=grid.code,
                    name=coordinator_name(grid),
                )
    _tell_deputies(deputy_changes, grids, people, told, to_patient)
    released: dict[int, list[str]] = defaultdict(list)
    assigned: dict[int, list[str]] = defaultdict(list)
    for grid_id, (old, new) in sorted(doctor_changes.items()):
        found = grids.get(grid_id)
        if found is None:  # removed by the undo of a split: its members are told where they are
            continue
        grid = found
        if old is not None:
            released[old].append(grid.code)
        if new is not None:
            assigned[new].append(grid.code)
            doctor = doctors[new]
            coordinator = people.get(grid.coordinator_id) if grid.coordinator_id else None
            if coordinator is not None and coordinator.id not in told:
                to_patient(
                    coordinator,
                    "sms.admin.coordinator_doctor",
                    grid=grid.code,
                    doctor=_clip(doctor.name),
                    phone=doctor.phone,
                )
    for doctor_id, codes in sorted(released.items()):
        to_doctor(
            doctors[doctor_id],
            "sms.admin.doctor_released",
            count=len(codes),
            grids=_grid_list(codes),
        )
    for doctor_id, codes in sorted(assigned.items()):
        to_doctor(
            doctors[doctor_id],
            "sms.admin.doctor_assigned",
            count=len(codes),
            grids=_grid_list(codes),
        )
    return notices


def _tell_deputies(
    changes: dict[int, tuple[Any, Any]],
    grids: dict[int, Grid],
    people: dict[int, Patient],
    told: set[int],
    to_patient: Callable[..., None],
) -> None:
    """The new deputy learns his role, the coordinator who stands behind him, and a
    deputy who steps down (unless he was just told he now coordinates) is thanked."""
    for grid_id, (old, new) in sorted(changes.items()):
        grid = grids.get(grid_id)
        if grid is None:
            continue
        if new is not None:
            told.add(new)
            to_patient(people.get(new), "sms.admin.deputy_new", grid=grid.code)
            coordinator_id = grid.coordinator_id
            if coordinator_id is not None and coordinator_id not in told:
                to_patient(
                    people.get(coordinator_id),
                    "sms.admin.coordinator_deputy",
                    grid=grid.code,
                    name=_clip(people[new].name) if new in people else "-",
                )
        if old is not None and old not in told:
            to_patient(people.get(old), "sms.admin.deputy_released", grid=grid.code)


def _doctor_changed(recorded: list[dict[str, Any]]) -> set[int]:
    """Grids inserted or given another doctor: they take a new number for him."""
    return {
        c["id"]
        for c in recorded
        if c["table"] == "grids"
        and (c["op"] == "insert" or (c["op"] == "update" and c.get("field") == "doctor_id"))
    }


def notice_rows(notices: Sequence[Notice]) -> list[dict[str, Any]]:
    """What the preview shows of each SMS: recipient, template, and the number and text
    with phone numbers masked."""
    return [
        {
            "recipient": f"{n.recipient_type}:{n.recipient_id}",
            "to": mask_phone(n.phone),
            "template": n.template,
            "language": n.language,
            "text": mask_phones_in(
                translate(n.template, normalise_language(n.language), **dict(n.params))
            ),
            "urgent": n.urgent,
        }
        for n in notices
    ]


# --- undo ------------------------------------------------------------------------------------


def undo(
    session: Session,
    change_set_id: int,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    dry_run: bool = False,
    allowed_facilities: set[int] | None = None,
    deliver: Deliver | None = None,
    default_language: str = "zh_CN",
    policy: EscalationPolicy | None = None,
) -> Outcome:
    """Reverse a change-set with an inverse change-set of its own, if no later change is
    in the way (`UndoRefused` says which one is)."""
    # An id past what any database stores names no change-set (SQLite cannot even bind it).
    in_range = 0 < change_set_id < 2**63
    change_set = session.get(ChangeSet, change_set_id) if in_range else None
    if change_set is None:
        raise AdminError("admin.error.no_change_set", id=change_set_id)
    if change_set.undoes_id is not None:
        raise UndoRefused("admin.undo.is_undo", id=change_set.id, of=change_set.undoes_id)
    touched_grids = {c["id"] for c in change_set.changes if c["table"] == "grids"}
    if allowed_facilities is not None:
        facilities = set(
            session.scalars(select(Grid.facility_id).where(Grid.id.in_(touched_grids)))
        )
        if not facilities <= allowed_facilities:
            raise AdminError("admin.error.out_of_scope")
    doctor_ids = _doctors_moved(change_set.changes)
    doctor_ids |= {c["id"] for c in change_set.changes if c["table"] == "doctors"}
    existing = set(session.scalars(select(Grid.id).where(Grid.id.in_(touched_grids))))
    before = _Before.read(session, existing, doctor_ids)
    outcome = Outcome(
        operation="undo",
        subject=str(change_set.id),
        actor=actor,
        reason=reason,
        override=False,
        dry_run=dry_run,
    )
    clear_numbers(
        session,
        [c["id"] for c in change_set.changes if c["table"] == "grids" and c["op"] == "insert"],
    )
    recorded = audit.undo_changes(session, change_set)
    renumber(session, _doctor_changed(recorded))
    inverse_set = audit.record_change_set(
        session,
        actor=actor,
        operation="undo",
        subject=str(change_set.id),
        reason=reason,
        override=False,
        changes=recorded,
        at=now,
        undoes=change_set,
    )
    _finish(session, outcome, inverse_set, recorded, before, now, default_language, policy)
    return _conclude(session, outcome, dry_run=dry_run, deliver=deliver, now=now)
