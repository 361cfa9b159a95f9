"""What roster files are made of: the three kinds, their columns and accepted headers, the
rows and errors that come out of them, value vocabularies and error messages (docs/roster-files.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

from config.logging import mask_phone, mask_phones_in
from grids.core.phones import InvalidPhone, normalise_phone
from grids.core.vocabulary import (
    FACILITY_LEVEL_ALIASES,
    FacilityLevel,
    PatientStatus,
    fold,
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


class Progress(Protocol):
    """How a long import shows its progress; the caller draws it (the CLI on a terminal)."""

    def reading(self, items: Iterable[Any], total: int, kind: str) -> Iterable[Any]:
        """The rows of file `kind` as they are read (`total` of them)."""
        ...

    def written(self, kind: str, done: int, total: int) -> None:
        """`done` of `total` rows of `kind` written."""
        ...


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


def with_chinese(code: str, words: Iterable[str]) -> str:
    chinese = _first_chinese(words)
    return f"{code} ({chinese})" if chinese else code


def level_label(level: FacilityLevel | str) -> str:
    """`village_clinic (村卫生室)`: understood in both languages."""
    words = [word for word, value in FACILITY_LEVEL_ALIASES.items() if value == level]
    return with_chinese(str(level), words)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def clean(text: str) -> str:
    """NFKC (full-width digits and punctuation), invisible characters removed, trimmed."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip()


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
