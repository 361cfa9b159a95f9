"""`flask --app wsgi outbox dispatch` as a real process: it sends, then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from config.runtime import now as clock_now
from grids.core.notices import Notice
from grids.storage.database import Database
from notifications.models import OutboxMessage
from notifications.outbox import enqueue
from tests.support.clock import WORKING_MORNING, process_env, running_at

ROOT = Path(__file__).resolve().parents[2]


class Output:
    """Collects a process's stdout lines on a thread, so waiting for one never blocks."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.stream = process.stdout
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        for line in self.stream:
            self.lines.put(line)

    def until(self, needle: str, seconds: float = 30) -> str:
        seen = ""
        deadline = time.monotonic() + seconds
        while needle not in seen and time.monotonic() < deadline:
            try:
                seen += self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
        return seen


def test_the_dispatcher_sends_and_stops_cleanly_on_sigterm(database_url: str, db: Database) -> None:
    with running_at(WORKING_MORNING):
        _sends_and_stops(database_url, db)


def _sends_and_stops(database_url: str, db: Database) -> None:
    with db.unit_of_work() as session:
        enqueue(
            session,
            Notice(
                key="urgent:1", phone="+8613912345678", language="zh_CN", template="sms.test",
                urgent=True,
            ),
            now=clock_now(),
        )  # fmt: skip
        session.commit()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HUZHU_ENV": "test",
        "SMS_BACKEND": "console",
        "SMS_RATE_PER_SECOND": "0",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "dispatch"]
    with subprocess.Popen(
        [*command, "--idle-seconds", "0.1"],
        cwd=ROOT,
        env=process_env(env, clock_now()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        output = Output(process)
        try:
            printed = output.until("sent 1")
            assert "sent 1" in printed, printed
            assert "+86139****5678" in printed
            assert "13912345678" not in printed
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            output.thread.join(timeout=5)
        assert process.stderr is not None
        errors = process.stderr.read()
    assert process.returncode == 0, errors
    assert "SIGTERM：发完当前这条后停止" in errors
    assert "已停止；合计：reclaimed 0, claimed 1" in errors
    with db.unit_of_work() as session:
        assert session.scalars(select(OutboxMessage.status)).one() == "sent"
