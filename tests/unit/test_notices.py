"""A notice is built from its recipient: number, language and who it is for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from grids.core.notices import NoPhone, Notice


@dataclass
class _Doctor:
    recipient_type: ClassVar[str] = "doctor"
    id: int
    phone: str | None
    language: str


@dataclass
class _Facility:
    id: int
    phone: str | None


def test_a_notice_to_a_person_carries_their_number_language_and_identity() -> None:
    notice = Notice.to_person(
        _Doctor(4, "+8613912345678", "en"),
        key="urgent:17:doctor:4",
        template="sms.urgent.doctor",
        params={"code": "K7Q"},
        urgent=True,
    )
    assert notice == Notice(
        key="urgent:17:doctor:4",
        phone="+8613912345678",
        language="en",
        template="sms.urgent.doctor",
        params={"code": "K7Q"},
        urgent=True,
        recipient_type="doctor",
        recipient_id=4,
    )


def test_a_notice_to_a_facility_is_in_the_language_given() -> None:
    notice = Notice.to_facility(
        _Facility(9, "+8613800000009"), key="k", language="zh_CN", template="sms.urgent.duty"
    )
    assert (notice.phone, notice.language, notice.recipient_type, notice.recipient_id) == (
        "+8613800000009",
        "zh_CN",
        "facility",
        9,
    )
    assert not notice.urgent


def test_a_recipient_without_a_phone_is_refused() -> None:
    with pytest.raises(NoPhone):
        Notice.to_person(_Doctor(4, None, "zh_CN"), key="k", template="sms.test")
    with pytest.raises(NoPhone):
        Notice.to_facility(_Facility(9, ""), key="k", language="zh_CN", template="sms.test")
