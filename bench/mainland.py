"""Mainland SMS on PostgreSQL: sends through the official Aliyun SDK, pushed reports and replies.

    .venv/bin/python -m bench.mainland [--messages 1000] [--batch 100] [--big-push 30000]

Creates (and afterwards drops) the database `huzhu_bench_mainland_<pid>`, builds the
application with `SMS_BACKEND=aliyun` against the local Aliyun stand-in, then:

1. enqueues N messages and dispatches them through the SDK (one dispatcher,
   no rate limit): messages/s, the SDK's signing and HTTP included;
2. posts their delivery reports to `/sms/aliyun/<secret>/report` in batches
   of `--batch` items (the Flask test client, no network): reports/s;
3. posts N replies from unregistered numbers to `/sms/aliyun/<secret>/up`
   in batches (stored, parsed, answered through the outbox), then the same
   batches again (all duplicates): replies/s for each;
4. posts one SmsUp push of `--big-push` items (docs/mainland-sms.md, "Batch sizes"):
   the seconds until the provider has its answer, with every item stored (target
   < 5 s), then the seconds until every item is applied and answered.

Floors, from what a province needs: sends > 50/s (the dispatcher is paced at
`SMS_RATE_PER_SECOND`, 1/s by default, far below); reports > 20/s and replies
> 20/s (30,000 coordinators answering on a Monday morning average 2/s; a
provider pushes at most 100 items at once). Each push item is its own
transaction or savepoint, so the figures follow the database's round trips.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from config.runtime import settings_of
from grids.core.notices import Notice
from grids.storage import migrate
from grids.storage.session import database_of
from notifications.dispatcher import dispatch_once
from notifications.models import InboundMessage, OutboxMessage, OutboxStatus
from notifications.outbox import enqueue_many
from notifications.providers import provider_of
from tests.support.mainland import CALLBACK_SECRET, aliyun_settings, write_template_map
from tests.support.mainland_standins import AliyunStandIn
from tests.support.postgres import create_postgres_database, drop_postgres_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_mainland_{os.getpid()}"
DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
FLOORS = {"sends": 50.0, "reports": 20.0, "replies": 20.0}
BIG_PUSH_SECONDS = 5.0


def _line(name: str, count: int, seconds: float) -> float:
    rate = count / seconds if seconds else float("inf")
    floor = FLOORS.get(name.split()[0], 0.0)
    verdict = "ok" if rate > floor else "BELOW FLOOR"
    print(
        f"{name:<24} {count:>6} in {seconds:6.2f} s = {rate:8.0f}/s"
        f"   floor > {floor:.0f}/s  {verdict}"
    )
    return rate


def _big_push(app: Any, items: int) -> bool:
    """One push of `items` replies: answered, all stored, within `BIG_PUSH_SECONDS`."""
    db = database_of(app)
    replies = [
        {
            "phone_number": f"136{n:08d}",
            "content": "好",
            "send_time": "2026-11-24 10:02:00",
            "dest_code": "1",
            "sequence_id": f"big{n}",
        }
        for n in range(items)
    ]
    body = json.dumps(replies, ensure_ascii=False)

    def stored(*where: Any) -> int:
        with db.unit_of_work() as session:
            query = select(func.count()).select_from(InboundMessage)
            big = InboundMessage.message_sid.like("aliyun:big%")
            return session.scalar(query.where(big, *where)) or 0

    started = time.perf_counter()
    response = app.test_client().post(
        f"/sms/aliyun/{CALLBACK_SECRET}/up", data=body, content_type="application/json"
    )
    answered = time.perf_counter() - started
    kept = stored()
    verdict = "ok" if response.status_code == 200 and kept == items else "FAILED"
    target = "ok" if answered < BIG_PUSH_SECONDS else "ABOVE TARGET"
    print(
        f"{'one push, answered':<24} {items:>6} in {answered:6.2f} s, {kept} stored"
        f"   target < {BIG_PUSH_SECONDS:.0f} s  {target}  {verdict}"
    )
    while stored(InboundMessage.outcome == "received"):
        time.sleep(0.5)
    drained = time.perf_counter() - started
    rate = items / drained
    print(f"{'one push, all applied':<24} {items:>6} in {drained:6.2f} s = {rate:8.0f}/s")
    return verdict == "ok" and answered < BIG_PUSH_SECONDS


def run(url: str, messages: int, batch: int, big_push: int = 0) -> bool:
    from wsgi import create_app

    standin = AliyunStandIn()
    workdir = Path(tempfile.mkdtemp())
    settings: dict[str, Any] = {
        **aliyun_settings(standin.endpoint, write_template_map(workdir / "templates.json")),
        "database_url": url,
        "sms_rate_per_second": 0.0,
        "log_level": "WARNING",
    }
    app = create_app(settings)
    db = database_of(app)
    ok = True
    try:
        with db.unit_of_work() as session:
            enqueue_many(
                session,
                [
                    Notice(
                        key=f"bench:{n}",
                        phone=f"+86139{n:08d}",
                        language="zh_CN",
                        template="sms.test",
                    )
                    for n in range(messages)
                ],
                now=DAY,
            )
            session.commit()
        started = time.perf_counter()
        sent = 0
        while sent < messages:
            stats = dispatch_once(db, provider_of(app), settings_of(app), now=DAY, batch_size=500)
            if stats.sent == 0:
                break
            sent += stats.sent
        ok &= _line("sends (Aliyun SDK)", sent, time.perf_counter() - started) > FLOORS["sends"]

        with db.unit_of_work() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.to_phone, OutboxMessage.provider_sid)
            ).all()
        reports = [
            {
                "phone_number": phone[3:],
                "success": True,
                "err_code": "DELIVERED",
                "biz_id": sid,
                "out_id": str(row_id),
                "send_time": "2026-11-24 10:00:00",
                "report_time": "2026-11-24 10:00:03",
            }
            for row_id, phone, sid in rows
        ]
        client = app.test_client()
        started = time.perf_counter()
        for start in range(0, len(reports), batch):
            client.post(
                f"/sms/aliyun/{CALLBACK_SECRET}/report", json=reports[start : start + batch]
            )
        ok &= (
            _line("reports (push)", len(reports), time.perf_counter() - started) > FLOORS["reports"]
        )
        with db.unit_of_work() as session:
            delivered = session.scalar(
                select(func.count()).where(OutboxMessage.status == OutboxStatus.DELIVERED)
            )
        ok &= delivered == len(reports)

        replies = [
            {
                "phone_number": f"137{n:08d}",
                "content": "好",
                "send_time": "2026-11-24 10:01:00",
                "dest_code": "1",
                "sequence_id": str(n),
            }
            for n in range(messages)
        ]
        for label in ("replies (new)", "replies (repeated)"):
            started = time.perf_counter()
            for start in range(0, len(replies), batch):
                client.post(
                    f"/sms/aliyun/{CALLBACK_SECRET}/up", json=replies[start : start + batch]
                )
            rate = _line(label, len(replies), time.perf_counter() - started)
            ok &= rate > FLOORS["replies"]
        with db.unit_of_work() as session:
            stored = session.scalar(select(func.count()).select_from(InboundMessage))
        ok &= stored == messages
        print(json.dumps({"inbound_rows": stored, "delivered": delivered}))
        if big_push:
            ok &= _big_push(app, big_push)
    finally:
        db.dispose()
        standin.close()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--big-push", type=int, default=30_000)
    args = parser.parse_args(argv)
    url = create_postgres_database(args.url, DATABASE_NAME)
    try:
        migrate.upgrade(url)
        return 0 if run(url, args.messages, args.batch, args.big_push) else 1
    finally:
        drop_postgres_database(args.url, DATABASE_NAME)


if __name__ == "__main__":
    sys.exit(main())
