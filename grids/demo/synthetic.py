"""A deterministic synthetic county, Jiexiu-sized by default, for the demo and the benchmarks.

`generate_county()` builds the three roster files of DESIGN §4 as rows (dicts keyed by
the English CSV headers): a county hospital with a TCM hospital and a maternal and
child health centre, township and community centres, village clinics of very different
sizes, village doctors at some of the clinics, and chronic patients with Chinese names,
conditions written in Chinese, and unique mobile numbers. Everything scales linearly
with `patients`; the same seed gives the same county.

The county keeps Jiexiu's arithmetic: grids of about 20, and village doctors who take
up to `DOCTOR_GRID_CAPACITY` grids each, covering the villages without a doctor of
their own. Clinics are packed into townships so that the doctors' capacity is used
(about 40 doctors for 11,500 patients); the township centres and the county hospital
have duty mobiles, and every clinic has volunteers, so `grids check` finds nothing.
"""

from __future__ import annotations

import csv
import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from grids.core.limits import DOCTOR_GRID_CAPACITY
from grids.core.vocabulary import condition_code
from grids.formation.partition import grid_sizes
from grids.formation.planner_records import (
    ClinicIn,
    DoctorIn,
    FormationInput,
    PatientIn,
)

JIEXIU_PATIENTS = 11_500
JIEXIU_TOWNSHIPS = 14
JIEXIU_CLINICS = 120
"""Village clinics and community stations with chronic patients (each forms its grids)."""
CLINIC_SIZE_SPREAD = 0.75
"""Sigma of the log-normal clinic sizes."""
JIEXIU_DOCTORS = 40
LEADER_EVERY = 10
"""Every tenth patient of a clinic volunteers and has a mobile."""

FACILITY_HEADERS = ("code", "name", "level", "parent_code", "phone")
DOCTOR_HEADERS = ("code", "name", "phone", "facility_code")
PATIENT_HEADERS = (
    "code",
    "name",
    "phone",
    "facility_code",
    "conditions",
    "birth_year",
    "sex",
    "volunteer",
)

COUNTY_CODE = "JX"
TOP_FACILITIES = (
    ("JXH01", "介休市人民医院", "county_hospital"),
    ("JXH02", "介休市中医医院", "tcm_hospital"),
    ("JXH03", "介休市妇幼保健计划生育服务中心", "mch_center"),
)
TOWNSHIP_NAMES = (
    ("义安镇卫生院", "township_center"),
    ("张兰镇卫生院", "township_center"),
    ("连福镇卫生院", "township_center"),
    ("洪山镇卫生院", "township_center"),
    ("龙凤镇卫生院", "township_center"),
    ("绵山镇卫生院", "township_center"),
    ("义棠镇卫生院", "township_center"),
    ("城关乡卫生院", "township_center"),
    ("宋古乡卫生院", "township_center"),
    ("三佳乡卫生院", "township_center"),
    ("北关街道社区卫生服务中心", "community_center"),
    ("西关街道社区卫生服务中心", "community_center"),
    ("东南街道社区卫生服务中心", "community_center"),
    ("西南街道社区卫生服务中心", "community_center"),
)
PLACE_SYLLABLES = "东西南北安宁平和兴旺丰泰福寿永清河山阳新兴隆盛庆吉祥源泉"

# Surnames weighted roughly by frequency in northern Shanxi.
SURNAMES = (
    ("王", 90), ("张", 80), ("李", 75), ("刘", 60), ("郭", 45), ("赵", 40), ("杨", 38),
    ("武", 30), ("梁", 28), ("田", 26), ("任", 25), ("韩", 24), ("侯", 22), ("宋", 21),
    ("贾", 20), ("陈", 20), ("孙", 16), ("马", 15), ("冀", 14), ("温", 14), ("闫", 13),
    ("吴", 12), ("周", 12), ("高", 12), ("范", 10), ("程", 10), ("薛", 9), ("乔", 9),
    ("董", 8), ("白", 8), ("许", 7), ("郝", 7), ("申", 6), ("霍", 6), ("史", 6),
    ("曹", 5), ("段", 5), ("康", 5), ("孟", 4), ("冯", 4),
)  # fmt: skip
MALE_GIVEN = (
    "建国", "国强", "志强", "建华", "卫东", "红军", "保国", "福贵", "德胜", "建军",
    "永明", "海", "军", "明", "伟", "勇", "富", "平", "文斌", "志刚", "建平", "润生",
    "振华", "玉亮", "俊", "忠", "宝山", "长青", "金锁", "二虎", "满仓", "铁柱",
    "东升", "成", "天明", "有福", "守义", "树林", "占元", "学文",
)  # fmt: skip
FEMALE_GIVEN = (
    "秀英", "桂英", "玉兰", "秀兰", "桂兰", "淑珍", "凤英", "玉梅", "翠花", "丽华",
    "红梅", "建英", "美兰", "金花", "素芳", "春梅", "爱华", "秀珍", "玉珍", "月娥",
    "彩霞", "俊梅", "丽萍", "桂芳", "润莲", "巧云", "二女", "改花", "兰英", "凤莲",
    "玉凤", "金莲", "梅", "英", "芳", "霞", "秀梅", "爱莲", "银花", "小红",
)  # fmt: skip

