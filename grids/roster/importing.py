"""Applying roster CSV files to the database, in the caller's transaction.

`import_roster` reads the files (`grids.roster.reading`), checks their references
(`grids.roster.references`), compares every good row with what is stored, and writes
only what changed, with bulk statements. It never commits: the caller does, so a
database error anywhere rolls the whole import back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from grids.core.vocabulary import PatientStatus
from grids.models import AuditEntry, Doctor, Facility, Grid, Patient
from grids.roster.reading import read_roster
from grids.roster.records import (
    DOCTORS,
    FACILITIES,
    PATIENTS,
    DoctorRow,
    FacilityRow,
    ParsedFile,
    PatientRow,
    Progress,
    RosterFiles,
    RosterNotice,
    RowError,
)
from grids.roster.references import (
    ExistingFacility,
    ExistingRoster,
    ValidatedRoster,
    validate_roster,
)

WRITE_BATCH = 5_000

_PATIENT_FIELDS = (
    "name",
    "phone",
    "facility_id",
    "primary_condition",
    "conditions",
    "birth_year",
    "sex",
    "volunteer",
    "status",
    "died_on",
    "language",
)
_DOCTOR_FIELDS = ("name", "phone", "facility_id", "language")
_FACILITY_FIELDS = ("name", "level", "parent_id", "phone")
_FACILITY_CODE = "_facility_code"
"""Carried in a planned row until the facility's id is known; never written."""


@dataclass
class FileReport:
    kind: str
    path: Path
    encoding: str = "utf-8"
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0


@dataclass
class ImportReport:
    files: dict[str, FileReport]
    errors: list[RowError] = field(default_factory=list)
    notices: list[RosterNotice] = field(default_factory=list)
    dry_run: bool = False
    skip_bad_rows: bool = False
    applied: bool = False
    """The changes were written to the session: the caller should commit."""

    @property
    def bad_rows(self) -> int:
        return sum(f.bad for f in self.files.values())

    @property
    def file_errors(self) -> list[RowError]:
        return [error for error in self.errors if error.is_file_error]

    @property
    def changes(self) -> int:
        return sum(f.created + f.updated for f in self.files.values())

    @property
    def written(self) -> bool:
        """Whether any roster row was created or updated."""
        return self.applied and self.changes > 0

    def file_name(self, kind: str) -> str:
        return self.files[kind].path.name


@dataclass
class _Plan:
    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class _Stored:
    """The database's roster, loaded in a few queries."""

    facilities: dict[str, Any] = field(default_factory=dict)
    facility_code_by_id: dict[int, str] = field(default_factory=dict)
    facility_in_use: set[int] = field(default_factory=set)
    doctors: dict[str, Any] = field(default_factory=dict)
    patients: dict[str, Any] = field(default_factory=dict)

    def existing_roster(self) -> ExistingRoster:
        code_of = self.facility_code_by_id
        facilities = {
            code: ExistingFacility(
                code=code,
                level=record.level,
                parent_code=code_of.get(record.parent_id) if record.parent_id else None,
                in_use=record.id in self.facility_in_use,
            )
            for code, record in self.facilities.items()
        }
        owners: dict[str, tuple[str, str]] = {}
        for kind, records in ((PATIENTS, self.patients), (DOCTORS, self.doctors)):
            for code, record in records.items():
                if record.phone:
                    owners[record.phone] = (kind, code)
        return ExistingRoster(facilities=facilities, phone_owners=owners)


@dataclass(frozen=True)
class _People:
    """What planning doctors and patients reads besides their rows."""

    stored: _Stored
    facility_ids: dict[str, int]
    default_language: str
    now: datetime

    def language(self, given: str | None, record: Any) -> str:
        return given or (record.language if record is not None else self.default_language)


def _columns(model: Any, fields: Sequence[str]) -> Select[Any]:
    """The id, the code and the compared `fields` of `model`'s rows."""
    return select(model.id, model.code, *(getattr(model, name) for name in fields))


def _load(session: Session, kinds: Iterable[str]) -> _Stored:
    stored = _Stored()
    for facility in session.execute(_columns(Facility, _FACILITY_FIELDS)):
        stored.facilities[facility.code] = facility
        stored.facility_code_by_id[facility.id] = facility.code
    for model in (Doctor, Patient, Grid):
        stored.facility_in_use.update(session.scalars(select(model.facility_id).distinct()).all())
    if DOCTORS in kinds or PATIENTS in kinds:
        for doctor in session.execute(_columns(Doctor, _DOCTOR_FIELDS)):
            stored.doctors[doctor.code] = doctor
        for patient in session.execute(_columns(Patient, _PATIENT_FIELDS)):
            stored.patients[patient.code] = patient
    return stored


