"""Several dispatchers at once on PostgreSQL never send a row twice (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from config.settings import Settings
from grids.core.notices import Notice
from grids.storage.database import Database
from notifications.dispatcher import dispatch_once
from notifications.models import OutboxMessage
from notifications.outbox import enqueue_many
from notifications.providers import OutgoingMessage, SendResult
from notifications.providers.memory import MemoryProvider

DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
MESSAGES = 600


class Recording(MemoryProvider):
    """Notes which dispatcher sent each message; yields the CPU so passes interleave."""

    def __init__(self) -> None:
        super().__init__()
        self.by_worker: Counter[str] = Counter()

    def send(self, message: OutgoingMessage) -> SendResult:
        result = super().send(message)
        self.by_worker[threading.current_thread().name] += 1
        threading.Event().wait(0.0005)
        return result


@pytest.mark.postgres
@pytest.mark.parametrize("dispatchers", [2, 4])
def test_concurrent_dispatchers_send_every_row_exactly_once(db: Database, dispatchers: int) -> None:
    settings = Settings(sms_rate_per_second=0)
    with db.unit_of_work() as session:
        enqueue_many(
            session,
            [
                Notice(
                    key=f"load:{n}",
                    phone=f"+86139{n:08d}",
                    language="zh_CN",
                    template="sms.test",
                    urgent=n % 7 == 0,
                )
                for n in range(MESSAGES)
            ],
            now=DAY,
        )
        session.commit()
    provider = Recording()
    start = threading.Barrier(dispatchers)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            start.wait()
            while dispatch_once(
                db, provider, settings, now=DAY + timedelta(seconds=1), batch_size=20
            ).claimed:
                pass
        except BaseException as error:  # surfaced below
            errors.append(error)

    workers = [
        threading.Thread(target=dispatcher, name=f"dispatcher-{i}") for i in range(dispatchers)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []

    references = Counter(message.reference for message in provider.sent)
    assert len(references) == MESSAGES
    assert references.most_common(1)[0][1] == 1
    assert len(provider.by_worker) == dispatchers, "every dispatcher should have sent some"
    with db.unit_of_work() as session:
        statuses = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            .tuples()
            .all()
        )
        attempts = session.scalar(select(func.max(OutboxMessage.attempts)))
        sids = session.scalar(select(func.count(func.distinct(OutboxMessage.provider_sid))))
    assert statuses == {"sent": MESSAGES}
    assert attempts == 1
    assert sids == MESSAGES