# Primary conditions (Chinese name, weight) and how often a second one comes with them.
PRIMARY_CONDITIONS = (
    ("高血压", 60.0),
    ("糖尿病", 21.0),
    ("冠心病", 8.0),
    ("脑卒中", 5.0),
    ("慢阻肺", 3.5),
    ("慢性肾病", 1.2),
    ("心力衰竭", 0.8),
    ("哮喘", 0.5),
)
SECOND_CONDITION_RATE = 0.22
MOBILE_PREFIXES = (
    "139", "138", "137", "136", "135", "134", "150", "151", "152", "157", "158", "159",
    "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186",
    "133", "153", "180", "181", "189", "177", "199",
)  # fmt: skip
VOLUNTEER_RATE = 0.3
EMPTY_CLINIC_RATE = 0.02
NO_PHONE_RATE = 0.06
NO_PHONE_VOLUNTEER_RATE = 0.015


@dataclass
class SyntheticCounty:
    """Rows of `facilities.csv`, `doctors.csv` and `patients.csv` (English headers)."""

    facilities: list[dict[str, str]] = field(default_factory=list)
    doctors: list[dict[str, str]] = field(default_factory=list)
    patients: list[dict[str, str]] = field(default_factory=list)


def _scaled(count: int, patients: int, minimum: int = 1) -> int:
    return max(minimum, round(count * patients / JIEXIU_PATIENTS))


class _Phones:
    """Unique Chinese mobiles: an affine permutation over every prefix and 8-digit suffix."""

    def __init__(self, rng: random.Random) -> None:
        self._space = len(MOBILE_PREFIXES) * 10**8
        multiplier = rng.randrange(10**9, 10**10)
        while math.gcd(multiplier, self._space) != 1:
            multiplier += 1
        self._multiplier = multiplier
        self._offset = rng.randrange(self._space)
        self._next = 0

    def take(self) -> str:
        number = (self._multiplier * self._next + self._offset) % self._space
        self._next += 1
        prefix, suffix = divmod(number, 10**8)
        return f"{MOBILE_PREFIXES[prefix]}{suffix:08d}"


