"""Reading and validating roster CSV files: pure functions, no database, no Flask.

Three files describe a county: facilities, village doctors and patients. Each
may come alone; references are checked against the files given plus what the
caller says already exists (`ExistingRoster`). Every problem becomes a
`RowError` (file, physical line, column, catalogue key, parameters) so that a
county administrator can fix the spreadsheet in one pass.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from config.logging import mask_phone, mask_phones_in
from grids.core.phones import InvalidPhone, is_mobile, normalise_phone
from grids.core.vocabulary import (
    ALLOWED_PARENT_LEVELS,
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
from i18n import translate

FACILITIES = "facilities"
DOCTORS = "doctors"
PATIENTS = "patients"
FILE_KINDS = (FACILITIES, DOCTORS, PATIENTS)

MIN_BIRTH_YEAR = 1900
MOBILE_DIGITS = 11
HEADER_SEARCH_LINES = 10
"""How many lines from the top may hold a title above the header."""
DELIMITERS = (",", "\t", "，", ";")
"""Excel saves CSV with commas; tab-separated text, full-width commas and semicolons
(Excel in some locales) are read too."""
CODE_MAX = 32
PERSON_NAME_MAX = 60
FACILITY_NAME_MAX = 120

T = TypeVar("T")
Track = Callable[[Iterable[Any], int, str], Iterable[Any]]
"""Wraps an iterable to show progress: (items, total, kind) -> the same items."""


def _masked(value: Any) -> Any:
    """`value` with any phone number in it masked; other values unchanged."""
    if not isinstance(value, str):
        return value
    masked = mask_phones_in(value)
    if masked == value and sum(ch.isdigit() for ch in value) >= MOBILE_DIGITS:
        try:
            number = normalise_phone(value)
        except InvalidPhone:
            return value
        return mask_phone(number)
    return masked


# --- the files and what comes out of them -------------------------------------------------


@dataclass(frozen=True)
class RosterFiles:
    facilities: Path | None = None
    doctors: Path | None = None
    patients: Path | None = None

    def given(self) -> list[tuple[str, Path]]:
        """(kind, path) of each file given, facilities first."""
        paths = (self.facilities, self.doctors, self.patients)
        return [(kind, Path(path)) for kind, path in zip(FILE_KINDS, paths, strict=True) if path]


@dataclass(frozen=True)
class RowError:
    """One problem: `line` None for the whole file, `column` None for the whole row."""

    file: str
    """The kind of file: `facilities`, `doctors` or `patients`."""
    line: int | None
    column: str | None
    """The canonical column (`phone`), whatever the file's header says."""
    reason_key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    header: str | None = None
    """The column's header as written in the file (`电话`), for the message."""

    def __post_init__(self) -> None:
        # A value echoed back may be a phone number in the wrong column: never show it whole.
        object.__setattr__(self, "params", {k: _masked(v) for k, v in self.params.items()})

    @property
    def is_file_error(self) -> bool:
        return self.line is None or self.reason_key in FILE_ERROR_KEYS


FILE_ERROR_KEYS = frozenset(
    {
        "roster.error.unreadable",
        "roster.error.utf16",
        "roster.error.undecodable",
        "roster.error.no_header",
        "roster.error.missing_column",
        "roster.error.duplicate_column",
        "roster.error.malformed_csv",
    }
)


@dataclass(frozen=True)
class RosterNotice:
    """Something worth knowing that is not an error (encoding guessed, columns ignored)."""

    file: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FacilityRow:
    line: int
    code: str
    name: str
    level: FacilityLevel
    parent_code: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class DoctorRow:
    line: int
    code: str
    name: str
    phone: str
    facility_code: str
    language: str | None


