"""Per-number frequency caps of Tencent Cloud and Aliyun, on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications.frequency import Send, earliest_send

# Tuesday 24 November 2026, 10:00 in Shanghai.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MIDNIGHT_SHANGHAI = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def sends(count: int, *, template: str = "sms.notice.exchange_moved", step: int = 60) -> list[Send]:
    return [
        Send(NOW - timedelta(seconds=step * (i + 1)), template, f"body {i}") for i in range(count)
    ]


def test_tencent_holds_the_same_content_for_30_seconds() -> None:
    history = [Send(NOW - timedelta(seconds=10), "sms.test", "测试")]
    candidate = Send(NOW, "sms.test", "测试")
    assert earliest_send("tencent", history, candidate, urgent=True) == NOW + timedelta(seconds=20)
    other = Send(NOW, "sms.test", "另一条")
    assert earliest_send("tencent", history, other, urgent=False) == NOW


def test_tencent_holds_the_eleventh_message_of_the_day_until_midnight_in_china() -> None:
    candidate = Send(NOW, "sms.test", "new")
    assert earliest_send("tencent", sends(9), candidate, urgent=False) == NOW
    assert earliest_send("tencent", sends(10), candidate, urgent=False) == MIDNIGHT_SHANGHAI


def test_yesterdays_messages_do_not_count_against_tencents_day() -> None:
    yesterday = [Send(NOW - timedelta(hours=11), "t", f"b{i}") for i in range(10)]
    assert earliest_send("tencent", yesterday, Send(NOW, "t", "x"), urgent=False) == NOW


def test_an_urgent_message_is_never_held_by_a_day_cap() -> None:
    candidate = Send(NOW, "sms.urgent.doctor", "【急】K7Q")
    assert earliest_send("tencent", sends(10), candidate, urgent=True) == NOW
    many = sends(50, template="sms.urgent.doctor")
    assert earliest_send("aliyun", many, candidate, urgent=True) == NOW


def test_aliyun_counts_50_a_day_per_template_on_a_rolling_window() -> None:
    history = sends(50, step=600)  # every 10 minutes over the last 500 minutes
    candidate = Send(NOW, "sms.notice.exchange_moved", "x")
    oldest = NOW - timedelta(seconds=600 * 50)
    assert earliest_send("aliyun", history, candidate, urgent=False) == oldest + timedelta(hours=24)
    other_template = Send(NOW, "sms.notice.exchange_skipped", "x")
    assert earliest_send("aliyun", history, other_template, urgent=False) == NOW
    assert earliest_send("aliyun", history[:49], candidate, urgent=False) == NOW
