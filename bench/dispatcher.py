"""Outbox throughput on PostgreSQL: enqueue N messages, dispatch them through the memory provider.

    .venv/bin/python -m bench.dispatcher [--messages 20000] [--processes 1 2] [--batch-size 500]

Creates (and afterwards drops) the database `huzhu_bench_dispatch_<pid>` on the
server of `--url`, migrates it with Alembic, then for each dispatcher count:
empties the outbox, enqueues N messages with `enqueue_many` (printing the
rate), starts that many dispatcher processes with no rate limit and prints
messages sent per second, checking that every row was sent exactly once.
Target: over 2,000 messages/s, so our side is never the bottleneck before a
provider's rate limit.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from config.settings import Settings, parse_quiet_hours
from grids.core.notices import Notice
from grids.storage import migrate
from grids.storage.database import Database
from notifications.dispatcher import dispatch_once
from notifications.models import OutboxMessage
from notifications.outbox import enqueue_many
from notifications.providers.memory import MemoryProvider
from tests.support.postgres import create_postgres_database, drop_postgres_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_dispatch_{os.getpid()}"
DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: not quiet hours
SETTINGS = Settings(sms_rate_per_second=0, quiet_hours=parse_quiet_hours("00:00-00:00"))


def enqueue_all(database: Database, messages: int, chunk: int = 5000) -> float:
    started = time.perf_counter()
    with database.unit_of_work() as session:
        for start in range(0, messages, chunk):
            notices = [
                Notice(
                    key=f"bench:{n}",
                    phone=f"+86139{n:08d}",
                    language="zh_CN" if n % 3 else "en",
                    template="sms.test",
                    urgent=n % 50 == 0,
                    recipient_type="patient",
                    recipient_id=n,
                )
                for n in range(start, min(messages, start + chunk))
            ]
            enqueue_many(session, notices, now=DAY)
        session.commit()
    return time.perf_counter() - started


def dispatcher_process(
    url: str, batch_size: int, record_interval: float, go: Any, results: Any
) -> None:
    database = Database(url)
    provider = MemoryProvider()
    go.wait()
    started = time.perf_counter()
    passes = 0
    while dispatch_once(
        database,
        provider,
        SETTINGS,
        now=DAY,
        batch_size=batch_size,
        record_interval=record_interval,
    ).claimed:
        passes += 1
    results.put((len(provider.sent), passes, time.perf_counter() - started))
    database.dispose()


def dispatch_all(
    url: str, processes: int, batch_size: int, record_interval: float
) -> tuple[float, list[tuple[int, int, float]]]:
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    results = context.Queue()
    workers = [
        context.Process(
            target=dispatcher_process,
            args=(url, batch_size, record_interval, go, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every process import and connect before the clock starts
    started = time.perf_counter()
    go.set()
    outcomes = [results.get(timeout=600) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return elapsed, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server URL")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)

    url = create_postgres_database(args.url, DATABASE_NAME)
    try:
        migrate.upgrade(url)
        database = Database(url)
        print(
            f"outbox dispatch benchmark: {args.messages:,} messages, memory provider, "
            f"no rate limit, batch {args.batch_size}, PostgreSQL"
        )
        failures = 0
        modes = [
            ("each result recorded before the next send (default)", 0.0),
            ("results batched for 1 s (before; up to 1 s of sends repeated after kill -9)", 1.0),
        ]
        for (mode, record_interval), processes in (
            (mode, processes) for mode in modes for processes in args.processes
        ):
            with database.engine.begin() as connection:
                connection.execute(
                    text("TRUNCATE outbox, sms_contacts, early_delivery_statuses RESTART IDENTITY")
                )
            enqueue_seconds = enqueue_all(database, args.messages)
            elapsed, outcomes = dispatch_all(url, processes, args.batch_size, record_interval)
            sent = sum(count for count, _, _ in outcomes)
            with database.unit_of_work() as session:
                rows_sent = session.scalar(
                    select(func.count()).where(
                        OutboxMessage.status == "sent", OutboxMessage.attempts == 1
                    )
                )
            exact = sent == rows_sent == args.messages
            failures += not exact
            print(
                f"  {mode}, {processes} dispatcher(s): "
                f"enqueue {args.messages / enqueue_seconds:,.0f} msg/s "
                f"({enqueue_seconds:.2f} s); dispatch {sent / elapsed:,.0f} msg/s "
                f"({elapsed:.2f} s; per process {[count for count, _, _ in outcomes]}); "
                f"every row sent exactly once: {'yes' if exact else 'NO'}"
            )
        database.dispose()
    finally:
        if not args.keep:
            drop_postgres_database(args.url, DATABASE_NAME)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