def _compare(
    plan: _Plan,
    stored: Any,
    code: str,
    wanted: dict[str, Any],
    fields: Sequence[str],
    now: datetime,
) -> None:
    """Plan a create (nothing `stored` by `code`), an update, or nothing."""
    if stored is None:
        plan.creates.append({"code": code, **wanted, "created_at": now, "updated_at": now})
        return
    if all(getattr(stored, name) == wanted[name] for name in fields):
        plan.unchanged += 1
        return
    plan.updates.append({"id": stored.id, **wanted, "updated_at": now})


def _plan_facilities(
    rows: Sequence[FacilityRow], parsed: ParsedFile, stored: _Stored, now: datetime
) -> tuple[_Plan, dict[str, str | None]]:
    """The plan, and the wanted parent code of every facility in the file."""
    plan = _Plan()
    parents: dict[str, str | None] = {}
    code_of = stored.facility_code_by_id
    for row in rows:
        record = stored.facilities.get(row.code)
        parent_code = row.parent_code
        if record is not None and "parent_code" not in parsed.columns:
            parent_code = code_of.get(record.parent_id) if record.parent_id else None
        parents[row.code] = parent_code
        phone = row.phone
        if record is not None and "phone" not in parsed.columns:
            phone = record.phone
        # A parent new in this import has no id yet: `_write_facilities` links it after.
        parent = stored.facilities.get(parent_code) if parent_code else None
        wanted = {
            "name": row.name,
            "level": row.level,
            "phone": phone,
            "parent_id": parent.id if parent is not None else None,
        }
        if record is None:
            _compare(plan, None, row.code, wanted, _FACILITY_FIELDS, now)
            continue
        current_parent = code_of.get(record.parent_id) if record.parent_id else None
        same = (
            record.name == row.name
            and record.level == row.level
            and record.phone == phone
            and current_parent == parent_code
        )
        if same:
            plan.unchanged += 1
        else:
            plan.updates.append({"id": record.id, **wanted, "updated_at": now})
    return plan, parents


def _plan_doctors(rows: Sequence[DoctorRow], people: _People) -> _Plan:
    plan = _Plan()
    for row in rows:
        record = people.stored.doctors.get(row.code)
        wanted = {
            "name": row.name,
            "phone": row.phone,
            "facility_id": people.facility_ids.get(row.facility_code),
            "language": people.language(row.language, record),
            _FACILITY_CODE: row.facility_code,
        }
        _compare(plan, record, row.code, wanted, _DOCTOR_FIELDS, people.now)
    return plan


def _plan_patients(rows: Sequence[PatientRow], parsed: ParsedFile, people: _People) -> _Plan:
    plan = _Plan()
    given = parsed.columns
    for row in rows:
        record = people.stored.patients.get(row.code)

        def keep(column: str, value: Any, default: Any, record: Any = record) -> Any:
            if column in given:
                return value
            return getattr(record, column) if record is not None else default

        status = row.status or (record.status if record is not None else PatientStatus.ACTIVE)
        died_on = row.died_on
        if died_on is None and status == PatientStatus.DECEASED and record is not None:
            died_on = record.died_on
        wanted = {
            "name": row.name,
            "phone": keep("phone", row.phone, None),
            "facility_id": people.facility_ids.get(row.facility_code),
            "primary_condition": row.primary_condition,
            "conditions": list(row.conditions),
            "birth_year": keep("birth_year", row.birth_year, None),
            "sex": keep("sex", row.sex, None),
            "volunteer": keep("volunteer", row.volunteer, False),
            "status": status,
            "died_on": died_on,
            "language": people.language(row.language, record),
            _FACILITY_CODE: row.facility_code,
        }
        _compare(plan, record, row.code, wanted, _PATIENT_FIELDS, people.now)
    return plan


def _batches(
    rows: list[dict[str, Any]], kind: str, progress: Progress | None
) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        yield batch
        if progress is not None:
            progress.written(kind, start + len(batch), len(rows))


