"""The outbox's pure rules: what a notice becomes, retry delays, quiet hours, pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.settings import Settings, parse_quiet_hours
from grids.core.notices import Notice
from notifications.dispatcher import RateLimiter, retry_delay
from notifications.outbox import render, row_values
from notifications.outbox_claims import effective_batch_size, in_quiet_hours

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def notice(**changes: object) -> Notice:
    values: dict[str, object] = {
        "key": "test:1",
        "phone": "+8613912345678",
        "language": "zh_CN",
        "template": "sms.test",
    }
    values.update(changes)
    return Notice(**values)  # type: ignore[arg-type]


def test_the_body_is_rendered_in_the_recipients_language() -> None:
    assert "短信通道" in render(notice())
    assert "SMS channel" in render(notice(language="en"))


def test_a_row_keeps_template_params_and_body_for_any_provider() -> None:
    row = row_values(notice(template="web.home.unassigned", params={"count": 3}), NOW)
    assert row["template"] == "web.home.unassigned"
    assert row["params"] == {"count": 3}
    assert row["body"].startswith("3")
    assert row["status"] == "pending"
    assert row["next_attempt_at"] == NOW


@pytest.mark.parametrize("phone", ["13912345678", "+86 139 1234 5678", "", "+0123456789", "+86abc"])
def test_a_phone_not_in_e164_is_refused_with_the_fix(phone: str) -> None:
    with pytest.raises(ValueError, match=r"not in E\.164 form .*normalise_phone"):
        row_values(notice(phone=phone), NOW)


def test_a_template_missing_from_the_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'sms\.no\.such' is not in the en catalogue"):
        row_values(notice(template="sms.no.such", language="en"), NOW)


def test_a_template_given_too_few_parameters_names_them() -> None:
    with pytest.raises(ValueError, match="needs parameters count"):
        row_values(notice(template="web.home.unassigned"), NOW)


def test_an_empty_or_overlong_key_is_refused() -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        row_values(notice(key=""), NOW)
    with pytest.raises(ValueError, match="idempotency key"):
        row_values(notice(key="k" * 201), NOW)


def test_retry_delay_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert delays[-1] == 3600
    assert delays == sorted(delays)


def test_retry_delay_honours_a_longer_retry_after_but_not_beyond_the_cap() -> None:
    assert retry_delay(1, retry_after=90) == timedelta(seconds=90)
    assert retry_delay(3, retry_after=5) == timedelta(seconds=120)
    assert retry_delay(1, retry_after=86_400) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        ("20:59", False),
        ("21:00", True),
        ("23:30", True),
        ("03:00", True),
        ("07:59", True),
        ("08:00", False),
        ("12:00", False),
    ],
)
def test_quiet_hours_are_read_in_the_county_time_zone(local: str, quiet: bool) -> None:
    hour, minute = map(int, local.split(":"))
    moment = datetime(2026, 11, 24, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)
    assert in_quiet_hours(Settings(), moment) is quiet


def test_quiet_hours_follow_the_settings() -> None:
    settings = Settings(quiet_hours=parse_quiet_hours("22:00-06:00"), timezone="Europe/London")
    assert in_quiet_hours(settings, datetime(2026, 11, 24, 21, 30, tzinfo=UTC)) is False
    assert in_quiet_hours(settings, datetime(2026, 11, 24, 22, 30, tzinfo=UTC)) is True


def test_a_rate_limited_dispatcher_claims_about_two_seconds_of_sending() -> None:
    assert effective_batch_size(Settings(sms_rate_per_second=0), 500) == 500
    assert effective_batch_size(Settings(sms_rate_per_second=1, sms_lease_seconds=120), 500) == 2
    assert effective_batch_size(Settings(sms_rate_per_second=100), 500) == 200
    assert effective_batch_size(Settings(sms_rate_per_second=0.001), 500) == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_rate_limiter_paces_each_sender_to_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, burst=1, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(5):
        limiter.acquire("+15005550006")
        times.append(clock.now)
    assert times == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_the_rate_limiter_keeps_senders_apart_and_lets_a_burst_through() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire("A")
    assert clock.slept == []
    limiter.acquire("B")
    assert clock.slept == []
    limiter.acquire("A")
    assert clock.slept == [1.0]


def test_the_rate_limiter_refills_while_idle_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, burst=2, clock=clock, sleep=clock.sleep)
    limiter.acquire("A")
    limiter.acquire("A")
    clock.now += 100
    limiter.acquire("A")
    limiter.acquire("A")
    assert clock.slept == []
    limiter.acquire("A")
    assert clock.slept == [1.0]


def test_a_zero_rate_means_no_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire("A")
    assert clock.slept == []
