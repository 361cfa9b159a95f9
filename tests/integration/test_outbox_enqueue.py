"""Enqueuing: a row in the caller's transaction, once per idempotency key."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.storage.database import Database
from notifications.models import OutboxMessage
from notifications.outbox import Broadcast, enqueue, enqueue_broadcasts, enqueue_many

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def reminder(n: int = 1, **changes: object) -> Notice:
    values: dict[str, object] = {
        "key": f"reminder:grid-12:2026-W48:member-{n}",
        "phone": f"+86139{n:08d}",
        "language": "zh_CN",
        "template": "sms.test",
        "recipient_type": "patient",
        "recipient_id": n,
    }
    values.update(changes)
    return Notice(**values)  # type: ignore[arg-type]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_enqueue_writes_a_pending_row_with_the_rendered_body(session: Session) -> None:
    row = enqueue(session, reminder(5, urgent=True), now=NOW)
    session.commit()
    assert row is not None
    stored = session.get(OutboxMessage, row.id)
    assert stored is not None
    assert stored.status == "pending"
    assert stored.to_phone == "+8613900000005"
    assert stored.template == "sms.test"
    assert "短信通道" in stored.body
    assert stored.urgent is True
    assert stored.next_attempt_at == NOW
    assert (stored.recipient_type, stored.recipient_id) == ("patient", 5)


def test_enqueuing_the_same_key_twice_keeps_one_row(session: Session) -> None:
    assert enqueue(session, reminder(), now=NOW) is not None
    assert enqueue(session, reminder(), now=NOW) is None
    session.commit()
    assert enqueue(session, reminder(language="en"), now=NOW) is None
    session.commit()
    assert count(session) == 1


def test_enqueue_does_not_commit(db: Database) -> None:
    with db.unit_of_work() as session:
        enqueue(session, reminder(), now=NOW)
    with db.unit_of_work() as session:
        assert count(session) == 0


def test_a_bad_notice_writes_nothing(session: Session) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        enqueue(session, reminder(phone="13900000001"), now=NOW)
    session.commit()
    assert count(session) == 0


def test_enqueue_many_inserts_new_keys_and_skips_known_ones(session: Session) -> None:
    enqueue(session, reminder(1), now=NOW)
    inserted = enqueue_many(session, [reminder(n) for n in (1, 2, 3, 3)], now=NOW)
    session.commit()
    assert sorted(row.recipient_id or 0 for row in inserted) == [2, 3]
    assert count(session) == 3


def test_enqueue_many_handles_thousands_in_bulk(session: Session) -> None:
    inserted = enqueue_many(session, [reminder(n) for n in range(2500)], now=NOW)
    session.commit()
    assert len(inserted) == 2500
    assert count(session) == 2500


def test_enqueue_many_without_returning_stores_what_enqueue_stores(session: Session) -> None:
    """The one-statement path (rows sent as one JSON document on PostgreSQL) keeps every
    field: text in Chinese, parameters, times, flags, and skips keys already queued."""
    params = {"name": "张桂兰", "quote": 'a "quoted" \\ back\nslash', "seat": "5"}
    enqueue(session, reminder(1, params=params), now=NOW)
    later = datetime(2026, 11, 24, 10, 30, tzinfo=timezone(timedelta(hours=8)))
    notices = [reminder(n, params=params, urgent=n == 2) for n in (1, 2, 3, 3)]
    assert enqueue_many(session, notices, now=later, returning=False) == []
    session.commit()

    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient_id)).all()
    assert [row.recipient_id for row in rows] == [1, 2, 3]
    first, second, third = rows
    assert first.created_at == NOW  # the key queued before was left as it was
    for row in (second, third):
        assert row.params == params
        assert (row.body, row.language, row.channel) == (first.body, "zh_CN", "sms")
        assert (row.status, row.attempts) == ("pending", 0)
        assert row.created_at == row.next_attempt_at == later
        assert row.created_at.utcoffset() == timedelta(0)
    assert (second.urgent, third.urgent) == (True, False)


def test_enqueue_many_checks_every_notice_before_inserting_any(session: Session) -> None:
    notices = [reminder(1), reminder(2, template="sms.no.such")]
    with pytest.raises(ValueError, match=r"sms\.no\.such"):
        enqueue_many(session, notices, now=NOW)
    session.commit()
    assert count(session) == 0


@pytest.mark.postgres
def test_concurrent_enqueues_of_one_key_make_one_row(db: Database) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        with db.unit_of_work() as session:
            barrier.wait()
            row = enqueue(session, reminder(), now=NOW)
            session.commit()
            with lock:
                outcomes.append(row is not None)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
    with db.unit_of_work() as session:
        assert count(session) == 1


def broadcast(numbers: range | list[int], **changes: object) -> Broadcast:
    values: dict[str, object] = {
        "template": "sms.exchange.reminder",
        "language": "zh_CN",
        "params": {"when": "明天", "time": "19:00", "venue": "东村卫生室"},
        "recipients": [(reminder(n).key, reminder(n).phone, n) for n in numbers],
        "recipient_type": "patient",
    }
    values.update(changes)
    return Broadcast(**values)  # type: ignore[arg-type]


def test_a_broadcast_writes_one_row_per_recipient_with_the_text_rendered_once(
    session: Session,
) -> None:
    english = broadcast(
        [7], language="en", params={"when": "tomorrow", "time": "19:00", "venue": "East"}
    )
    assert enqueue_broadcasts(session, [broadcast(range(1, 4)), english], now=NOW) == 4
    session.commit()
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient_id)).all()
    assert [(r.recipient_id, r.to_phone, r.language) for r in rows] == [
        (1, "+8613900000001", "zh_CN"),
        (2, "+8613900000002", "zh_CN"),
        (3, "+8613900000003", "zh_CN"),
        (7, "+8613900000007", "en"),
    ]
    assert rows[0].body == rows[2].body and "明天19:00" in rows[0].body
    assert "19:00" in rows[3].body and rows[3].body != rows[0].body
    assert rows[0].params == {"when": "明天", "time": "19:00", "venue": "东村卫生室"}
    assert (rows[0].status, rows[0].next_attempt_at, rows[0].urgent) == ("pending", NOW, False)


def test_a_broadcast_run_again_adds_only_the_new_recipients(session: Session) -> None:
    assert enqueue_broadcasts(session, [broadcast(range(1, 1500))], now=NOW) == 1499
    session.commit()
    # Every recipient again plus two new ones: the first and last keys are known.
    assert enqueue_broadcasts(session, [broadcast(range(1, 1502))], now=NOW) == 2
    session.commit()
    assert count(session) == 1501


def test_a_broadcast_overlapping_keys_queued_earlier_adds_the_rest(session: Session) -> None:
    # Keys in the middle are known, the first and the last are not.
    assert enqueue_broadcasts(session, [broadcast([17, 18, 250])], now=NOW) == 3
    session.commit()
    assert enqueue_broadcasts(session, [broadcast(range(1, 400))], now=NOW) == 396
    session.commit()
    assert count(session) == 399


def test_a_broadcast_with_one_bad_phone_writes_nothing(session: Session) -> None:
    bad = broadcast([1, 2], recipients=[(reminder(1).key, "+8613900000001", 1), ("k:2", "139", 2)])
    with pytest.raises(ValueError, match=r"E\.164"):
        enqueue_broadcasts(session, [broadcast(range(10, 20)), bad], now=NOW)
    session.commit()
    assert count(session) == 0


def test_a_broadcast_stores_tabs_newlines_and_backslashes_as_given(session: Session) -> None:
    venue = "东村\t卫生室\\2\n楼"
    odd = broadcast([1], params={"when": "明天", "time": "19:00", "venue": venue})
    odd = Broadcast(
        **{**odd.__dict__, "recipients": [("key\twith\\odd\nbits", "+8613900000001", 1)]}
    )
    assert enqueue_broadcasts(session, [odd], now=NOW) == 1
    session.commit()
    row = session.scalars(select(OutboxMessage)).one()
    assert row.idempotency_key == "key\twith\\odd\nbits"
    assert venue in row.body
    assert row.params["venue"] == venue