@dataclass(frozen=True, slots=True)
class PatientRow:
    line: int
    code: str
    name: str
    phone: str | None
    facility_code: str
    conditions: tuple[str, ...]
    """Condition codes, the primary one first, no duplicates."""
    birth_year: int | None
    sex: str | None
    volunteer: bool
    status: PatientStatus | None
    """None when the file does not say: keep the stored status (new patients: active)."""
    died_on: date | None
    language: str | None
    """None when the file does not say: keep the stored language (new patients: the default)."""

    @property
    def primary_condition(self) -> str:
        return self.conditions[0]


Row = FacilityRow | DoctorRow | PatientRow


@dataclass(frozen=True, slots=True)
class Entry:
    """A data line of a file: its code (if any) and the row, None when a field is bad."""

    line: int
    code: str | None
    row: Row | None
    facility_code: str | None = None
    """Of a doctor or patient whose row is bad, so an unknown facility is reported too."""


@dataclass
class ParsedFile:
    kind: str
    path: Path
    encoding: str = "utf-8"
    columns: frozenset[str] = frozenset()
    """The canonical columns present; an optional column absent leaves stored values alone."""
    headers: dict[str, str] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notices: list[RosterNotice] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.entries)

    @property
    def has_file_error(self) -> bool:
        return any(error.is_file_error for error in self.errors)


# --- headers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    aliases: tuple[str, ...]


_CODE = ("code", "编码", "代码", "编号")
_NAME = ("name", "名称", "姓名")
_PHONE = (
    "phone",
    "mobile",
    "电话",
    "手机",
    "手机号",
    "手机号码",
    "电话号码",
    "联系电话",
    "联系方式",
    "本人电话",
    "值班电话",
)
_FACILITY_CODE = (
    "facility_code",
    "facility",
    "clinic_code",
    "机构编码",
    "所属机构",
    "所属机构编码",
    "卫生室编码",
    "所属卫生室",
    "所属村卫生室",
    "村卫生室编码",
    "管理机构",
    "管理机构编码",
)
_LANGUAGE = ("language", "语言")

COLUMNS: dict[str, tuple[Column, ...]] = {
    FACILITIES: (
        Column("code", True, (*_CODE, "机构编码", "机构代码")),
        Column("name", True, (*_NAME, "机构名称")),
        Column(
            "level", True, ("level", "级别", "层级", "机构级别", "机构类别", "机构类型", "类别")
        ),
        Column(
            "parent_code",
            False,
            (
                "parent_code",
                "parent",
                "上级编码",
                "上级机构编码",
                "上级机构",
                "上级代码",
                "上级机构代码",
            ),
        ),
        Column("phone", False, _PHONE),
    ),
    DOCTORS: (
        Column("code", True, (*_CODE, "医生编码", "村医编码")),
        Column("name", True, (*_NAME, "医生姓名", "村医姓名")),
        Column("phone", True, _PHONE),
        Column("facility_code", True, _FACILITY_CODE),
        Column("language", False, _LANGUAGE),
    ),
    PATIENTS: (
        Column(
            "code",
            True,
            (*_CODE, "患者编码", "档案编号", "档案号", "个人档案编号", "健康档案编号"),
        ),
        Column("name", True, (*_NAME, "患者姓名")),
        Column("phone", False, _PHONE),
        Column("facility_code", True, _FACILITY_CODE),
        Column(
            "conditions",
            True,
            ("conditions", "condition", "慢病", "疾病", "病种", "慢病种类", "慢性病", "疾病名称"),
        ),
        Column(
            "birth_year",
            False,
            ("birth_year", "birth_date", "出生年份", "出生年", "出生日期", "出生年月"),
        ),
        Column("sex", False, ("sex", "gender", "性别")),
        Column(
            "volunteer",
            False,
            ("volunteer", "志愿者", "是否志愿者", "愿意担任网格员", "是否愿意担任网格员"),
        ),
        Column("status", False, ("status", "状态", "档案状态", "管理状态")),
        Column("died_on", False, ("died_on", "死亡日期")),
        Column("language", False, _LANGUAGE),
    ),
}

