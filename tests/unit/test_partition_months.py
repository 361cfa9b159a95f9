"""Month partitions of week-keyed tables: every ISO week in exactly one month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from grids.storage.partitions import (
    bounds,
    first_week,
    is_partition_name,
    month_of_week,
    months_from,
    table_named,
)


def test_a_month_holds_the_weeks_whose_thursday_falls_in_it() -> None:
    assert first_week(date(2026, 12, 1)) == "2026-W49"  # Thursday 3 December
    assert first_week(date(2027, 1, 1)) == "2027-W01"
    assert month_of_week("2026-W53") == date(2026, 12, 1)  # Thursday 31 December
    assert month_of_week("2027-W01") == date(2027, 1, 1)


def test_consecutive_months_cover_every_week_once() -> None:
    readings = table_named("readings")
    month = date(2025, 1, 1)
    upper_before = None
    for _ in range(60):
        lower, upper = bounds(readings, month)
        if upper_before is not None:
            assert lower == upper_before
        upper_before = upper
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    day = date(2025, 1, 2)
    while day < date(2029, 12, 1):
        year, number, _ = day.isocalendar()
        week = f"{year}-W{number:02d}"
        lower, upper = bounds(readings, month_of_week(week))
        assert lower <= week < upper
        day += timedelta(days=7)


def test_timestamp_months_are_utc_months() -> None:
    assert bounds(table_named("outbox"), date(2027, 2, 1)) == (
        "2027-02-01 00:00:00+00",
        "2027-03-01 00:00:00+00",
    )
    assert months_from(datetime(2027, 11, 30, 20, tzinfo=UTC), 2) == [
        date(2027, 11, 1),
        date(2027, 12, 1),
        date(2028, 1, 1),
    ]


def test_partition_names_are_recognised() -> None:
    assert is_partition_name("outbox_y2027m01") and is_partition_name("audit_log_default")
    assert not is_partition_name("outbox_keys") and not is_partition_name("outbox")
