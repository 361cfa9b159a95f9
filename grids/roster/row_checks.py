"""Checking one row of a roster file: every value read, normalised, or turned into a
`RowError` (docs/roster-files.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from config.logging import mask_phone
from grids.core.phones import InvalidPhone, is_mobile, normalise_phone
from grids.core.vocabulary import (
    CONDITIONS,
    FACILITY_LEVEL_ALIASES,
    NO_ALIASES,
    PATIENT_STATUS_ALIASES,
    SEX_ALIASES,
    YES_ALIASES,
    FacilityLevel,
    PatientStatus,
    condition_code,
    fold,
    lookup_alias,
)
from grids.roster.records import (
    CODE_MAX,
    DOCTORS,
    FACILITIES,
    FACILITY_NAME_MAX,
    LANGUAGE_ALIASES,
    MIN_BIRTH_YEAR,
    PATIENTS,
    PERSON_NAME_MAX,
    DoctorRow,
    Entry,
    FacilityRow,
    PatientRow,
    RowError,
    level_label,
    with_chinese,
)


def _accepted_levels() -> str:
    return ", ".join(level_label(level) for level in FacilityLevel)


def _accepted_conditions() -> str:
    return ", ".join(with_chinese(c.code, c.aliases) for c in CONDITIONS)


def _accepted_statuses() -> str:
    return ", ".join(
        with_chinese(status.value, [w for w, s in PATIENT_STATUS_ALIASES.items() if s == status])
        for status in PatientStatus
    )


ACCEPTED_SEXES = "男, 女, 男性, 女性, M, F, 1 (男), 2 (女)"
ACCEPTED_VOLUNTEER = "y, n, 是, 否, √, ×, yes, no, 1, 0"
ACCEPTED_LANGUAGES = "zh_CN, en"
_CONDITION_SEPARATORS = re.compile(r"[;,、；，/]")
_BIRTH_YEAR = re.compile(r"(\d{4})(?:年|\s*[-/.年]\s*(\d{1,2})\s*月?)?")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME_OF_DAY = re.compile(r"\s+\d{1,2}:\d{2}(?::\d{2})?$")
"""What Excel appends to a date cell saved as text: ` 0:00` or ` 00:00:00`."""
_SCIENTIFIC = re.compile(r"\d(\.\d+)?e\+?\d+", re.IGNORECASE)


_CHINESE_MOBILE = re.compile(r"\+861\d{10}")
"""A valid Chinese number of 11 digits starting with 1 is a mobile (landlines are shorter)."""


def _is_mobile(e164: str) -> bool:
    # The shortcut spares a second parse of nearly every number in a county's file.
    return bool(_CHINESE_MOBILE.fullmatch(e164)) or is_mobile(e164)


# --- checking one row ----------------------------------------------------------------------


@dataclass(frozen=True)
class RowContext:
    kind: str
    headers: Mapping[str, str]
    today: date


class _Row:
    """Field checks for one line; collects every error rather than stopping at the first."""

    __slots__ = ("context", "errors", "line", "ok", "values")

    def __init__(
        self, context: RowContext, line: int, values: Mapping[str, str], errors: list[RowError]
    ) -> None:
        self.context = context
        self.line = line
        self.values = values
        self.errors = errors
        self.ok = True

    def error(self, column: str, key: str, **params: Any) -> None:
        self.ok = False
        self.errors.append(
            RowError(
                self.context.kind,
                self.line,
                column,
                key,
                params,
                self.context.headers.get(column),
            )
        )

    def text(self, column: str, *, required: bool = False, max_length: int = 0) -> str | None:
        value = self.values.get(column, "")
        if not value:
            if required:
                self.error(column, "roster.error.missing_value")
            return None
        if max_length and len(value) > max_length:
            self.error(column, "roster.error.too_long", max=max_length)
            return None
        return value

    def phone(self, *, required: bool, mobile: bool) -> str | None:
        """E.164; `mobile`: the person is reached by SMS, so a landline is refused."""
        raw = self.values.get("phone", "")
        if not raw:
            if required:
                self.error("phone", "roster.error.missing_value")
            return None
        try:
            number = normalise_phone(raw)
        except InvalidPhone:
            if _SCIENTIFIC.fullmatch(raw):
                self.error("phone", "roster.error.phone_scientific", phone=raw)
            else:
                self.error("phone", "roster.error.invalid_phone", phone=mask_phone(raw))
            return None
        if mobile and not _is_mobile(number):
            self.error("phone", "roster.error.landline", phone=mask_phone(number))
            return None
        return number

    def language(self) -> str | None:
        raw = self.values.get("language", "")
        if not raw:
            return None
        language = LANGUAGE_ALIASES.get(fold(raw))
        if language is None:
            self.error(
                "language", "roster.error.unknown_language", value=raw, accepted=ACCEPTED_LANGUAGES
            )
        return language


def _parse_facility(
    context: RowContext, line: int, values: Mapping[str, str], errors: list[RowError]
) -> Entry:
    row = _Row(context, line, values, errors)
    code = row.text("code", required=True, max_length=CODE_MAX)
    name = row.text("name", required=True, max_length=FACILITY_NAME_MAX)
    level: FacilityLevel | None = None
    raw_level = values.get("level", "")
    if not raw_level:
        row.error("level", "roster.error.missing_value")
    else:
        level = lookup_alias(FACILITY_LEVEL_ALIASES, raw_level)
        if level is None:
            row.error(
                "level", "roster.error.unknown_level", value=raw_level, accepted=_accepted_levels()
            )
    parent_code = row.text("parent_code", max_length=CODE_MAX)
    phone = row.phone(required=False, mobile=False)
    if not row.ok or code is None or name is None or level is None:
        return Entry(line, code, None)
    return Entry(line, code, FacilityRow(line, code, name, level, parent_code, phone))


def _parse_doctor(
    context: RowContext, line: int, values: Mapping[str, str], errors: list[RowError]
) -> Entry:
    row = _Row(context, line, values, errors)
    code = row.text("code", required=True, max_length=CODE_MAX)
    name = row.text("name", required=True, max_length=PERSON_NAME_MAX)
    phone = row.phone(required=True, mobile=True)
    facility_code = row.text("facility_code", required=True, max_length=CODE_MAX)
    language = row.language()
    if not row.ok or code is None or name is None or phone is None or facility_code is None:
        return Entry(line, code, None, facility_code)
    return Entry(line, code, DoctorRow(line, code, name, phone, facility_code, language))


def parse_conditions(raw: str) -> tuple[tuple[str, ...], list[str]]:
    """`高血压；糖尿病、高血压` -> (("hypertension", "diabetes"), []); unknown words second.

    Spaces and line breaks within a cell separate conditions too, unless they are part
    of a name (`high blood pressure`).
    """
    codes: list[str] = []
    unknown: list[str] = []
    for word in _CONDITION_SEPARATORS.split(raw):
        word = word.strip()
        if not word:
            continue
        code = condition_code(word)
        found = [code] if code else [condition_code(part) for part in word.split()]
        if not all(found):
            unknown.append(word)
            continue
        codes.extend(code for code in found if code and code not in codes)
    return tuple(codes), unknown


def parse_date(raw: str) -> date | None:
    """`2025-03-07`, `2025/3/7`, `2025年3月7日`, `20250307`, with or without Excel's
    ` 0:00:00`; None when not a real date."""
    text = _TIME_OF_DAY.sub("", raw)
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if not match:
        return None
    try:
        return date(*(int(group) for group in match.groups()))
    except ValueError:
        return None


def parse_birth_year(raw: str) -> int | None:
    """`1955`, `1955年`, `1955-03`, `1955年3月`, or a full date; None otherwise."""
    match = _BIRTH_YEAR.fullmatch(raw)
    if match:
        month = match.group(2)
        return int(match.group(1)) if month is None or 1 <= int(month) <= 12 else None
    born = parse_date(raw)
    return born.year if born else None


def _parse_patient(
    context: RowContext, line: int, values: Mapping[str, str], errors: list[RowError]
) -> Entry:
    row = _Row(context, line, values, errors)
    code = row.text("code", required=True, max_length=CODE_MAX)
    name = row.text("name", required=True, max_length=PERSON_NAME_MAX)
    phone = row.phone(required=False, mobile=True)
    facility_code = row.text("facility_code", required=True, max_length=CODE_MAX)

    conditions, unknown = parse_conditions(values.get("conditions", ""))
    if unknown:
        row.error(
            "conditions",
            "roster.error.unknown_condition",
            value="、".join(unknown),
            accepted=_accepted_conditions(),
        )
    elif not conditions:
        row.error("conditions", "roster.error.missing_value")

    birth_year: int | None = None
    raw_year = values.get("birth_year", "")
    if raw_year:
        year = parse_birth_year(raw_year)
        if year is None or not MIN_BIRTH_YEAR <= year <= context.today.year:
            row.error(
                "birth_year",
                "roster.error.birth_year_range",
                value=raw_year,
                min=MIN_BIRTH_YEAR,
                max=context.today.year,
            )
        else:
            birth_year = year

    sex: str | None = None
    raw_sex = values.get("sex", "")
    if raw_sex:
        found = lookup_alias(SEX_ALIASES, raw_sex)
        if found is None:
            row.error("sex", "roster.error.unknown_sex", value=raw_sex, accepted=ACCEPTED_SEXES)
        else:
            sex = found.value

    volunteer = False
    raw_volunteer = values.get("volunteer", "")
    folded = fold(raw_volunteer)
    if folded in YES_ALIASES:
        volunteer = True
    elif folded not in NO_ALIASES:
        row.error(
            "volunteer",
            "roster.error.unknown_volunteer",
            value=raw_volunteer,
            accepted=ACCEPTED_VOLUNTEER,
        )

    status: PatientStatus | None = None
    raw_status = values.get("status", "")
    status_unknown = False
    if raw_status:
        status = lookup_alias(PATIENT_STATUS_ALIASES, raw_status)
        status_unknown = status is None
        if status_unknown:
            row.error(
                "status",
                "roster.error.unknown_status",
                value=raw_status,
                accepted=_accepted_statuses(),
            )

    died_on: date | None = None
    raw_died = values.get("died_on", "")
    if raw_died:
        died_on = parse_date(raw_died)
        if died_on is None:
            row.error("died_on", "roster.error.invalid_date", value=raw_died)
        elif died_on > context.today:
            row.error("died_on", "roster.error.future_date", value=raw_died)
            died_on = None
        elif status is None and not status_unknown:
            status = PatientStatus.DECEASED
        elif status is not PatientStatus.DECEASED and not status_unknown:
            row.error("died_on", "roster.error.died_on_not_deceased", value=raw_died)

    language = row.language()
    if not row.ok or code is None or name is None or facility_code is None:
        return Entry(line, code, None, facility_code)
    return Entry(
        line,
        code,
        PatientRow(
            line,
            code,
            name,
            phone,
            facility_code,
            conditions,
            birth_year,
            sex,
            volunteer,
            status,
            died_on,
            language,
        ),
    )


ROW_PARSERS: dict[str, Callable[[RowContext, int, Mapping[str, str], list[RowError]], Entry]] = {
    FACILITIES: _parse_facility,
    DOCTORS: _parse_doctor,
    PATIENTS: _parse_patient,
}
