"""The administration SMS fit one Chinese segment with realistic values."""

from __future__ import annotations

import pytest

from i18n import Catalogue
from notifications.sms.segments import segment_count

PARAMS = {
    "grid": "JX0105-HTN12",
    "name": "王小明明",
    "seat": 20,
    "doctor": "欧阳建国",
    "phone": "+8613912345678",
    "count": 15,
    "grids": "JX0105-HTN01, JX0105-HTN02, JX0105-HTN03…",
}
TEMPLATES = [
    "sms.admin.coordinator_new",
    "sms.admin.member_coordinator",
    "sms.admin.member_moved",
    "sms.admin.coordinator_doctor",
    "sms.admin.doctor_assigned",
    "sms.admin.doctor_released",
    "sms.admin.deputy_new",
    "sms.admin.deputy_released",
    "sms.admin.coordinator_deputy",
    "sms.admin.coordinator_joined",
    "sms.admin.doctor_members_joined",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_admin_sms_fits_one_chinese_segment(template: str) -> None:
    zh = Catalogue.load("zh_CN")
    params = {key: PARAMS[key] for key in zh.placeholders(template)}
    assert segment_count(zh.text(template, **params)) == 1


def test_the_new_coordinator_learns_how_to_report() -> None:
    text = Catalogue.load("zh_CN").text("sms.admin.coordinator_new", grid="JX0105-HTN12")
    assert "好" in text and "急" in text and "住院" in text