HEADER_ALIASES: dict[str, dict[str, str]] = {
    kind: {fold(alias): column.name for column in columns for alias in column.aliases}
    for kind, columns in COLUMNS.items()
}
"""Per kind of file: folded header text -> canonical column."""


def accepted_headers(kind: str, column: str) -> str:
    for candidate in COLUMNS[kind]:
        if candidate.name == column:
            return ", ".join(candidate.aliases)
    raise KeyError(column)


# --- value vocabularies --------------------------------------------------------------------

LANGUAGE_ALIASES: dict[str, str] = {
    fold(word): language
    for language, words in (
        ("zh_CN", ("zh_CN", "zh-CN", "zh", "中文", "汉语", "普通话", "Chinese")),
        ("en", ("en", "en_US", "en-GB", "English", "英文", "英语")),
    )
    for word in words
}


def _first_chinese(words: Iterable[str]) -> str | None:
    return next((word for word in words if any("\u4e00" <= ch <= "\u9fff" for ch in word)), None)


def _with_chinese(code: str, words: Iterable[str]) -> str:
    chinese = _first_chinese(words)
    return f"{code} ({chinese})" if chinese else code


def level_label(level: FacilityLevel | str) -> str:
    """`village_clinic (村卫生室)`: understood in both languages."""
    words = [word for word, value in FACILITY_LEVEL_ALIASES.items() if value == level]
    return _with_chinese(str(level), words)


def _accepted_levels() -> str:
    return ", ".join(level_label(level) for level in FacilityLevel)


def _accepted_conditions() -> str:
    return ", ".join(_with_chinese(c.code, c.aliases) for c in CONDITIONS)


