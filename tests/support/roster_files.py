"""Small roster CSV files for the roster import tests."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from grids.core.vocabulary import CONDITIONS
from grids.roster.records import RosterFiles

FACILITIES_HEADER = "code,name,level,parent_code,phone"
DOCTORS_HEADER = "code,name,phone,facility_code"
PATIENTS_HEADER = "code,name,phone,facility_code,conditions,birth_year,sex,volunteer"

FACILITIES = (
    FACILITIES_HEADER,
    "C1,介休市人民医院,county_hospital,,13900007200",
    "T1,义安镇卫生院,township_center,C1,",
    "V1,东村卫生室,village_clinic,T1,",
    "V2,西村卫生室,village_clinic,T1,",
)
DOCTORS = (
    DOCTORS_HEADER,
    "D1,王医生,13900000001,V1",
    "D2,李医生,13900000002,V2",
)
PATIENTS = (
    PATIENTS_HEADER,
    "P1,张秀英,13900000011,V1,高血压;糖尿病,1952,F,y",
    "P2,李建国,13900000012,V1,hypertension,1948,M,n",
    "P3,王桂兰,,V2,糖尿病,1960,女,",
)


def csv_file(
    directory: Path, name: str, *lines: str, encoding: str = "utf-8", bom: bool = False
) -> Path:
    path = Path(directory) / name
    data = ("\n".join(lines) + "\n").encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def small_roster(
    directory: Path,
    *,
    facilities: tuple[str, ...] | None = FACILITIES,
    doctors: tuple[str, ...] | None = DOCTORS,
    patients: tuple[str, ...] | None = PATIENTS,
) -> RosterFiles:
    """Two village clinics under one township, two doctors, three patients."""
    return RosterFiles(
        facilities=csv_file(directory, "facilities.csv", *facilities) if facilities else None,
        doctors=csv_file(directory, "doctors.csv", *doctors) if doctors else None,
        patients=csv_file(directory, "patients.csv", *patients) if patients else None,
    )


CONDITION_NAMES = [name for c in CONDITIONS for name in (c.code, c.aliases[0])]


@st.composite
def rosters(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    """A valid roster: townships under a county hospital, clinics, doctors, patients."""
    townships = draw(st.integers(1, 3))
    clinics = [f"V{n}" for n in range(draw(st.integers(1, 5)))]
    facilities = [FACILITIES_HEADER, "C,县医院,县医院,,"]
    facilities += [f"T{n},镇{n},卫生院,C," for n in range(townships)]
    facilities += [
        f"{code},村{code},村卫生室,T{draw(st.integers(0, townships - 1))}," for code in clinics
    ]
    phones = iter(range(10_000_000))
    doctors = [DOCTORS_HEADER] + [
        f"D{n},医生{n},139{next(phones):08d},{draw(st.sampled_from(clinics))}"
        for n in range(draw(st.integers(0, 4)))
    ]
    patients = [PATIENTS_HEADER]
    for n in range(draw(st.integers(0, 30))):
        conditions = draw(st.lists(st.sampled_from(CONDITION_NAMES), min_size=1, max_size=3))
        separator = draw(st.sampled_from([";", "；", "、", "，"]))
        phone = f"1380{next(phones):07d}" if draw(st.booleans()) else ""
        year = draw(st.one_of(st.just(""), st.integers(1900, 2026).map(str)))
        sex = draw(st.sampled_from(["", "M", "F", "男", "女"]))
        volunteer = draw(st.sampled_from(["", "y", "n", "是", "否"]))
        patients.append(
            f"P{n},患者{n},{phone},{draw(st.sampled_from(clinics))},"
            f'"{separator.join(conditions)}",{year},{sex},{volunteer}'
        )
    return facilities, doctors, patients