def _write_people(
    session: Session,
    model: type[Doctor] | type[Patient],
    plan: _Plan,
    stored: dict[str, Any],
    kind: str,
    progress: Progress | None,
) -> None:
    """Updates first, then inserts; a phone that moves is first let go by its old holder."""
    wanted_phones = {row["phone"] for row in (*plan.creates, *plan.updates) if row["phone"]}
    by_id = {record.id: record for record in stored.values()} if plan.updates else {}
    letting_go: list[dict[str, Any]] = []
    for row in plan.updates:
        old = by_id[row["id"]]
        if old.phone and old.phone != row["phone"] and old.phone in wanted_phones:
            # Doctors' phone is NOT NULL: park it on a placeholder nobody can hold.
            placeholder = None if model is Patient else f"~{row['id']}"
            letting_go.append({"id": row["id"], "phone": placeholder})
    if letting_go:
        session.execute(update(model), letting_go)
    for batch in _batches(plan.updates, kind, progress):
        session.execute(update(model), batch)
    for batch in _batches(plan.creates, kind, progress):
        session.execute(insert(model), batch)


def _write_facilities(
    session: Session,
    plan: _Plan,
    parents: dict[str, str | None],
    stored: _Stored,
) -> dict[str, int]:
    """Write facilities; return the id of every facility by code, new ones included."""
    if plan.creates:
        session.execute(insert(Facility), plan.creates)
    ids = dict(session.execute(select(Facility.code, Facility.id)).tuples().all())
    if plan.updates:
        session.execute(update(Facility), plan.updates)
    # New parents only got their ids now: link children to them.
    links = [
        {"id": ids[code], "parent_id": ids[parent]}
        for code, parent in parents.items()
        if parent is not None and parent not in stored.facilities
    ]
    if links:
        session.execute(update(Facility), links)
    return ids


def _audit(session: Session, report: ImportReport, actor: str) -> None:
    files = {
        kind: {
            "file": counts.path.name,
            "read": counts.read,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "bad": counts.bad,
        }
        for kind, counts in report.files.items()
    }
    session.add(
        AuditEntry(
            actor=actor,
            action="roster.import",
            entity_type="roster",
            after={"files": files, "skipped_bad_rows": report.bad_rows},
        )
    )


def import_roster(
    session: Session,
    files: RosterFiles,
    *,
    default_language: str,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    now: datetime,
    today: date,
    progress: Progress | None = None,
    actor: str = "cli",
) -> ImportReport:
    """Validate the files and, when allowed, write what changed. Never commits.

    Nothing is written when a file cannot be read, when `dry_run`, or when any row is
    bad and `skip_bad_rows` is false; `ImportReport.applied` says whether it was.
    """
    parsed = read_roster(files, today=today, track=progress.reading if progress else None)
    stored = _load(session, parsed)
    validated: ValidatedRoster = validate_roster(parsed, stored.existing_roster())

    report = ImportReport(
        files={
            kind: FileReport(kind=kind, path=p.path, encoding=p.encoding, read=p.rows_read)
            for kind, p in parsed.items()
        },
        errors=validated.errors,
        notices=[notice for p in parsed.values() for notice in p.notices],
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
    )
    for kind, counts in report.files.items():
        counts.bad = len(validated.bad_lines(kind))
    if validated.has_file_error:
        return report

    facility_ids = {code: record.id for code, record in stored.facilities.items()}
    plans: dict[str, _Plan] = {}
    parents: dict[str, str | None] = {}
    if FACILITIES in parsed:
        plans[FACILITIES], parents = _plan_facilities(
            validated.facilities, parsed[FACILITIES], stored, now
        )
    people = _People(stored, facility_ids, default_language, now)
    if DOCTORS in parsed:
        plans[DOCTORS] = _plan_doctors(validated.doctors, people)
    if PATIENTS in parsed:
        plans[PATIENTS] = _plan_patients(validated.patients, parsed[PATIENTS], people)
    for kind, plan in plans.items():
        counts = report.files[kind]
        counts.created, counts.updated = len(plan.creates), len(plan.updates)
        counts.unchanged = plan.unchanged

    if dry_run or (report.bad_rows and not skip_bad_rows):
        return report

    if FACILITIES in plans:
        facility_ids = _write_facilities(session, plans[FACILITIES], parents, stored)
    for kind, model, records in (
        (DOCTORS, Doctor, stored.doctors),
        (PATIENTS, Patient, stored.patients),
    ):
        if kind not in plans:
            continue
        plan = plans[kind]
        for row in (*plan.creates, *plan.updates):
            row["facility_id"] = facility_ids[row.pop(_FACILITY_CODE)]
        _write_people(session, model, plan, records, kind, progress)
    _audit(session, report, actor)
    session.flush()
    report.applied = True
    return report