class _Names:
    """Chinese names; equal names share one string to keep a million rows small."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        surnames, weights = zip(*SURNAMES, strict=True)
        self._surnames = surnames
        self._cumulative = list(_cumulative(weights))
        self._cache: dict[tuple[str, str], str] = {}

    def take(self, sex: str) -> str:
        rng = self._rng
        surname = rng.choices(self._surnames, cum_weights=self._cumulative)[0]
        given = rng.choice(MALE_GIVEN if sex == "M" else FEMALE_GIVEN)
        key = (surname, given)
        name = self._cache.get(key)
        if name is None:
            name = self._cache[key] = surname + given
        return name


def _cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _place_name(rng: random.Random, index: int) -> str:
    first = PLACE_SYLLABLES[index % len(PLACE_SYLLABLES)]
    second = rng.choice(PLACE_SYLLABLES)
    return first + second


def _village_name(rng: random.Random, community: bool) -> str:
    if community:
        return rng.choice(PLACE_SYLLABLES) + rng.choice(PLACE_SYLLABLES) + "社区卫生服务站"
    pattern = rng.random()
    if pattern < 0.5:
        surname = rng.choice(SURNAMES)[0]
        return surname + "家" + rng.choice("庄堡沟坡湾营峪寨岭") + "村卫生室"
    return rng.choice(PLACE_SYLLABLES) + rng.choice("庄堡沟坡湾营峪寨岭屯") + "村卫生室"


def generate_county(patients: int = JIEXIU_PATIENTS, seed: int = 48) -> SyntheticCounty:
    """A county of `patients` chronic patients; the same seed gives the same county."""
    if patients < 1:
        raise ValueError("patients must be at least 1")
    rng = random.Random(seed)
    phones = _Phones(rng)
    names = _Names(rng)
    county = SyntheticCounty()

    county_code = TOP_FACILITIES[0][0]
    for code, name, level in TOP_FACILITIES:
        parent = "" if level == "county_hospital" else county_code
        # The county hospital's duty phone is on every ladder: a mobile, so it gets SMS.
        phone = phones.take() if level == "county_hospital" else None
        county.facilities.append(
            {
                "code": code,
                "name": name,
                "level": level,
                "parent_code": parent,
                "phone": phone or f"0354-72{len(county.facilities) + 1:05d}",
            }
        )

    township_count = _scaled(JIEXIU_TOWNSHIPS, patients)
    clinic_count = max(township_count, _scaled(JIEXIU_CLINICS, patients))
    width = max(2, len(str(township_count)))
    townships: list[str] = []
    for index in range(township_count):
        if index < len(TOWNSHIP_NAMES):
            name, level = TOWNSHIP_NAMES[index]
        else:
            community = rng.random() < 0.3
            suffix = "街道社区卫生服务中心" if community else "镇卫生院"
            name = _place_name(rng, index) + suffix
            level = "community_center" if community else "township_center"
        code = f"{COUNTY_CODE}{index + 1:0{width}d}"
        townships.append(code)
        county.facilities.append(
            {
                "code": code,
                "name": name,
                "level": level,
                "parent_code": county_code,
                "phone": phones.take(),  # the duty mobile of the escalation ladder
            }
        )
    township_levels = {row["code"]: row["level"] for row in county.facilities}

    # Clinic sizes vary a lot (log-normal); a few clinics have no chronic patients.
    weights = [rng.lognormvariate(0.0, CLINIC_SIZE_SPREAD) for _ in range(clinic_count)]
    empty = max(1, round(EMPTY_CLINIC_RATE * clinic_count)) if clinic_count > 5 else 0
    for index in rng.sample(range(clinic_count), empty):
        weights[index] = 0.0
    chosen = rng.choices(range(clinic_count), cum_weights=_cumulative(weights), k=patients)
    sizes = Counter(chosen)
    del chosen
    grids_of = [len(grid_sizes(sizes[index])) for index in range(clinic_count)]
    members_of = _pack_clinics(grids_of, township_count)

    clinic_parent: list[str] = []
    clinic_codes: list[str] = []
    clinic_sizes: list[int] = []
    for township_code, members in zip(townships, members_of, strict=True):
        clinic_width = max(2, len(str(len(members))))
        community = township_levels[township_code] == "community_center"
        for number, index in enumerate(members, start=1):
            code = f"{township_code}{number:0{clinic_width}d}"
            clinic_codes.append(code)
            clinic_parent.append(township_code)
            clinic_sizes.append(sizes[index])
            county.facilities.append(
                {
                    "code": code,
                    "name": _village_name(rng, community),
                    "level": "village_clinic",
                    "parent_code": township_code,
                    "phone": f"0354-{7400000 + len(clinic_codes):07d}",
                }
            )

    condition_names, condition_weights = zip(*PRIMARY_CONDITIONS, strict=True)
    condition_cumulative = _cumulative(condition_weights)
    joined: dict[tuple[str, str], str] = {}
    birth_years = [str(year) for year in range(1925, 1991)]
    code_width = max(6, len(str(patients)))
    rows = county.patients
    random_ = rng.random
    serial = 0
    for clinic_index, clinic_code in enumerate(clinic_codes):
        for position in range(clinic_sizes[clinic_index]):
            serial += 1
            sex = "M" if random_() < 0.48 else "F"
            primary = rng.choices(condition_names, cum_weights=condition_cumulative)[0]
            conditions = primary
            if random_() < SECOND_CONDITION_RATE:
                second = rng.choices(condition_names, cum_weights=condition_cumulative)[0]
                if second != primary:
                    key = (primary, second)
                    conditions = joined.get(key) or joined.setdefault(key, f"{primary};{second}")
            # One patient in ten at least volunteers, so every grid can have a coordinator
            # and a deputy; the rest as often as in Jiexiu.
            leads = position % LEADER_EVERY == 0
            volunteer = leads or random_() < VOLUNTEER_RATE
            no_phone = not leads and random_() < (
                NO_PHONE_VOLUNTEER_RATE if volunteer else NO_PHONE_RATE
            )
            if random_() < 0.95:
                year = round(rng.triangular(1935, 1975, 1955))
            else:
                year = rng.randint(1976, 1990)
            rows.append(
                {
                    "code": f"P{serial:0{code_width}d}",
                    "name": names.take(sex),
                    "phone": "" if no_phone else phones.take(),
                    "facility_code": clinic_code,
                    "conditions": conditions,
                    "birth_year": birth_years[year - 1925],
                    "sex": sex,
                    "volunteer": "y" if volunteer else "n",
                }
            )

    grids = [len(grid_sizes(size)) for size in clinic_sizes]
    _place_doctors(county, rng, phones, names, clinic_codes, clinic_parent, grids)
    return county


def _pack_clinics(grids_of: list[int], township_count: int) -> list[list[int]]:
    """Clinic indices per township, so each township's grids fill its doctors' capacity.

    The county gets ceil(grids / 15) doctors and a few more; each township its share.
    Clinics, largest first, go to the township with the most room left (a heap: a
    million patients pack in a blink), so few doctors are left with room to spare.
    """
    total = sum(grids_of)
    doctors = math.ceil(total / DOCTOR_GRID_CAPACITY) + math.ceil(township_count / 14)
    doctors = max(doctors, township_count)
    base, extra = divmod(doctors, township_count)
    room = [
        (-(base + (1 if index < extra else 0)) * DOCTOR_GRID_CAPACITY, index)
        for index in range(township_count)
    ]
    heapq.heapify(room)
    members: list[list[int]] = [[] for _ in range(township_count)]
    for index in sorted(range(len(grids_of)), key=lambda i: (-grids_of[i], i)):
        left, township = heapq.heappop(room)
        members[township].append(index)
        heapq.heappush(room, (left + grids_of[index], township))
    # Every township gets a clinic (a tiny county has fewer clinics than the room says).
    for own in members:
        if not own:
            donor = max(range(township_count), key=lambda t: len(members[t]))
            if len(members[donor]) > 1:
                own.append(members[donor].pop())
    return [sorted(own) for own in members]


def _place_doctors(
    county: SyntheticCounty,
    rng: random.Random,
    phones: _Phones,
    names: _Names,
    clinic_codes: list[str],
    clinic_parent: list[str],
    grids: list[int],
) -> None:
    """Every township gets the doctors its grids need, at most 15 grids each.

    The busiest clinics get doctors of their own (enough for their own grids), as long
    as the township's count allows; their spare capacity covers the clinics without a
    doctor, as in Jiexiu, where about 40 village doctors serve 160 villages.
    """
    by_township: dict[str, list[tuple[int, int]]] = {}
    for index, count in enumerate(grids):
        if count:
            by_township.setdefault(clinic_parent[index], []).append((count, index))
    placements: list[str] = []
    for township in sorted(by_township):
        clinics = sorted(by_township[township], key=lambda item: (-item[0], item[1]))
        total = sum(count for count, _ in clinics)
        left = max(
            math.ceil(total / DOCTOR_GRID_CAPACITY),
            math.ceil(clinics[0][0] / DOCTOR_GRID_CAPACITY),
        )
        staffed: list[int] = []
        for count, index in clinics:
            need = math.ceil(count / DOCTOR_GRID_CAPACITY)
            if need <= left:
                placements.extend([clinic_codes[index]] * need)
                staffed.append(index)
                left -= need
        placements.extend([clinic_codes[staffed[0]]] * left)
    placements.sort()
    width = max(3, len(str(len(placements))))
    for number, clinic_code in enumerate(placements, start=1):
        sex = "M" if rng.random() < 0.7 else "F"
        county.doctors.append(
            {
                "code": f"D{number:0{width}d}",
                "name": names.take(sex),
                "phone": phones.take(),
                "facility_code": clinic_code,
            }
        )


def write_csv_files(county: SyntheticCounty, directory: Path) -> dict[str, Path]:
    """Write `facilities.csv`, `doctors.csv` and `patients.csv` (UTF-8) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "facilities": (FACILITY_HEADERS, county.facilities),
        "doctors": (DOCTOR_HEADERS, county.doctors),
        "patients": (PATIENT_HEADERS, county.patients),
    }
    paths: dict[str, Path] = {}
    for kind, (headers, rows) in files.items():
        path = directory / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=headers, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        paths[kind] = path
    return paths


def formation_input(county: SyntheticCounty) -> FormationInput:
    """The county as formation sees it before any grid exists (ids are row numbers)."""
    ids = {row["code"]: number for number, row in enumerate(county.facilities, start=1)}
    clinics = [
        ClinicIn(ids[row["code"]], row["code"], ids[row["parent_code"]])
        for row in county.facilities
        if row["level"] == "village_clinic"
    ]
    doctors = [
        DoctorIn(number, row["code"], ids[row["facility_code"]])
        for number, row in enumerate(county.doctors, start=1)
    ]
    codes: dict[str, str] = {}
    patients = []
    for number, row in enumerate(county.patients, start=1):
        names = row["conditions"].split(";")
        listed = []
        for name in names:
            code = codes.get(name)
            if code is None:
                code = codes[name] = condition_code(name) or name
            listed.append(code)
        code = listed[0]
        patients.append(
            PatientIn(
                number,
                row["code"],
                ids[row["facility_code"]],
                code,
                "active",
                row["volunteer"] == "y",
                bool(row["phone"]),
                tuple(listed) if len(listed) > 1 else (),
            )
        )
    return FormationInput(clinics, doctors, patients)
