"""The national follow-up rules: next dates, the 4-a-year count, due lists' ranking."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from grids.followups import rules
from grids.followups.rules import Classification, Visit

DAY = date(2027, 1, 15)


@pytest.mark.parametrize(
    ("classification", "referred", "expected", "reason"),
    [
        (Classification.CONTROLLED, False, date(2027, 4, 15), "routine"),
        (None, False, date(2027, 4, 15), "routine"),
        (Classification.UNCONTROLLED, False, date(2027, 1, 29), "recheck"),
        (Classification.ADVERSE, False, date(2027, 1, 29), "recheck"),
        (Classification.COMPLICATION, False, date(2027, 1, 29), "recheck"),
        (Classification.CONTROLLED, True, date(2027, 1, 29), "referral"),
    ],
)
def test_each_classification_sets_its_next_date(
    classification: Classification | None, referred: bool, expected: date, reason: str
) -> None:
    assert rules.next_due(DAY, classification, referred=referred) == expected
    assert rules.rule_reason(classification, referred) == reason


def test_three_months_on_from_a_month_end_is_clipped() -> None:
    assert rules.next_due(date(2026, 11, 30), Classification.CONTROLLED, referred=False) == date(
        2027, 2, 28
    )
    assert rules.add_months(date(2027, 3, 1), -12) == date(2026, 3, 1)


def test_bmi_needs_both_weight_and_height() -> None:
    assert rules.bmi(Decimal("70"), Decimal("170")) == Decimal("24.2")
    assert rules.bmi(Decimal("70"), None) is None
    assert rules.bmi(None, Decimal("170")) is None


def test_phone_follow_ups_are_not_face_to_face_and_exchange_ones_are() -> None:
    assert rules.is_face_to_face("exchange")
    assert rules.is_face_to_face("home") and rules.is_face_to_face("clinic")
    assert not rules.is_face_to_face("phone")


def test_four_face_to_face_follow_ups_across_a_year_boundary() -> None:
    visits = [
        Visit(date(2026, 3, 10), "clinic"),
        Visit(date(2026, 6, 10), "exchange"),
        Visit(date(2026, 9, 10), "phone"),
        Visit(date(2026, 10, 10), "home"),
        Visit(date(2027, 1, 5), "exchange"),
    ]
    joined = date(2025, 6, 1)
    # The 12 months to 31 Jan 2027 hold four face-to-face visits (the phone one does
    # not count), two calendar years between them.
    assert rules.year_window(date(2027, 1, 31)) == (date(2026, 2, 1), date(2027, 1, 31))
    assert rules.face_to_face_count(visits, *rules.year_window(date(2027, 1, 31))) == 4
    assert rules.standard_managed(visits, joined, date(2027, 1, 31)) is True
    # By 31 March 2027 the March 2026 visit has left the window: three.
    assert rules.standard_managed(visits, joined, date(2027, 3, 31)) is False


def test_a_member_joining_mid_year_is_not_in_the_denominator() -> None:
    visits = [Visit(date(2026, m, 1), "clinic") for m in (8, 9, 10, 11)]
    assert rules.standard_managed(visits, date(2026, 7, 15), date(2026, 12, 31)) is None
    assert rules.managed_whole_year(date(2026, 1, 1), date(2026, 12, 31))
    assert not rules.managed_whole_year(date(2026, 1, 2), date(2026, 12, 31))
    assert rules.first_due(date(2026, 7, 15)) == date(2026, 10, 15)


def test_due_lists_rank_red_first_then_most_overdue() -> None:
    today = date(2027, 1, 15)
    rows = [("green", 40, "A"), ("red", 1, "B"), ("yellow", 3, "C"), ("red", 9, "D")]
    ranked = sorted(rows, key=lambda r: rules.rank_key(r[0], r[1], r[2]))
    assert [code for _, _, code in ranked] == ["D", "B", "C", "A"]
    assert rules.in_due_list(date(2027, 1, 21), today)
    assert not rules.in_due_list(date(2027, 1, 22), today)
    assert rules.for_township(date(2026, 12, 16), today)
    assert not rules.for_township(date(2026, 12, 17), today)


def test_quarters_and_blood_pressure_are_parsed() -> None:
    assert rules.quarter_bounds("2027-Q1") == (date(2027, 1, 1), date(2027, 3, 31))
    assert rules.quarter_bounds("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    with pytest.raises(ValueError):
        rules.quarter_bounds("2027-Q5")
    assert rules.parse_bp("150/95") == (150, 95)
    for bad in ("95/150", "abc", "150/"):
        with pytest.raises(ValueError):
            rules.parse_bp(bad)


def test_the_rules_load_neither_flask_nor_sqlalchemy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, grids.followups.rules; "
        "print([m for m in ('flask', 'sqlalchemy', 'werkzeug') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_snapshot_older_than_the_follow_up_fields_reads_them_as_null() -> None:
    from datetime import UTC, datetime

    from grids.rollups.indicators import document

    doc = document(
        "grid",
        "G1",
        "2026-W40",
        as_of=datetime(2026, 10, 5, tzinfo=UTC),
        provisional=False,
        revised=False,
        values={"members": 3},
    )
    assert doc["indicators"]["members"] == 3
    assert doc["indicators"]["standard_managed"] is None
