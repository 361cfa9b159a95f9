"""Reading roster CSV files: encodings, headers, values, and each row's own errors."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from grids.core.vocabulary import FacilityLevel, PatientStatus
from grids.roster.reading import read_roster_file
from grids.roster.records import (
    DOCTORS,
    FACILITIES,
    PATIENTS,
    FacilityRow,
    ParsedFile,
    PatientRow,
    RowError,
    render_error,
    render_notice,
)
from i18n import catalogue
from tests.support.roster_files import (
    DOCTORS_HEADER,
    FACILITIES_HEADER,
    PATIENTS_HEADER,
    csv_file,
)
from tests.support.roster_files import PATIENTS as PATIENT_LINES

TODAY = date(2026, 6, 1)


def read(tmp_path: Path, kind: str, *lines: str, **options: object) -> ParsedFile:
    path = csv_file(tmp_path, f"{kind}.csv", *lines, **options)  # type: ignore[arg-type]
    return read_roster_file(path, kind, today=TODAY)


def patients(tmp_path: Path, *rows: str, header: str = PATIENTS_HEADER) -> ParsedFile:
    return read(tmp_path, PATIENTS, header, *rows)


def only_patient(parsed: ParsedFile) -> PatientRow:
    assert parsed.errors == []
    [entry] = parsed.entries
    assert isinstance(entry.row, PatientRow)
    return entry.row


def reasons(parsed: ParsedFile) -> list[tuple[int | None, str | None, str]]:
    return [(e.line, e.column, e.reason_key.removeprefix("roster.error.")) for e in parsed.errors]


# --- encodings and layout ---------------------------------------------------------------------


def test_english_headers_give_typed_rows(tmp_path: Path) -> None:
    row = only_patient(patients(tmp_path, "P1,张秀英,13912345678,V1,高血压;糖尿病,1952,F,y"))
    assert row == PatientRow(
        line=2,
        code="P1",
        name="张秀英",
        phone="+8613912345678",
        facility_code="V1",
        conditions=("hypertension", "diabetes"),
        birth_year=1952,
        sex="F",
        volunteer=True,
        status=None,
        died_on=None,
        language=None,
    )


def test_chinese_headers_in_any_order_mean_the_same_columns(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "是,1952,女,高血压,V1,13912345678,张秀英,P1",
        header="愿意担任网格员,出生年份,性别,慢病种类,所属机构编码,手机号,姓名,编码",
    )
    english = patients(tmp_path, "P1,张秀英,13912345678,V1,高血压,1952,F,y")
    assert only_patient(parsed) == only_patient(english)
    assert parsed.headers["phone"] == "手机号"


def test_headers_match_whatever_the_case_and_width(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,,V1,HTN,,,",
        header="ＣＯＤＥ,Name,Phone,Facility_Code,CONDITIONS,Birth Year,SEX,Volunteer",
    )
    assert only_patient(parsed).conditions == ("hypertension",)


def test_facility_code_header_means_the_code_in_the_facilities_file(tmp_path: Path) -> None:
    parsed = read(
        tmp_path,
        FACILITIES,
        "机构编码,机构名称,机构级别,上级机构编码,值班电话",
        "V1,东村卫生室,村卫生室,T1,0354-7400001",
    )
    assert parsed.errors == []
    row = parsed.entries[0].row
    assert isinstance(row, FacilityRow) and row.code == "V1"
    assert (row.level, row.parent_code, row.phone) == (
        FacilityLevel.VILLAGE_CLINIC,
        "T1",
        "+863547400001",
    )


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    parsed = read(tmp_path, PATIENTS, PATIENTS_HEADER, PATIENT_LINES[1], bom=True)
    assert parsed.errors == [] and parsed.encoding == "utf-8"
    assert parsed.entries[0].code == "P1"


def test_a_gb18030_file_is_read_and_a_notice_says_so(tmp_path: Path) -> None:
    parsed = read(
        tmp_path,
        PATIENTS,
        "编码,姓名,电话,卫生室编码,慢病,出生年份,性别,志愿者",
        "P1,张秀英,13912345678,V1,高血压、慢阻肺,1952,女,是",
        encoding="gb18030",
    )
    row = only_patient(parsed)
    assert (row.name, row.conditions, row.sex) == ("张秀英", ("hypertension", "copd"), "F")
    assert parsed.encoding == "gb18030"
    [notice] = parsed.notices
    assert "GB18030" in render_notice(notice, "patients.csv", "zh_CN")
    assert "GB18030" in render_notice(notice, "patients.csv", "en")


def test_bytes_that_are_neither_utf8_nor_gb18030_are_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(PATIENTS_HEADER.encode() + b"\nP1,\x80\xff,,V1,HTN,,,\n")
    parsed = read_roster_file(path, PATIENTS, today=TODAY)
    assert reasons(parsed) == [(None, None, "undecodable")]
    assert parsed.has_file_error and parsed.entries == []
    for language in ("zh_CN", "en"):
        text = render_error(parsed.errors[0], "patients.csv", language)
        assert "2" in text and "UTF-8" in text and "GB18030" in text


@pytest.mark.parametrize(
    "junk",
    [b"\xff\xfe\x80\x81", b"\x80\xff", b"M\xfcller \x81", b"\xfe\xfe\xfe\xfe\xa0"],
)
def test_junk_bytes_are_a_file_error_in_words(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(PATIENTS_HEADER.encode() + b"\nP1," + junk + b",,V1,HTN,,,\n")
    parsed = read_roster_file(path, PATIENTS, today=TODAY)
    assert parsed.has_file_error
    for error in parsed.errors:
        assert render_error(error, "patients.csv", "zh_CN")


def test_a_nul_in_a_cell_is_an_error_of_that_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(
        PATIENTS_HEADER + "\nP1,张\x00秀英,13900000011,V1,高血压,,,\nP2,李四,,V1,高血压,,,\n",
        encoding="utf-8",
    )
    parsed = read_roster_file(path, PATIENTS, today=TODAY)
    assert reasons(parsed) == [(2, "name", "control_character")]
    assert not parsed.has_file_error
    assert "NUL" in render_error(parsed.errors[0], "patients.csv", "en")
    assert [entry.code for entry in parsed.entries if entry.row is not None] == ["P2"]


def test_excel_unicode_text_is_refused_with_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_bytes(PATIENTS_HEADER.encode("utf-16"))
    parsed = read_roster_file(path, PATIENTS, today=TODAY)
    assert reasons(parsed) == [(None, None, "utf16")]
    assert "CSV UTF-8" in render_error(parsed.errors[0], "patients.csv", "zh_CN")


def test_full_width_digits_and_punctuation_are_normalised(tmp_path: Path) -> None:
    row = only_patient(
        patients(
            tmp_path,
            "Ｐ１,张秀英,１３９－１２３４－５６７８,Ｖ１,高血压；糖尿病，冠心病,１９５２,男,ｙ",
        )
    )
    assert (row.code, row.facility_code) == ("P1", "V1")
    assert row.phone == "+8613912345678"
    assert row.conditions == ("hypertension", "diabetes", "coronary_heart_disease")
    assert (row.birth_year, row.volunteer) == (1952, True)


def test_line_numbers_are_physical_lines_with_blank_and_multiline_records(
    tmp_path: Path,
) -> None:
    parsed = patients(
        tmp_path,
        "",
        "P1,张秀英,,V1,高血压,1952,F,y",
        ",,,,,,,",
        'P2,"李\n建国",,V1,高血压,1948,M,n',
        "P3,王桂兰,,V1,感冒,1960,F,n",
    )
    assert [entry.line for entry in parsed.entries] == [3, 5, 7]
    assert reasons(parsed) == [(7, "conditions", "unknown_condition")]


def test_unknown_columns_are_ignored_with_a_notice(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path, "P1,张秀英,,V1,高血压,1952,F,y,x,y", header=PATIENTS_HEADER + ",备注,家庭住址"
    )
    only_patient(parsed)
    [notice] = parsed.notices
    assert notice.params == {"columns": "备注, 家庭住址"}


def test_a_missing_required_column_names_it_and_the_accepted_headers(tmp_path: Path) -> None:
    parsed = read(tmp_path, DOCTORS, "编码,姓名,所属机构", "D1,王医生,V1")
    assert reasons(parsed) == [(1, "phone", "missing_column")]
    text = render_error(parsed.errors[0], "doctors.csv", "zh_CN")
    assert "phone" in text and "手机号" in text and "联系电话" in text
    assert parsed.entries == []


def test_two_columns_meaning_the_same_thing_are_a_file_error(tmp_path: Path) -> None:
    parsed = read(tmp_path, DOCTORS, DOCTORS_HEADER + ",手机", "D1,王医生,13912345678,V1,")
    assert reasons(parsed) == [(1, "phone", "duplicate_column")]
    assert parsed.errors[0].params["headers"] == "phone, 手机"


def test_an_empty_file_is_a_file_error(tmp_path: Path) -> None:
    parsed = read(tmp_path, FACILITIES, "", "  ")
    assert reasons(parsed) == [(None, None, "no_header")]


def test_optional_columns_may_be_left_out(tmp_path: Path) -> None:
    parsed = read(tmp_path, PATIENTS, "code,name,facility_code,conditions", "P1,张秀英,V1,高血压")
    row = only_patient(parsed)
    assert parsed.columns == {"code", "name", "facility_code", "conditions"}
    assert (row.phone, row.birth_year, row.sex, row.volunteer) == (None, None, None, False)


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "codes"),
    [
        ("高血压", ("hypertension",)),
        ("高血压;糖尿病", ("hypertension", "diabetes")),
        ("糖尿病、高血压、糖尿病", ("diabetes", "hypertension")),
        ("脑梗死/慢阻肺", ("stroke", "copd")),
        ("2型糖尿病, 心衰", ("diabetes", "heart_failure")),
        ("CHD；CKD", ("coronary_heart_disease", "chronic_kidney_disease")),
        ("支气管哮喘", ("asthma",)),
    ],
)
def test_conditions_in_chinese_or_english_first_is_primary(
    tmp_path: Path, written: str, codes: tuple[str, ...]
) -> None:
    row = only_patient(patients(tmp_path, f'P1,张秀英,,V1,"{written}",,,'))
    assert row.conditions == codes
    assert row.primary_condition == codes[0]


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("13912345678", "+8613912345678"),
        ("139 1234 5678", "+8613912345678"),
        ("+86 139-1234-5678", "+8613912345678"),
        ("008613912345678", "+8613912345678"),
        ("１３９１２３４５６７８", "+8613912345678"),
    ],
)
def test_bare_chinese_mobiles_are_normalised_to_e164(
    tmp_path: Path, written: str, e164: str
) -> None:
    parsed = read(tmp_path, DOCTORS, DOCTORS_HEADER, f"D1,王医生,{written},V1")
    assert parsed.errors == []
    row = parsed.entries[0].row
    assert row is not None and row.phone == e164


def test_status_death_date_and_language_columns(tmp_path: Path) -> None:
    header = PATIENTS_HEADER + ",状态,死亡日期,语言"
    row = only_patient(
        patients(tmp_path, "P1,张秀英,,V1,高血压,1940,F,n,死亡,2026/3/7,英文", header=header)
    )
    assert (row.status, row.died_on, row.language) == (
        PatientStatus.DECEASED,
        date(2026, 3, 7),
        "en",
    )


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("在管", PatientStatus.ACTIVE),
        ("住院", PatientStatus.HOSPITALISED),
        ("迁出", PatientStatus.MOVED_AWAY),
        ("停管", PatientStatus.INACTIVE),
        ("moved_away", PatientStatus.MOVED_AWAY),
        ("", None),
    ],
)
def test_status_words(tmp_path: Path, written: str, status: PatientStatus | None) -> None:
    row = only_patient(
        patients(tmp_path, f"P1,张秀英,,V1,高血压,,,,{written}", header=PATIENTS_HEADER + ",status")
    )
    assert row.status == status


# --- each row error, with its line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("P9,,,V1,高血压,1952,F,y", "name", "missing_value"),
        (",张秀英,,V1,高血压,1952,F,y", "code", "missing_value"),
        ("P9,张秀英,,,高血压,1952,F,y", "facility_code", "missing_value"),
        ("P9,张秀英,,V1,,1952,F,y", "conditions", "missing_value"),
        ("P9,张秀英,,V1,感冒,1952,F,y", "conditions", "unknown_condition"),
        ("P9,张秀英,,V1,高血压;感冒,1952,F,y", "conditions", "unknown_condition"),
        ("P9,张秀英,1391234567,V1,高血压,1952,F,y", "phone", "invalid_phone"),
        ("P9,张秀英,12345678901,V1,高血压,1952,F,y", "phone", "invalid_phone"),
        ("P9,张秀英,1.39123E+10,V1,高血压,1952,F,y", "phone", "phone_scientific"),
        ("P9,张秀英,,V1,高血压,1899,F,y", "birth_year", "birth_year_range"),
        ("P9,张秀英,,V1,高血压,2027,F,y", "birth_year", "birth_year_range"),
        ("P9,张秀英,,V1,高血压,五二年,F,y", "birth_year", "birth_year_range"),
        ("P9,张秀英,,V1,高血压,1952,X,y", "sex", "unknown_sex"),
        ("P9,张秀英,,V1,高血压,1952,F,maybe", "volunteer", "unknown_volunteer"),
        ("P9," + "张" * 61 + ",,V1,高血压,1952,F,y", "name", "too_long"),
        ("P" * 33 + ",张秀英,,V1,高血压,1952,F,y", "code", "too_long"),
    ],
)
def test_patient_row_errors_name_line_and_column(
    tmp_path: Path, row: str, column: str, reason: str
) -> None:
    parsed = patients(tmp_path, PATIENT_LINES[1], row)
    assert reasons(parsed) == [(3, column, reason)]
    assert parsed.entries[0].row is not None and parsed.entries[1].row is None
    for language in ("zh_CN", "en"):
        assert render_error(parsed.errors[0], "patients.csv", language)


@pytest.mark.parametrize(
    ("extra", "column", "reason"),
    [
        ("住过院,,", "status", "unknown_status"),
        ("deceased,2026-02-30,", "died_on", "invalid_date"),
        ("deceased,2026-06-02,", "died_on", "future_date"),
        ("active,2026-01-02,", "died_on", "died_on_not_deceased"),
        (",,fr", "language", "unknown_language"),
    ],
)
def test_optional_column_errors(tmp_path: Path, extra: str, column: str, reason: str) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,,V1,高血压,1940,F,n," + extra,
        header=PATIENTS_HEADER + ",status,died_on,language",
    )
    assert reasons(parsed) == [(2, column, reason)]


def test_every_bad_field_of_a_row_is_reported_at_once(tmp_path: Path) -> None:
    parsed = patients(tmp_path, "P1,张秀英,123,V1,感冒,1800,X,maybe")
    assert [column for _, column, _ in reasons(parsed)] == [
        "phone",
        "conditions",
        "birth_year",
        "sex",
        "volunteer",
    ]


def test_doctors_need_a_phone(tmp_path: Path) -> None:
    parsed = read(tmp_path, DOCTORS, DOCTORS_HEADER, "D1,王医生,,V1")
    assert reasons(parsed) == [(2, "phone", "missing_value")]


def test_facility_levels_in_chinese_and_unknown_levels(tmp_path: Path) -> None:
    parsed = read(
        tmp_path,
        FACILITIES,
        FACILITIES_HEADER,
        "C1,介休市人民医院,县医院,,",
        "T1,义安镇卫生院,卫生院,C1,",
        "X1,某诊所,诊所,T1,",
    )
    levels = [entry.row.level for entry in parsed.entries if isinstance(entry.row, FacilityRow)]
    assert levels == [FacilityLevel.COUNTY_HOSPITAL, FacilityLevel.TOWNSHIP_CENTER]
    assert reasons(parsed) == [(4, "level", "unknown_level")]
    assert "village_clinic (村卫生室)" in parsed.errors[0].params["accepted"]


def test_a_duplicate_code_marks_every_copy_bad(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,,V1,高血压,1952,F,y",
        "P2,李建国,,V1,高血压,1948,M,n",
        "P1,张秀英,,V1,糖尿病,1952,F,y",
    )
    assert reasons(parsed) == [(2, "code", "duplicate_code"), (4, "code", "duplicate_code")]
    assert [e.params["lines"] for e in parsed.errors] == ["4", "2"]
    assert [entry.row is not None for entry in parsed.entries] == [False, True, False]


def test_error_messages_mask_phone_numbers(tmp_path: Path) -> None:
    parsed = patients(tmp_path, "P1,张秀英,1391234567,V1,高血压,1952,F,y")
    text = render_error(parsed.errors[0], "patients.csv", "en")
    assert "1391234567" not in text and "139****4567" in text
    assert text.startswith('patients.csv line 2, column "phone": invalid phone number')


def test_chinese_error_text_names_the_column_as_written(tmp_path: Path) -> None:
    parsed = patients(tmp_path, "P1,张秀英,,V1,感冒", header="编码,姓名,电话,所属机构,慢病")
    text = render_error(parsed.errors[0], "patients.csv", "zh_CN")
    assert text.startswith("patients.csv 第2行，“慢病”列：无法识别的慢病“感冒”")
    assert "hypertension (高血压)" in text


def test_every_roster_message_key_in_the_code_is_in_both_catalogues() -> None:
    root = Path(__file__).resolve().parents[2] / "grids" / "roster"
    source = "".join(path.read_text(encoding="utf-8") for path in sorted(root.glob("*.py")))
    keys = set(
        re.findall(r'"(roster\.(?:error|notice|summary|report|usage|progress)\.\w+)"', source)
    )
    assert len(keys) > 30
    for language in ("zh_CN", "en"):
        missing = sorted(key for key in keys if not catalogue(language).has(key))
        assert missing == [], language


def test_row_error_is_a_plain_value() -> None:
    error = RowError(PATIENTS, 3, "phone", "roster.error.invalid_phone", {"phone": "****"})
    assert error == RowError(PATIENTS, 3, "phone", "roster.error.invalid_phone", {"phone": "****"})
    assert not error.is_file_error


# --- what county spreadsheets contain ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "volunteer", "year", "expected"),
    [
        ("男性", "√", "1955", ("M", True, 1955)),
        ("女性", "×", "1955年", ("F", False, 1955)),
        ("1", "✔", "1955-03-07", ("M", True, 1955)),
        ("2", "否", "1955/3/7", ("F", False, 1955)),
        ("男", "Y", "1955年3月7日", ("M", True, 1955)),
        ("女", "N", "1955年3月", ("F", False, 1955)),
        ("F", "是", "1955.03", ("F", True, 1955)),
        ("M", "", "19550307", ("M", False, 1955)),
        ("M", "", "1955/3/7 0:00:00", ("M", False, 1955)),
    ],
)
def test_sex_volunteer_and_birth_year_as_county_spreadsheets_write_them(
    tmp_path: Path, sex: str, volunteer: str, year: str, expected: tuple[str, bool, int]
) -> None:
    row = only_patient(patients(tmp_path, f"P1,张秀英,,V1,高血压,{year},{sex},{volunteer}"))
    assert (row.sex, row.volunteer, row.birth_year) == expected


@pytest.mark.parametrize("year", ["55", "1955-13", "1955-02-30", "0000"])
def test_a_birth_year_that_is_not_a_full_year_or_a_real_date_is_refused(
    tmp_path: Path, year: str
) -> None:
    parsed = patients(tmp_path, f"P1,张秀英,,V1,高血压,{year},男,")
    assert reasons(parsed) == [(2, "birth_year", "birth_year_range")]


@pytest.mark.parametrize(
    ("written", "codes"),
    [
        ("高血压 糖尿病", ("hypertension", "diabetes")),
        ("高血压\n2型糖尿病", ("hypertension", "diabetes")),
        ("高血压\r\n冠心病", ("hypertension", "coronary_heart_disease")),
        ("high blood pressure", ("hypertension",)),
        ("Type 2 diabetes; HTN", ("diabetes", "hypertension")),
    ],
)
def test_conditions_separated_by_spaces_or_line_breaks_within_a_cell(
    tmp_path: Path, written: str, codes: tuple[str, ...]
) -> None:
    row = only_patient(patients(tmp_path, f'P1,张秀英,,V1,"{written}",,,'))
    assert row.conditions == codes


def test_words_that_are_not_all_conditions_are_reported_whole(tmp_path: Path) -> None:
    parsed = patients(tmp_path, 'P1,张秀英,,V1,"高血压 感冒",,,')
    assert reasons(parsed) == [(2, "conditions", "unknown_condition")]
    assert parsed.errors[0].params["value"] == "高血压 感冒"


@pytest.mark.parametrize("separator", ["\t", "，", ";"])
def test_files_separated_by_tabs_full_width_commas_or_semicolons_are_read(
    tmp_path: Path, separator: str
) -> None:
    parsed = patients(
        tmp_path,
        separator.join(["P1", "张秀英", "13912345678", "V1", "高血压", "1952", "F", "y"]),
        header=PATIENTS_HEADER.replace(",", separator),
    )
    row = only_patient(parsed)
    assert (row.code, row.phone, row.conditions, row.volunteer) == (
        "P1",
        "+8613912345678",
        ("hypertension",),
        True,
    )


def test_title_rows_above_the_header_are_skipped_with_a_notice(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,13912345678,V1,高血压,1952,F,y",
        header="介休市慢病患者花名册,,,,,,,\n制表日期：2026年5月,,,,,,,\n" + PATIENTS_HEADER,
    )
    row = only_patient(parsed)
    assert (row.line, row.code) == (4, "P1")
    [notice] = parsed.notices
    assert notice.key == "roster.notice.title_rows" and notice.params == {"lines": "1-2"}
    assert "1-2" in render_notice(notice, "patients.csv", "zh_CN")
    assert "1-2" in render_notice(notice, "patients.csv", "en")


def test_a_row_with_more_values_than_columns_is_one_clear_error(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,老,13912345678,V1,高血压,1952,F,y",
        "P2,李建国,13912345679,V1,高血压,1948,M,n,,,",
    )
    assert reasons(parsed) == [(2, None, "too_many_values")]
    assert parsed.errors[0].params == {"count": 9, "columns": 8}
    assert [entry.row is not None for entry in parsed.entries] == [False, True]
    for language in ("zh_CN", "en"):
        text = render_error(parsed.errors[0], "patients.csv", language)
        assert "9" in text and "8" in text and "13912345678" not in text


def test_a_phone_number_in_any_echoed_value_is_masked(tmp_path: Path) -> None:
    parsed = patients(tmp_path, "P1,张秀英,,V1,13912345678,139 1234 5679,F,y")
    assert [column for _, column, _ in reasons(parsed)] == ["conditions", "birth_year"]
    for error in parsed.errors:
        for language in ("zh_CN", "en"):
            text = render_error(error, "patients.csv", language)
            assert "12345678" not in text and "1234 5679" not in text


@pytest.mark.parametrize("kind", [DOCTORS, PATIENTS])
def test_a_landline_is_refused_for_people_who_get_sms(tmp_path: Path, kind: str) -> None:
    header = DOCTORS_HEADER if kind == DOCTORS else PATIENTS_HEADER
    line = "X1,王医生,0354-7221234,V1" + ("" if kind == DOCTORS else ",高血压,,,")
    parsed = read(tmp_path, kind, header, line)
    assert reasons(parsed) == [(2, "phone", "landline")]
    text = render_error(parsed.errors[0], f"{kind}.csv", "zh_CN")
    assert "7221234" not in text and "手机" in text


def test_a_death_date_with_no_status_means_deceased(tmp_path: Path) -> None:
    without_status = only_patient(
        patients(
            tmp_path,
            "P1,张秀英,,V1,高血压,1940,F,n,2026-03-07",
            header=PATIENTS_HEADER + ",死亡日期",
        )
    )
    blank_status = only_patient(
        patients(
            tmp_path,
            "P1,张秀英,,V1,高血压,1940,F,n,,2026-03-07 00:00:00",
            header=PATIENTS_HEADER + ",状态,死亡日期",
        )
    )
    for row in (without_status, blank_status):
        assert (row.status, row.died_on) == (PatientStatus.DECEASED, date(2026, 3, 7))


def test_header_words_of_public_health_record_exports(tmp_path: Path) -> None:
    parsed = patients(
        tmp_path,
        "P1,张秀英,13912345678,V1,高血压,1952-04-01,女,是,在管",
        header="个人档案编号,姓名,本人电话,管理机构编码,慢性病,出生日期,性别,是否愿意担任网格员,档案状态",
    )
    row = only_patient(parsed)
    assert (row.code, row.facility_code, row.birth_year, row.status) == (
        "P1",
        "V1",
        1952,
        PatientStatus.ACTIVE,
    )
    facilities = read(
        tmp_path, FACILITIES, "机构代码,机构名称,机构类别,上级机构代码", "C1,县医院,县医院,"
    )
    assert facilities.errors == []


def test_an_undecodable_byte_deep_in_a_utf8_file_is_reported_at_its_line(tmp_path: Path) -> None:
    rows = [f"P{n},张秀英{n},,V1,高血压,1952,F,y".encode() for n in range(2, 1501)]
    bad = "P1501,王桂兰,,V1,高血压,1960,F,".encode().replace("桂".encode(), b"\xff\xfe")
    path = tmp_path / "patients.csv"
    path.write_bytes(b"\n".join([PATIENTS_HEADER.encode(), *rows, bad, b"P1502,x,,V1,HTN,,,"]))
    parsed = read_roster_file(path, PATIENTS, today=TODAY)
    assert reasons(parsed) == [(None, None, "undecodable")]
    assert parsed.errors[0].params["line"] == 1501
    assert "第1501行" in render_error(parsed.errors[0], "patients.csv", "zh_CN")
