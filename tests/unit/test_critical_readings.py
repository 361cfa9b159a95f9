"""Critical readings: the threshold edges, the settings, the critical ladder and its
night hold, with no database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from config.settings import CriticalThresholds, SettingsError, load_settings
from grids.escalation.critical import critical_ladder, findings, hold, release_at
from grids.escalation.ladder import Contact, Ladder, Step

DEFAULT = CriticalThresholds()


@pytest.mark.parametrize(
    ("systolic", "diastolic", "critical"),
    [(179, 109, False), (180, 90, True), (150, 110, True), (200, 120, True), (179, 100, False)],
)
def test_blood_pressure_edges(systolic: int, diastolic: int, critical: bool) -> None:
    assert DEFAULT.bp_critical(systolic, diastolic) is critical
    assert bool(findings([(5, systolic, diastolic, None)], DEFAULT)) is critical


@pytest.mark.parametrize(
    ("glucose", "critical"),
    [("16.6", False), ("16.7", True), ("3.9", True), ("4.0", False), ("2.1", True), ("7.0", False)],
)
def test_glucose_edges(glucose: str, critical: bool) -> None:
    assert DEFAULT.glucose_critical(Decimal(glucose)) is critical


def test_a_finding_keeps_only_what_is_critical() -> None:
    [found] = findings([(5, 150, 95, Decimal("17.2")), (6, 130, 80, None)], DEFAULT)
    assert (found.seat, found.systolic, found.glucose_mmol) == (5, None, Decimal("17.2"))


def test_thresholds_are_settings() -> None:
    settings = load_settings(
        {
            "CRITICAL_BP": "170/105",
            "CRITICAL_GLUCOSE_HIGH": "15",
            "CRITICAL_GLUCOSE_LOW": "3.5",
            "CRITICAL_ACK_HOURS": "12",
        }
    )
    assert settings.critical == CriticalThresholds(170, 105, Decimal(15), Decimal("3.5"), 12)
    assert load_settings({}).critical == DEFAULT
    for bad in (
        {"CRITICAL_BP": "180"},
        {"CRITICAL_GLUCOSE_LOW": "20"},
        {"CRITICAL_ACK_HOURS": "0"},
    ):
        with pytest.raises(SettingsError):
            load_settings(bad)


def _ladder() -> Ladder:
    doctor = Contact("doctor", 1, "王医生", "+8613900000001")
    township = Contact("facility", 2, "义安镇卫生院", "+8613900000002")
    county = Contact("facility", 3, "县医院", "+8613900000003")
    return Ladder(
        steps=(
            Step("doctor", (doctor,), 10, 3),
            Step("clinic", (Contact("doctor", 4, "李医生", "+8613900000004"),), 10),
            Step("township", (township,), 15),
            Step("county", (county,), 15),
        ),
        parallel=(county,),
    )


def test_the_critical_ladder_is_hours_scale_without_the_clinic_or_a_call() -> None:
    ladder = critical_ladder(_ladder(), ack_hours=24, timezone="Asia/Shanghai")
    assert [(s.level, s.timeout_minutes, s.call_after_minutes) for s in ladder.steps] == [
        ("doctor", 24 * 60, None),
        ("township", 240, None),
        ("county", 240, None),
    ]
    assert ladder.parallel == ()
    assert Ladder.from_json(ladder.as_json()) == ladder


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("local", "released"),
    [
        (datetime(2026, 12, 8, 6, 59), datetime(2026, 12, 8, 7, 0)),
        (datetime(2026, 12, 8, 7, 0), None),
        (datetime(2026, 12, 8, 21, 59), None),
        (datetime(2026, 12, 8, 22, 0), datetime(2026, 12, 9, 7, 0)),
        (datetime(2026, 12, 8, 23, 30), datetime(2026, 12, 9, 7, 0)),
        (datetime(2026, 12, 9, 2, 0), datetime(2026, 12, 9, 7, 0)),
    ],
)
def test_messages_of_a_critical_case_wait_for_seven_in_the_morning(
    local: datetime, released: datetime | None
) -> None:
    moment = local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    expected = released.replace(tzinfo=SHANGHAI) if released else None
    assert release_at(moment, hold("Asia/Shanghai")) == expected
