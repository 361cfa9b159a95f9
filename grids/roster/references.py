"""Checking references between roster files and to what is already stored: parents,
clinics, duplicates of phone numbers, facilities still in use (docs/roster-files.md).
Pure: the caller says what exists (`ExistingRoster`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config.logging import mask_phone
from grids.core.vocabulary import (
    ALLOWED_PARENT_LEVELS,
    FacilityLevel,
)
from grids.roster.records import (
    DOCTORS,
    FACILITIES,
    FILE_KINDS,
    PATIENTS,
    DoctorRow,
    FacilityRow,
    ParsedFile,
    PatientRow,
    Row,
    RowError,
    level_label,
)

# --- references between files and to the database -------------------------------------------


@dataclass(frozen=True, slots=True)
class ExistingFacility:
    code: str
    level: FacilityLevel
    parent_code: str | None
    in_use: bool = False
    """Doctors, patients or grids are attached to it."""


@dataclass(frozen=True)
class ExistingRoster:
    """What the database already holds, as plain data."""

    facilities: Mapping[str, ExistingFacility] = field(default_factory=dict)
    phone_owners: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """E.164 phone -> (`doctors` or `patients`, code) of the person holding it."""


@dataclass
class ValidatedRoster:
    files: dict[str, ParsedFile]
    facilities: list[FacilityRow] = field(default_factory=list)
    doctors: list[DoctorRow] = field(default_factory=list)
    patients: list[PatientRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def has_file_error(self) -> bool:
        return any(parsed.has_file_error for parsed in self.files.values())

    def bad_lines(self, kind: str) -> set[int]:
        return {e.line for e in self.errors if e.file == kind and e.line and not e.is_file_error}

    def rows(self, kind: str) -> Sequence[Row]:
        by_kind: dict[str, Sequence[Row]] = {
            FACILITIES: self.facilities,
            DOCTORS: self.doctors,
            PATIENTS: self.patients,
        }
        return by_kind[kind]


class _Checker:
    """Cross-row checks; a row that fails makes the rows that depend on it fail too."""

    def __init__(self, files: Mapping[str, ParsedFile], existing: ExistingRoster) -> None:
        self.files = files
        self.existing = existing
        self.errors: list[RowError] = []
        self.good: dict[str, dict[str, Row]] = {kind: {} for kind in FILE_KINDS}
        self.bad: dict[str, dict[str, int]] = {kind: {} for kind in FILE_KINDS}
        for kind, parsed in files.items():
            for entry in parsed.entries:
                if entry.row is not None:
                    self.good[kind][entry.row.code] = entry.row
                elif entry.code:
                    self.bad[kind].setdefault(entry.code, entry.line)

    def fail(self, kind: str, row: Row, column: str | None, key: str, **params: Any) -> None:
        header = self.files[kind].headers.get(column) if column else None
        self.errors.append(RowError(kind, row.line, column, key, params, header))
        del self.good[kind][row.code]
        self.bad[kind].setdefault(row.code, row.line)

    def depends(self, kind: str, row: Row, column: str, code: str) -> None:
        self.fail(
            kind,
            row,
            column,
            "roster.error.depends_on_bad_row",
            code=code,
            file=self.files[FACILITIES].path.name,
            line=self.bad[FACILITIES][code],
        )

    # facilities

    def facility_level(self, code: str) -> FacilityLevel | None:
        row = self.good[FACILITIES].get(code)
        if isinstance(row, FacilityRow):
            return row.level
        known = self.existing.facilities.get(code)
        return known.level if known else None

    def parent_of(self, code: str) -> str | None:
        row = self.good[FACILITIES].get(code)
        parsed = self.files.get(FACILITIES)
        if isinstance(row, FacilityRow) and parsed and "parent_code" in parsed.columns:
            return row.parent_code
        known = self.existing.facilities.get(code)
        return known.parent_code if known else None

    def check_cycles(self) -> None:
        on_cycle: dict[str, str] = {}
        settled: set[str] = set()
        for start in list(self.good[FACILITIES]):
            path: list[str] = []
            index: dict[str, int] = {}
            code: str | None = start
            while code is not None and code not in settled and code not in index:
                index[code] = len(path)
                path.append(code)
                code = self.parent_of(code)
            if code is not None and code in index:
                cycle = path[index[code] :]
                text = " → ".join([*cycle, cycle[0]])
                for member in cycle:
                    on_cycle[member] = text
            settled.update(path)
        for code, text in on_cycle.items():
            row = self.good[FACILITIES].get(code)
            if row is not None:
                self.fail(FACILITIES, row, "parent_code", "roster.error.parent_cycle", cycle=text)

    def check_facility(self, row: FacilityRow) -> None:
        parent = self.parent_of(row.code)
        allowed = ALLOWED_PARENT_LEVELS[row.level]
        allowed_text = ", ".join(level_label(level) for level in FacilityLevel if level in allowed)
        if parent is None:
            if None not in allowed:
                self.fail(
                    FACILITIES,
                    row,
                    "parent_code",
                    "roster.error.parent_required",
                    level=level_label(row.level),
                    allowed=allowed_text,
                )
                return
        elif parent in self.bad[FACILITIES] and parent not in self.good[FACILITIES]:
            self.depends(FACILITIES, row, "parent_code", parent)
            return
        else:
            parent_level = self.facility_level(parent)
            if parent_level is None:
                self.fail(
                    FACILITIES, row, "parent_code", "roster.error.unknown_parent", code=parent
                )
                return
            if parent_level not in allowed:
                self.fail(
                    FACILITIES,
                    row,
                    "parent_code",
                    "roster.error.parent_level",
                    code=parent,
                    parent_level=level_label(parent_level),
                    level=level_label(row.level),
                    allowed=allowed_text or "-",
                )
                return
        known = self.existing.facilities.get(row.code)
        if known is None or known.level == row.level:
            return
        if known.level == FacilityLevel.VILLAGE_CLINIC and known.in_use:
            self.fail(FACILITIES, row, "level", "roster.error.level_in_use", code=row.code)
            return
        for child in self.existing.facilities.values():
            if (
                child.parent_code == row.code
                and child.code not in self.good[FACILITIES]
                and child.code not in self.bad[FACILITIES]
                and row.level not in ALLOWED_PARENT_LEVELS[child.level]
            ):
                self.fail(
                    FACILITIES,
                    row,
                    "level",
                    "roster.error.child_level",
                    child=child.code,
                    child_level=level_label(child.level),
                    level=level_label(row.level),
                )
                return

    def check_facilities(self) -> None:
        if FACILITIES in self.files:
            self.check_cycles()
        changed = True
        while changed:
            before = len(self.errors)
            for row in list(self.good[FACILITIES].values()):
                if row.code in self.good[FACILITIES]:
                    assert isinstance(row, FacilityRow)
                    self.check_facility(row)
            changed = len(self.errors) != before

    # people

    def clinic_problem(self, code: str) -> tuple[str, dict[str, Any]] | None:
        if code in self.bad[FACILITIES] and code not in self.good[FACILITIES]:
            return "roster.error.depends_on_bad_row", {
                "code": code,
                "file": self.files[FACILITIES].path.name,
                "line": self.bad[FACILITIES][code],
            }
        level = self.facility_level(code)
        if level is None:
            return "roster.error.unknown_facility", {"code": code}
        if level != FacilityLevel.VILLAGE_CLINIC:
            return "roster.error.not_village_clinic", {"code": code, "level": level_label(level)}
        return None

    def check_clinics(self, kind: str) -> None:
        for row in list(self.good[kind].values()):
            assert isinstance(row, DoctorRow | PatientRow)
            problem = self.clinic_problem(row.facility_code)
            if problem is not None:
                self.fail(kind, row, "facility_code", problem[0], **problem[1])
        # Rows already bad for another reason: report their facility too, for one-pass fixing.
        header = self.files[kind].headers.get("facility_code")
        for entry in self.files[kind].entries:
            if entry.row is None and entry.facility_code:
                problem = self.clinic_problem(entry.facility_code)
                if problem is not None:
                    self.errors.append(
                        RowError(kind, entry.line, "facility_code", *problem, header)
                    )

    def check_phones(self) -> None:
        """Phones must be unique over doctors and patients once the import is applied.

        A person whose row is bad keeps the phone stored for them, so a bad row can make
        another row bad (a swap where one side fails); repeat until nothing changes.
        """
        kinds = [
            kind
            for kind in (DOCTORS, PATIENTS)
            if kind in self.files and "phone" in self.files[kind].columns
        ]
        while True:
            replacing = {(kind, code) for kind in kinds for code in self.good[kind]}
            claims: dict[str, list[tuple[str, DoctorRow | PatientRow]]] = defaultdict(list)
            for kind in kinds:
                for row in self.good[kind].values():
                    assert isinstance(row, DoctorRow | PatientRow)
                    if row.phone:
                        claims[row.phone].append((kind, row))
            failures: list[tuple[str, Row, str, dict[str, Any]]] = []
            for phone, claimants in claims.items():
                masked = mask_phone(phone)
                if len(claimants) > 1:
                    for kind, row in claimants:
                        other_kind, other = next(c for c in claimants if c[1] is not row)
                        failures.append(
                            (
                                kind,
                                row,
                                "roster.error.duplicate_phone_in_file",
                                {
                                    "phone": masked,
                                    "file": self.files[other_kind].path.name,
                                    "line": other.line,
                                },
                            )
                        )
                    continue
                kind, row = claimants[0]
                owner = self.existing.phone_owners.get(phone)
                if owner is None or owner == (kind, row.code) or owner in replacing:
                    continue
                key = (
                    "roster.error.phone_held_by_doctor"
                    if owner[0] == DOCTORS
                    else "roster.error.phone_held_by_patient"
                )
                failures.append((kind, row, key, {"phone": masked, "code": owner[1]}))
            if not failures:
                return
            for kind, row, key, params in failures:
                if row.code in self.good[kind]:
                    self.fail(kind, row, "phone", key, **params)


def validate_roster(files: Mapping[str, ParsedFile], existing: ExistingRoster) -> ValidatedRoster:
    """Check references between rows, files and the database; return the rows fit to write.

    When a file could not be read at all, only the errors found so far are returned:
    the cross-file checks would mostly repeat that one problem.
    """
    result = ValidatedRoster(files=dict(files))
    for parsed in files.values():
        result.errors.extend(parsed.errors)
    if result.has_file_error:
        return result
    checker = _Checker(files, existing)
    checker.check_facilities()
    for kind in (DOCTORS, PATIENTS):
        if kind in files:
            checker.check_clinics(kind)
    checker.check_phones()
    result.errors.extend(checker.errors)
    order = {kind: index for index, kind in enumerate(FILE_KINDS)}
    result.errors.sort(key=lambda e: (order[e.file], e.line or 0))
    for kind, parsed in files.items():
        good = checker.good[kind]
        rows = [
            e.row for e in parsed.entries if e.row is not None and good.get(e.row.code) is e.row
        ]
        getattr(result, kind).extend(rows)
    return result
