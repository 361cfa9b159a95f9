"""`kill -9` of a dispatcher mid-send: the messages the provider accepted but the
database never heard of are sent again after the lease. Each acceptance is recorded
before the next send, so that is at most the one message in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from grids.core.notices import Notice
from grids.storage.database import Database
from notifications.models import OutboxMessage
from notifications.outbox import enqueue_many

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 400


def test_a_killed_dispatcher_leaves_at_most_the_message_in_flight_unrecorded(
    database_url: str, db: Database
) -> None:
    with db.unit_of_work() as session:
        enqueue_many(
            session,
            [
                Notice.to_phone(
                    f"+86139{n:08d}", key=f"kill:{n}", language="zh_CN", template="sms.test"
                )
                for n in range(MESSAGES)
            ],
            now=datetime.now(UTC),  # sent by a real process on the wall clock
        )
        session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUZHU_ENV": "test",
        "SMS_BACKEND": "console",
        "SMS_RATE_PER_SECOND": "0",
        "QUIET_HOURS": "00:00-00:00",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "dispatch"]
    lines: list[str] = []
    with subprocess.Popen(
        [*command, "--idle-seconds", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            # Well into the batch, then killed without warning.
            while sum("[sms" in line for line in lines) < MESSAGES // 4:
                assert time.monotonic() < deadline, "the dispatcher did not send"
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        reader.join(timeout=10)
    accepted = sum("[sms" in line for line in lines)
    with db.unit_of_work() as session:
        recorded = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        )
    assert recorded is not None and 0 < recorded < MESSAGES
    assert 0 <= accepted - recorded <= 1, (accepted, recorded)