def _accepted_statuses() -> str:
    return ", ".join(
        _with_chinese(status.value, [w for w, s in PATIENT_STATUS_ALIASES.items() if s == status])
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
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters no cell should hold (tab and line breaks are the CSV's own)."""


_CHINESE_MOBILE = re.compile(r"\+861\d{10}")
"""A valid Chinese number of 11 digits starting with 1 is a mobile (landlines are shorter)."""


def _is_mobile(e164: str) -> bool:
    # The shortcut spares a second parse of nearly every number in a county's file.
    return bool(_CHINESE_MOBILE.fullmatch(e164)) or is_mobile(e164)


def clean(text: str) -> str:
    """NFKC (full-width digits and punctuation), invisible characters removed, trimmed."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip()


# --- reading a file ------------------------------------------------------------------------


class _FileProblem(Exception):
    def __init__(self, key: str, line: int | None = None, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.line = line
        self.params = params


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (BOM or not), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileProblem("roster.error.utf16")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030").lstrip("\ufeff"), "gb18030"
    except UnicodeDecodeError as error:
        # A problem of the whole file (its encoding), reported where it shows first.
        problem = _FileProblem("roster.error.undecodable")
        problem.params = {"line": data.count(b"\n", 0, error.start) + 1}
        raise problem from None


def _find_header(kind: str, text: str) -> tuple[str, int]:
    """The delimiter and the physical line of the header.

    The header is the first of the top lines in which, split by one of `DELIMITERS`,
    at least two cells are column names of `kind`; lines above it are titles. A file
    where no line qualifies is read with commas from its first line, so that the
    missing columns are reported.
    """
    aliases = HEADER_ALIASES[kind]
    top = itertools.islice(io.StringIO(text), HEADER_SEARCH_LINES)
    for number, line in enumerate(top, start=1):
        for delimiter in DELIMITERS:
            if delimiter not in line:
                continue
            cells = next(csv.reader([line], delimiter=delimiter), [])
            if sum(fold(clean(cell)) in aliases for cell in cells) >= 2:
                return delimiter, number
    return ",", 1


def _records(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, cleaned fields); blank records skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = 0
    try:
        for fields in reader:
            line = previous + 1
            previous = reader.line_num
            cleaned = [clean(value) for value in fields]
            if any(cleaned):
                yield line, cleaned
    except csv.Error as error:
        raise _FileProblem(
            "roster.error.malformed_csv", line=previous + 1, detail=str(error)
        ) from None


def _map_header(kind: str, parsed: ParsedFile, header: list[str], line: int) -> dict[int, str]:
    """Column index -> canonical column; records notices and file errors on `parsed`."""
    aliases = HEADER_ALIASES[kind]
    positions: dict[int, str] = {}
    seen: dict[str, list[str]] = defaultdict(list)
    ignored: list[str] = []
    for index, text in enumerate(header):
        if not text:
            continue
        column = aliases.get(fold(text))
        if column is None:
            ignored.append(text)
            continue
        positions[index] = column
        seen[column].append(text)
        parsed.headers.setdefault(column, text)
    for column, texts in seen.items():
        if len(texts) > 1:
            parsed.errors.append(
                RowError(
                    kind,
                    line,
                    column,
                    "roster.error.duplicate_column",
                    {"column": column, "headers": ", ".join(texts)},
                )
            )
    for column in COLUMNS[kind]:
        if column.required and column.name not in seen:
            parsed.errors.append(
                RowError(
                    kind,
                    line,
                    column.name,
                    "roster.error.missing_column",
                    {"column": column.name, "accepted": accepted_headers(kind, column.name)},
                )
            )
    if ignored:
        parsed.notices.append(
            RosterNotice(kind, "roster.notice.ignored_columns", {"columns": ", ".join(ignored)})
        )
    parsed.columns = frozenset(seen)
    return positions


def read_roster_file(
    path: Path,
    kind: str,
    *,
    today: date | None = None,
    track: Track | None = None,
) -> ParsedFile:
    """Read one file and check each row on its own (values, formats, duplicates in the file).

    References between rows and to the database are checked by `validate_roster`.
    """
    parsed = ParsedFile(kind=kind, path=Path(path))
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        parsed.errors.append(
            RowError(kind, None, None, "roster.error.unreadable", {"detail": error.strerror or ""})
        )
        return parsed
    try:
        text, parsed.encoding = decode(data)
        if parsed.encoding == "gb18030":
            parsed.notices.append(RosterNotice(kind, "roster.notice.gb18030"))
        delimiter, header_at = _find_header(kind, text)
        records = _records(text, delimiter)
        titles: list[int] = []
        first = next(records, None)
        while first is not None and first[0] < header_at:
            titles.append(first[0])
            first = next(records, None)
        if first is None:
            raise _FileProblem("roster.error.no_header")
        if titles:
            lines = f"{titles[0]}-{titles[-1]}" if len(titles) > 1 else str(titles[0])
            parsed.notices.append(RosterNotice(kind, "roster.notice.title_rows", {"lines": lines}))
        header_line, header = first
        positions = _map_header(kind, parsed, header, header_line)
        if parsed.has_file_error:
            return parsed
        width = max((index + 1 for index, cell in enumerate(header) if cell), default=0)
        code_at = next((i for i, column in positions.items() if column == "code"), None)
        parse_row = _ROW_PARSERS[kind]
        context = _Context(kind, parsed.headers, today or date.today())
        rows: Iterable[tuple[int, list[str]]] = records
        if track is not None:
            rows = track(records, text.count("\n"), kind)
        for line, fields in rows:
            if any(fields[width:]):
                # A value with an unquoted comma shifts every later column: one clear
                # error beats a confusing one for each shifted value.
                count = max(i + 1 for i, value in enumerate(fields) if value)
                parsed.errors.append(
                    RowError(
                        kind,
                        line,
                        None,
                        "roster.error.too_many_values",
                        {"count": count, "columns": width},
                    )
                )
                code = fields[code_at] if code_at is not None else None
                parsed.entries.append(Entry(line, code or None, None))
                continue
            values = {column: fields[i] for i, column in positions.items() if i < len(fields)}
            controlled = [column for column, value in values.items() if _CONTROL.search(value)]
            if controlled:
                # A NUL or other control character: no database column can hold it.
                for column in controlled:
                    parsed.errors.append(
                        RowError(
                            kind,
                            line,
                            column,
                            "roster.error.control_character",
                            {},
                            parsed.headers.get(column),
                        )
                    )
                parsed.entries.append(Entry(line, values.get("code") or None, None))
                continue
            entry = parse_row(context, line, values, parsed.errors)
            parsed.entries.append(entry)
            duty = entry.row.phone if isinstance(entry.row, FacilityRow) else None
            if duty and not _is_mobile(duty):
                # Urgent alerts go to a facility's duty phone by SMS: a landline never
                # gets them. The row is imported; the administrator is told.
                parsed.notices.append(
                    RosterNotice(
                        kind,
                        "roster.notice.duty_phone_landline",
                        {"line": line, "phone": mask_phone(duty)},
                    )
                )
    except _FileProblem as problem:
        parsed.errors.append(RowError(kind, problem.line, None, problem.key, problem.params))
        return parsed
    _check_duplicate_codes(parsed)
    return parsed


def read_roster(
    files: RosterFiles, *, today: date | None = None, track: Track | None = None
) -> dict[str, ParsedFile]:
    return {
        kind: read_roster_file(path, kind, today=today, track=track) for kind, path in files.given()
    }


def _check_duplicate_codes(parsed: ParsedFile) -> None:
    lines_by_code: dict[str, list[int]] = defaultdict(list)
    for entry in parsed.entries:
        if entry.code:
            lines_by_code[entry.code].append(entry.line)
    duplicated = {code: lines for code, lines in lines_by_code.items() if len(lines) > 1}
    if not duplicated:
        return
    for index, entry in enumerate(parsed.entries):
        lines = duplicated.get(entry.code or "")
        if lines:
            others = ", ".join(str(line) for line in lines if line != entry.line)
            parsed.errors.append(
                RowError(
                    parsed.kind,
                    entry.line,
                    "code",
                    "roster.error.duplicate_code",
                    {"code": entry.code, "lines": others},
                    parsed.headers.get("code"),
                )
            )
            parsed.entries[index] = Entry(entry.line, entry.code, None, entry.facility_code)


# --- checking one row ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    kind: str
    headers: Mapping[str, str]
    today: date


class _Row:
    """Field checks for one line; collects every error rather than stopping at the first."""

    __slots__ = ("context", "errors", "line", "ok", "values")

    def __init__(
        self, context: _Context, line: int, values: Mapping[str, str], errors: list[RowError]
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
    context: _Context, line: int, values: Mapping[str, str], errors: list[RowError]
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
    context: _Context, line: int, values: Mapping[str, str], errors: list[RowError]
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
    context: _Context, line: int, values: Mapping[str, str], errors: list[RowError]
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


_ROW_PARSERS: dict[str, Callable[[_Context, int, Mapping[str, str], list[RowError]], Entry]] = {
    FACILITIES: _parse_facility,
    DOCTORS: _parse_doctor,
    PATIENTS: _parse_patient,
}


# --- messages -------------------------------------------------------------------------------


def render_error(error: RowError, file_name: str, language: str) -> str:
    """`patients.csv 第12行，“电话”列：电话号码无效：139****567。…` in `language`."""
    reason = translate(error.reason_key, language, **error.params)
    if error.line is None:
        return translate("roster.report.file", language, file=file_name, reason=reason)
    if error.column is None or error.reason_key in FILE_ERROR_KEYS:
        return translate(
            "roster.report.row", language, file=file_name, line=error.line, reason=reason
        )
    return translate(
        "roster.report.line",
        language,
        file=file_name,
        line=error.line,
        column=error.header or error.column,
        reason=reason,
    )


def render_notice(notice: RosterNotice, file_name: str, language: str) -> str:
    return translate(notice.key, language, file=file_name, **notice.params)


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
        return {FACILITIES: self.facilities, DOCTORS: self.doctors, PATIENTS: self.patients}[kind]


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
