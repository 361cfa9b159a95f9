"""`--at`: one reading of an ISO 8601 time for every command."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from grids.cli import BadTime, at_time

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_an_offset_is_kept() -> None:
    assert at_time("2026-12-06T18:00:00-05:00", SHANGHAI) == datetime(2026, 12, 6, 23, tzinfo=UTC)


def test_fractions_of_a_second_are_read() -> None:
    moment = at_time("2026-12-06T18:00:00.250+08:00", SHANGHAI)
    assert moment == datetime(2026, 12, 6, 10, 0, 0, 250_000, tzinfo=UTC)


def test_no_offset_is_county_time() -> None:
    assert at_time("2026-12-06T18:00", SHANGHAI) == datetime(2026, 12, 6, 10, tzinfo=UTC)
    assert at_time("2026-12-06T18:00", ZoneInfo("UTC")) == datetime(2026, 12, 6, 18, tzinfo=UTC)


def test_the_result_is_utc() -> None:
    assert at_time("2026-12-06T18:00+08:00", SHANGHAI).tzinfo == UTC


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01T10:00", "", "10:00"])
def test_garbage_is_refused(raw: str) -> None:
    with pytest.raises(BadTime):
        at_time(raw, SHANGHAI)
