"""`flask --app wsgi scheduler run` as real processes on PostgreSQL: one leader, a hot
standby that takes over when the leader is killed, and nothing sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config.clock import now as clock_now
from grids.core.notices import Notice
from grids.storage.database import Database
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import enqueue
from scheduling.models import SchedulerHeartbeat, SchedulerRun
from tests.support import factories
from tests.support.clock import process_env, running_at

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.postgres


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


@pytest.fixture(autouse=True)
def _working_morning() -> Iterator[None]:
    """The test and its schedulers read one clock: a Tuesday morning in the county."""
    with running_at():
        yield


@pytest.fixture
def start_scheduler(database_url: str) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMS_BACKEND": "memory",
        "SMS_RATE_PER_SECOND": "0",
        "QUIET_HOURS": "00:00-00:00",
        "HUZHU_ENV": "development",
        "LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT,
            env=process_env(env, clock_now()),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _grid_meeting_soon(session) -> int:
    """A grid whose exchange starts in 90 minutes: its reminders are due now."""
    starts = (clock_now() + timedelta(minutes=90)).astimezone(TZ)
    tree = factories.facility_tree(session)
    grid = factories.grid_with_members(session, tree["clinic_a"], size=6)
    grid.grid.exchange_weekday = starts.weekday()
    grid.grid.exchange_time = starts.time().replace(second=0, microsecond=0)
    session.commit()
    return 6


def _roles(db: Database) -> dict[str, str]:
    with db.unit_of_work() as session:
        fresh = clock_now() - timedelta(seconds=20)
        return dict(
            session.execute(
                select(SchedulerHeartbeat.instance, SchedulerHeartbeat.role).where(
                    SchedulerHeartbeat.beat_at >= fresh
                )
            )
            .tuples()
            .all()
        )


def _sent(db: Database) -> list[tuple[str, int]]:
    with db.unit_of_work() as session:
        return list(
            session.execute(
                select(OutboxMessage.idempotency_key, OutboxMessage.attempts).where(
                    OutboxMessage.status == OutboxStatus.SENT
                )
            )
            .tuples()
            .all()
        )


def test_two_schedulers_at_once_send_nothing_twice(db: Database, session, start_scheduler) -> None:
    members = _grid_meeting_soon(session)
    first, second = start_scheduler(), start_scheduler()
    # Five members reminded (the coordinator is not) and the coordinator's reminder.
    assert _wait(lambda: len(_sent(db)) >= members, 60), _sent(db)
    time.sleep(6)  # a few more ticks of both processes
    sent = _sent(db)
    assert len(sent) == members and all(attempts == 1 for _, attempts in sent)
    roles = _roles(db)
    assert sorted(roles.values()) == ["leader", "standby"]
    leader = next(name for name, role in roles.items() if role == "leader")
    with db.unit_of_work() as s:
        runners = set(s.scalars(select(SchedulerRun.instance).distinct()))
        duplicates = s.scalar(
            select(func.count()).select_from(
                select(SchedulerRun.job_id, SchedulerRun.slot)
                .group_by(SchedulerRun.job_id, SchedulerRun.slot)
                .having(func.count() > 1)
                .subquery()
            )
        )
    assert runners == {leader} and duplicates == 0
    assert {first.pid, second.pid} >= {int(leader.rsplit(":", 1)[1])}


def test_the_standby_takes_over_when_the_leader_is_killed(
    db: Database, session, start_scheduler
) -> None:
    first = start_scheduler()
    assert _wait(lambda: "leader" in _roles(db).values(), 30)
    second = start_scheduler()
    assert _wait(lambda: sorted(_roles(db).values()) == ["leader", "standby"], 30)
    leader = next(name for name, role in _roles(db).items() if role == "leader")
    assert leader.endswith(f":{first.pid}")
    first.kill()
    first.wait(timeout=10)
    killed_at = time.monotonic()
    assert _wait(
        lambda: (
            _roles(db).get(next(iter(_roles(db)), "")) == "leader"
            and any(
                name.endswith(f":{second.pid}") and role == "leader"
                for name, role in _roles(db).items()
            )
        ),
        60,
    )
    assert time.monotonic() - killed_at < 60
    # The new leader runs the jobs: a message queued now is sent.
    enqueue(
        session,
        Notice(key="after-takeover", phone="+8613912345678", language="zh_CN", template="sms.test"),
        now=clock_now(),
    )
    session.commit()
    assert _wait(lambda: [key for key, _ in _sent(db)] == ["after-takeover"], 30)
