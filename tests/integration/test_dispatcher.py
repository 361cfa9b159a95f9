"""The dispatcher through the memory provider: retries, suppression, quiet hours, leases."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.runtime import settings_of
from config.settings import Settings
from grids.core.notices import Notice
from grids.storage.database import Database
from notifications import contacts
from notifications.dispatcher import (
    ACCOUNT_HOLD,
    DispatchStats,
    RateLimiter,
    dispatch_once,
    run,
)
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from notifications.outbox_claims import claim_batch
from notifications.providers import (
    OutgoingMessage,
    PermanentSendError,
    ProviderAccountError,
    SendResult,
    TransientSendError,
    provider_of,
)
from notifications.providers.memory import MemoryProvider

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture
def provider(app: Flask) -> MemoryProvider:
    memory = provider_of(app)
    assert isinstance(memory, MemoryProvider)
    return memory


@pytest.fixture
def settings(app: Flask) -> Settings:
    return settings_of(app)


def notice(n: int, **changes: object) -> Notice:
    values: dict[str, object] = {
        "key": f"reminder:grid-12:2026-W48:member-{n}",
        "phone": f"+86139{n:08d}",
        "language": "zh_CN",
        "template": "sms.test",
    }
    values.update(changes)
    return Notice(**values)  # type: ignore[arg-type]


def add(db: Database, *notices: Notice, now: datetime = DAY) -> list[int]:
    with db.unit_of_work() as session:
        rows = [enqueue(session, item, now=now) for item in notices]
        session.commit()
    return [row.id for row in rows if row is not None]


def rows(db: Database) -> dict[int, OutboxMessage]:
    with db.unit_of_work() as session:
        loaded = {row.id: row for row in session.scalars(select(OutboxMessage))}
        session.expunge_all()
    return loaded


def one(db: Database, row_id: int) -> OutboxMessage:
    return rows(db)[row_id]


def test_a_due_message_is_sent_and_gets_its_sid(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    [row_id] = add(db, notice(1))
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert (stats.claimed, stats.sent) == (1, 1)
    row = one(db, row_id)
    assert row.status == "sent"
    assert row.provider_sid == provider.sids[0]
    assert row.provider == "memory"
    assert row.sent_at == DAY
    assert row.attempts == 1
    assert row.lease_expires_at is None
    [message] = provider.sent
    assert message.to == "+8613900000001"
    assert message.template == "sms.test"
    assert "短信通道" in message.body
    assert message.reference == "reminder:grid-12:2026-W48:member-1"


def test_enqueuing_twice_sends_once(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    add(db, notice(1), notice(1))
    dispatch_once(db, provider, settings, now=DAY)
    add(db, notice(1))
    dispatch_once(db, provider, settings, now=DAY + timedelta(minutes=5))
    assert len(provider.sent) == 1


def test_nothing_is_sent_twice_and_an_empty_outbox_is_a_quiet_pass(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    add(db, notice(1), notice(2))
    dispatch_once(db, provider, settings, now=DAY)
    assert dispatch_once(db, provider, settings, now=DAY) == DispatchStats()
    assert len(provider.sent) == 2


def test_urgent_messages_go_first_then_the_oldest(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    add(db, notice(1), now=DAY - timedelta(minutes=3))
    add(db, notice(2), now=DAY - timedelta(minutes=2))
    add(db, notice(3, urgent=True), now=DAY - timedelta(minutes=1))
    dispatch_once(db, provider, settings, now=DAY, batch_size=2)
    assert [m.to[-1] for m in provider.sent] == ["3", "1"]
    dispatch_once(db, provider, settings, now=DAY, batch_size=2)
    assert [m.to[-1] for m in provider.sent] == ["3", "1", "2"]


def test_a_transient_failure_is_retried_after_a_backoff(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    [row_id] = add(db, notice(1))
    provider.fail_next(TransientSendError("20429", "Too Many Requests"))
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert (stats.sent, stats.retried) == (0, 1)
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("pending", 1, "20429")
    assert row.next_attempt_at == DAY + timedelta(seconds=30)

    dispatch_once(db, provider, settings, now=DAY + timedelta(seconds=29))
    assert one(db, row_id).status == "pending"
    dispatch_once(db, provider, settings, now=DAY + timedelta(seconds=30))
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("sent", 2, None)
    assert len(provider.sent) == 1


def test_the_backoff_grows_and_honours_retry_after(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    [row_id] = add(db, notice(1))
    provider.fail_next(
        TransientSendError("http-503", "down"),
        TransientSendError("http-503", "down"),
        TransientSendError("20429", "slow down", retry_after=600),
    )
    moment = DAY
    waits = []
    for _ in range(3):
        dispatch_once(db, provider, settings, now=moment)
        due = one(db, row_id).next_attempt_at
        waits.append((due - moment).total_seconds())
        moment = due
    assert waits == [30, 60, 600]


def test_transient_failures_stop_after_the_maximum_attempts(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, sms_max_attempts=3)
    [row_id] = add(db, notice(1))
    provider.fail_to("+8613900000001", TransientSendError("http-500", "Internal Server Error"))
    moment = DAY
    for _ in range(5):
        dispatch_once(db, provider, settings, now=moment)
        moment += timedelta(hours=2)
    row = one(db, row_id)
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, "http-500")
    assert len(provider.attempts) == 3


def test_unsubscribed_21610_fails_the_row_opts_the_number_out_and_suppresses_the_rest(
    db: Database, provider: MemoryProvider, settings: Settings, session: Session
) -> None:
    [first, second] = add(db, notice(1), notice(1, key="reminder:later"))
    provider.fail_next(PermanentSendError("21610", "Attempt to send to unsubscribed recipient"))
    stats = dispatch_once(db, provider, settings, now=DAY, batch_size=1)
    assert stats.failed == 1
    row = one(db, first)
    assert (row.status, row.error_code, row.attempts) == ("failed", "21610", 1)
    assert "unsubscribed" in (row.error_message or "")
    assert contacts.is_opted_out(session, "+8613900000001")

    stats = dispatch_once(db, provider, settings, now=DAY, batch_size=1)
    assert (stats.suppressed, stats.sent) == (1, 0)
    row = one(db, second)
    assert (row.status, row.error_code, row.attempts) == ("suppressed", "opted_out", 0)
    assert len(provider.attempts) == 1


@pytest.mark.parametrize("code", ["21211", "21614"])
def test_an_invalid_number_is_flagged_for_the_administrator(
    code: str, db: Database, provider: MemoryProvider, settings: Settings, session: Session
) -> None:
    [row_id] = add(db, notice(1))
    provider.fail_next(PermanentSendError(code, "not a valid mobile number"))
    dispatch_once(db, provider, settings, now=DAY)
    assert one(db, row_id).status == "failed"
    [flagged] = contacts.flagged_numbers(session)
    assert (flagged.phone, flagged.invalid_code) == ("+8613900000001", code)


def test_other_permanent_errors_fail_without_flagging_the_number(
    db: Database, provider: MemoryProvider, settings: Settings, session: Session
) -> None:
    [row_id] = add(db, notice(1))
    provider.fail_next(PermanentSendError("21408", "Permission to send to this region"))
    dispatch_once(db, provider, settings, now=DAY)
    assert (one(db, row_id).status, one(db, row_id).error_code) == ("failed", "21408")
    assert contacts.flagged_numbers(session) == []


def test_messages_to_opted_out_numbers_never_reach_the_provider(
    db: Database, provider: MemoryProvider, settings: Settings, session: Session
) -> None:
    contacts.opt_out(session, "+8613900000001", "退订", DAY)
    session.commit()
    [held, sent] = add(db, notice(1, urgent=True), notice(2))
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert (stats.claimed, stats.suppressed, stats.sent) == (2, 1, 1)
    assert one(db, held).status == "suppressed"
    assert one(db, sent).status == "sent"
    assert [m.to for m in provider.attempts] == ["+8613900000002"]

    contacts.opt_in(session, "+8613900000001", DAY)
    session.commit()
    add(db, notice(1, key="after-start"))
    dispatch_once(db, provider, settings, now=DAY)
    assert [m.to for m in provider.sent] == ["+8613900000002", "+8613900000001"]


def test_a_provider_bug_does_not_lose_the_message(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    class Broken(MemoryProvider):
        def send(self, message: OutgoingMessage) -> SendResult:
            raise RuntimeError("boom")

    [row_id] = add(db, notice(1))
    stats = dispatch_once(db, Broken(), settings, now=DAY)
    assert stats.retried == 1
    row = one(db, row_id)
    assert (row.status, row.error_code) == ("pending", "error")
    dispatch_once(db, provider, settings, now=DAY + timedelta(minutes=1))
    assert one(db, row_id).status == "sent"


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_quiet_hours_hold_ordinary_messages_until_eight_but_not_urgent_ones(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    with time_machine.travel(shanghai(24, 22), tick=False):
        [ordinary] = add(db, notice(1), now=shanghai(24, 22))
        [urgent] = add(db, notice(2, urgent=True), now=shanghai(24, 22))
        dispatch_once(db, provider, settings)
        assert one(db, urgent).status == "sent"
        assert one(db, urgent).sent_at == shanghai(24, 22)
        assert one(db, ordinary).status == "pending"
    with time_machine.travel(shanghai(25, 7, 59), tick=False):
        dispatch_once(db, provider, settings)
        assert one(db, ordinary).status == "pending"
    with time_machine.travel(shanghai(25, 8), tick=False):
        dispatch_once(db, provider, settings)
        assert one(db, ordinary).status == "sent"
        assert one(db, ordinary).sent_at == shanghai(25, 8)
    assert [m.to[-1] for m in provider.sent] == ["2", "1"]


def test_a_row_stuck_in_sending_past_its_lease_is_sent_by_the_next_pass(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    [row_id] = add(db, notice(1))
    with db.unit_of_work() as session:  # a dispatcher claims the row, then dies
        claimed, _ = claim_batch(session, settings, provider, now=DAY, limit=10)
        session.commit()
    assert [r.id for r in claimed] == [row_id]
    assert one(db, row_id).status == "sending"

    stats = dispatch_once(db, provider, settings, now=DAY + timedelta(seconds=60))
    assert stats == DispatchStats()
    lease_over = DAY + timedelta(seconds=settings.sms_lease_seconds + 1)
    stats = dispatch_once(db, provider, settings, now=lease_over)
    assert (stats.reclaimed, stats.sent) == (1, 1)
    row = one(db, row_id)
    assert (row.status, row.attempts) == ("sent", 2)


class DispatcherKilled(BaseException):
    """The process dying mid-batch (not an error any handler would catch)."""


class DyingProvider(MemoryProvider):
    """Accepts messages like the memory provider; the process dies right after the
    provider accepts message number `dies_after` (before the dispatcher hears of it)."""

    def __init__(self, dies_after: int) -> None:
        super().__init__()
        self.dies_after = dies_after

    def send(self, message: OutgoingMessage) -> SendResult:
        result = super().send(message)
        if len(self.sent) == self.dies_after:
            raise DispatcherKilled
        return result


def test_a_dispatcher_dying_after_an_acceptance_resends_only_that_message(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    ids = add(db, *(notice(n) for n in range(1, 11)))
    dying = DyingProvider(dies_after=4)
    with pytest.raises(DispatcherKilled):
        dispatch_once(db, dying, settings, now=DAY)
    # The three acceptances before the one in flight were recorded as they came.
    statuses = Counter(row.status for row in rows(db).values())
    assert statuses == {"sent": 3, "sending": 7}
    assert {row.provider_sid for row in rows(db).values() if row.status == "sent"} == set(
        dying.sids[:3]
    )

    lease_over = DAY + timedelta(seconds=settings.sms_lease_seconds + 1)
    dispatch_once(db, provider, settings, now=lease_over)
    assert {row.status for row in rows(db).values()} == {"sent"}
    sends = Counter(message.to for message in [*dying.sent, *provider.sent])
    assert sorted(sends.values()) == [1] * 9 + [2]  # only the message in flight twice
    assert sends[dying.sent[3].to] == 2
    assert len(ids) == 10


def test_a_stuck_row_with_no_attempts_left_fails(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, sms_max_attempts=1)
    [row_id] = add(db, notice(1))
    with db.unit_of_work() as session:
        claim_batch(session, settings, provider, now=DAY, limit=10)
        session.commit()
    dispatch_once(db, provider, settings, now=DAY + timedelta(hours=1))
    row = one(db, row_id)
    assert (row.status, row.error_code) == ("failed", "lease_expired")
    assert provider.attempts == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_rate_limit_paces_sends_per_sender(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, sms_rate_per_second=2.0)
    add(db, *(notice(n) for n in range(5)))
    clock = FakeClock()
    sent_at: list[float] = []

    class Timed(MemoryProvider):
        def send(self, message: OutgoingMessage) -> SendResult:
            sent_at.append(clock.now)
            return super().send(message)

    limiter = RateLimiter(settings.sms_rate_per_second, clock=clock, sleep=clock.sleep)
    provider = Timed()
    # At 2 per second a pass claims about 2 s of sending (4 rows); the next takes the rest.
    passes = [dispatch_once(db, provider, settings, now=DAY, limiter=limiter) for _ in range(3)]
    assert [stats.sent for stats in passes] == [4, 1, 0]
    assert sent_at == [0.0, 0.0, 0.5, 1.0, 1.5]


def test_a_dispatcher_slower_than_its_lease_never_sends_what_another_one_took_over(
    db: Database, settings: Settings
) -> None:
    """Each send takes 40 s of a 120 s lease. Before its lease runs out the first dispatcher
    stops and gives the rest back, so a second one that reclaims them is the only sender."""
    settings = dataclasses.replace(settings, sms_lease_seconds=120)
    clock = FakeClock()
    second = MemoryProvider()
    lease_over = DAY + timedelta(seconds=121)

    class Slow(MemoryProvider):
        def send(self, message: OutgoingMessage) -> SendResult:
            if len(self.attempts) == 3:  # the lease is over: another dispatcher takes over
                dispatch_once(db, second, settings, now=lease_over)
            clock.now += 40
            return super().send(message)

    ids = add(db, *(notice(n) for n in range(5)))
    first = Slow()
    stats = dispatch_once(db, first, settings, now=DAY, monotonic=clock)
    assert (stats.sent, stats.released) == (3, 2)
    dispatch_once(db, second, settings, now=lease_over)

    sent = Counter(m.reference for m in first.sent + second.sent)
    assert sorted(sent.values()) == [1] * 5
    stored = rows(db)
    assert [stored[i].status for i in ids] == ["sent"] * 5
    assert [stored[i].attempts for i in ids] == [1] * 5


def test_an_account_refusal_holds_every_message_and_fails_none(
    db: Database, provider: MemoryProvider, settings: Settings
) -> None:
    ids = add(db, *(notice(n) for n in range(3)))
    provider.fail_next(ProviderAccountError("20003", "Authenticate"))
    stats = dispatch_once(db, provider, settings, now=DAY)
    assert (stats.sent, stats.failed, stats.retried, stats.released) == (0, 0, 0, 3)
    stored = rows(db)
    assert [stored[i].status for i in ids] == ["pending"] * 3
    assert [stored[i].attempts for i in ids] == [0] * 3
    assert {stored[i].error_code for i in ids} == {"20003"}
    assert {stored[i].next_attempt_at for i in ids} == {DAY + ACCOUNT_HOLD}

    assert dispatch_once(db, provider, settings, now=DAY + ACCOUNT_HOLD / 2).claimed == 0
    stats = dispatch_once(db, provider, settings, now=DAY + ACCOUNT_HOLD)
    assert stats.sent == 3
    stored = rows(db)
    assert [(stored[i].status, stored[i].error_code) for i in ids] == [("sent", None)] * 3
    assert len(provider.attempts) == 4


def test_stopping_mid_batch_puts_unsent_rows_back(db: Database, settings: Settings) -> None:
    stop = threading.Event()

    class StopsAfterOne(MemoryProvider):
        def send(self, message: OutgoingMessage) -> SendResult:
            stop.set()
            return super().send(message)

    ids = add(db, *(notice(n) for n in range(4)))
    provider = StopsAfterOne()
    stats = dispatch_once(db, provider, settings, now=DAY, stop=stop)
    assert (stats.sent, stats.released) == (1, 3)
    stored = rows(db)
    assert [stored[i].status for i in ids] == ["sent", "pending", "pending", "pending"]
    assert [stored[i].attempts for i in ids] == [1, 0, 0, 0]


@pytest.fixture
def running(
    db: Database, provider: MemoryProvider, settings: Settings
) -> Iterator[threading.Event]:
    stop = threading.Event()
    worker = threading.Thread(
        target=run, args=(db, provider, settings), kwargs={"stop": stop, "idle_seconds": 0.05}
    )
    worker.start()
    yield stop
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the dispatcher loop did not stop"


def test_the_loop_sends_what_arrives_and_stops_when_asked(
    db: Database, provider: MemoryProvider, running: threading.Event
) -> None:
    add(db, *(notice(n, urgent=True) for n in range(3)), now=datetime.now(UTC))
    for _ in range(200):
        if len(provider.sent) == 3:
            break
        running.wait(0.05)
    assert len(provider.sent) == 3
    running.set()
