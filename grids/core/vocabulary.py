"""The fixed vocabularies of the roster: facility levels, conditions, statuses.

Aliases are what people write in a CSV or an SMS (English codes, Chinese names,
common abbreviations); each maps onto one code. Display names come from the
message catalogues (`condition.<code>`, `level.<code>`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class FacilityLevel(StrEnum):
    COUNTY_HOSPITAL = "county_hospital"
    TCM_HOSPITAL = "tcm_hospital"
    MCH_CENTER = "mch_center"
    TOWNSHIP_CENTER = "township_center"
    COMMUNITY_CENTER = "community_center"
    VILLAGE_CLINIC = "village_clinic"


FACILITY_LEVEL_ALIASES: dict[str, FacilityLevel] = {
    "county_hospital": FacilityLevel.COUNTY_HOSPITAL,
    "县医院": FacilityLevel.COUNTY_HOSPITAL,
    "县人民医院": FacilityLevel.COUNTY_HOSPITAL,
    "市人民医院": FacilityLevel.COUNTY_HOSPITAL,
    "人民医院": FacilityLevel.COUNTY_HOSPITAL,
    "县级医院": FacilityLevel.COUNTY_HOSPITAL,
    "tcm_hospital": FacilityLevel.TCM_HOSPITAL,
    "中医医院": FacilityLevel.TCM_HOSPITAL,
    "中医院": FacilityLevel.TCM_HOSPITAL,
    "mch_center": FacilityLevel.MCH_CENTER,
    "妇幼中心": FacilityLevel.MCH_CENTER,
    "妇幼保健院": FacilityLevel.MCH_CENTER,
    "妇幼保健计划生育服务中心": FacilityLevel.MCH_CENTER,
    "township_center": FacilityLevel.TOWNSHIP_CENTER,
    "乡镇卫生院": FacilityLevel.TOWNSHIP_CENTER,
    "卫生院": FacilityLevel.TOWNSHIP_CENTER,
    "community_center": FacilityLevel.COMMUNITY_CENTER,
    "社区卫生服务中心": FacilityLevel.COMMUNITY_CENTER,
    "village_clinic": FacilityLevel.VILLAGE_CLINIC,
    "村卫生室": FacilityLevel.VILLAGE_CLINIC,
    "卫生室": FacilityLevel.VILLAGE_CLINIC,
    "社区卫生服务站": FacilityLevel.VILLAGE_CLINIC,
}

# Which levels may sit directly above which: the 15-minute service circle.
ALLOWED_PARENT_LEVELS: dict[FacilityLevel, frozenset[FacilityLevel | None]] = {
    FacilityLevel.COUNTY_HOSPITAL: frozenset({None}),
    FacilityLevel.TCM_HOSPITAL: frozenset({None, FacilityLevel.COUNTY_HOSPITAL}),
    FacilityLevel.MCH_CENTER: frozenset({None, FacilityLevel.COUNTY_HOSPITAL}),
    FacilityLevel.TOWNSHIP_CENTER: frozenset({FacilityLevel.COUNTY_HOSPITAL}),
    FacilityLevel.COMMUNITY_CENTER: frozenset({FacilityLevel.COUNTY_HOSPITAL}),
    FacilityLevel.VILLAGE_CLINIC: frozenset(
        {FacilityLevel.TOWNSHIP_CENTER, FacilityLevel.COMMUNITY_CENTER}
    ),
}


class PatientStatus(StrEnum):
    ACTIVE = "active"
    HOSPITALISED = "hospitalised"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    INACTIVE = "inactive"


PLACEABLE_STATUSES = frozenset({PatientStatus.ACTIVE, PatientStatus.HOSPITALISED})
GONE_STATUSES = frozenset(
    {PatientStatus.DECEASED, PatientStatus.MOVED_AWAY, PatientStatus.INACTIVE}
)
"""Members in these states are no longer followed week by week."""


class MemberEvent(StrEnum):
    """What a coordinator reports of a member besides readings."""

    HOSPITALISED = "hospitalised"
    DISCHARGED = "discharged"
    MISSED_MEDICATION = "missed_medication"
    DIED = "died"


PATIENT_STATUS_ALIASES: dict[str, PatientStatus] = {
    "active": PatientStatus.ACTIVE,
    "在管": PatientStatus.ACTIVE,
    "正常": PatientStatus.ACTIVE,
    "hospitalised": PatientStatus.HOSPITALISED,
    "hospitalized": PatientStatus.HOSPITALISED,
    "住院": PatientStatus.HOSPITALISED,
    "moved_away": PatientStatus.MOVED_AWAY,
    "moved": PatientStatus.MOVED_AWAY,
    "迁出": PatientStatus.MOVED_AWAY,
    "搬走": PatientStatus.MOVED_AWAY,
    "deceased": PatientStatus.DECEASED,
    "dead": PatientStatus.DECEASED,
    "死亡": PatientStatus.DECEASED,
    "去世": PatientStatus.DECEASED,
    "已故": PatientStatus.DECEASED,
    "inactive": PatientStatus.INACTIVE,
    "停管": PatientStatus.INACTIVE,
    "失访": PatientStatus.INACTIVE,
}


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


# `1` and `2` are the national sex codes (GB/T 2261.1) that health record systems export.
SEX_ALIASES: dict[str, Sex] = {
    "m": Sex.MALE,
    "male": Sex.MALE,
    "男": Sex.MALE,
    "男性": Sex.MALE,
    "1": Sex.MALE,
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "女": Sex.FEMALE,
    "女性": Sex.FEMALE,
    "2": Sex.FEMALE,
}

YES_ALIASES = frozenset({"y", "yes", "1", "true", "是", "愿意", "√", "✓", "✔"})
NO_ALIASES = frozenset({"n", "no", "0", "false", "否", "不", "不愿意", "×", "✗", "✕", ""})


class DoctorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


@dataclass(frozen=True)
class Condition:
    code: str
    abbreviation: str
    aliases: tuple[str, ...]


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "hypertension",
        "HTN",
        ("高血压", "高血压病", "原发性高血压", "htn", "high blood pressure"),
    ),
    Condition(
        "diabetes",
        "DM",
        (
            "糖尿病",
            "2型糖尿病",
            "二型糖尿病",
            "ii型糖尿病",
            "1型糖尿病",
            "dm",
            "t2dm",
            "diabetes mellitus",
            "type 2 diabetes",
        ),
    ),
    Condition(
        "coronary_heart_disease",
        "CHD",
        (
            "冠心病",
            "冠状动脉粥样硬化性心脏病",
            "chd",
            "cad",
            "coronary heart disease",
            "coronary artery disease",
        ),
    ),
    Condition(
        "stroke",
        "STK",
        ("脑卒中", "卒中", "中风", "脑梗", "脑梗死", "脑梗塞", "脑出血", "cva"),
    ),
    Condition(
        "copd",
        "COPD",
        ("慢阻肺", "慢性阻塞性肺疾病", "慢性阻塞性肺病", "chronic obstructive pulmonary disease"),
    ),
    Condition(
        "chronic_kidney_disease",
        "CKD",
        ("慢性肾病", "慢性肾脏病", "慢性肾功能不全", "ckd"),
    ),
    Condition("heart_failure", "HF", ("心力衰竭", "心衰", "慢性心衰", "慢性心力衰竭", "hf")),
    Condition("asthma", "AST", ("哮喘", "支气管哮喘")),
)

MIXED = "mixed"
MIXED_ABBREVIATION = "MIX"
CONDITION_CODES = tuple(c.code for c in CONDITIONS)
CONDITION_BY_CODE = {c.code: c for c in CONDITIONS}


def fold(text: str) -> str:
    """The comparison form of a vocabulary word: NFKC, trimmed, lower case, single spaces."""
    normalised = unicodedata.normalize("NFKC", text).strip().lower()
    return " ".join(normalised.replace("_", " ").split())


_CONDITION_LOOKUP: dict[str, str] = {}
for _condition in CONDITIONS:
    for _name in (_condition.code, _condition.abbreviation, *_condition.aliases):
        _CONDITION_LOOKUP[fold(_name)] = _condition.code


def condition_code(word: str) -> str | None:
    """`高血压`, `Hypertension`, `HTN` -> `hypertension`; None when unknown."""
    return _CONDITION_LOOKUP.get(fold(word))


def condition_abbreviation(code: str) -> str:
    if code == MIXED:
        return MIXED_ABBREVIATION
    return CONDITION_BY_CODE[code].abbreviation


def lookup_alias(aliases: Mapping[str, T], word: str) -> T | None:
    folded = fold(word)
    return aliases.get(folded) or aliases.get(folded.replace(" ", "_"))
