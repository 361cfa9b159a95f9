"""One scheduler leads at a time on either database, and a killed leader's lock is
freed by the system so a standby takes over (PostgreSQL: advisory lock on a
connection; SQLite: a file lock beside the database file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import scheduling.process as process_module
from config.settings import load_settings
from grids.storage.database import Database
from notifications.providers.memory import MemoryProvider
from scheduling.job_ids import ROLLUPS_REFRESH
from scheduling.leader import Leadership
from scheduling.process import SchedulerProcess
from scheduling.registry import JobSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def leaders(db: Database) -> Iterator[list[Leadership]]:
    made: list[Leadership] = []
    yield made
    for leadership in made:
        leadership.release()
        leadership.database.dispose()


def _leadership(db: Database, made: list[Leadership]) -> Leadership:
    # A second Database stands for a second process: its own engine and connections.
    leadership = Leadership(Database(db.url))
    made.append(leadership)
    return leadership


def test_only_one_of_two_schedulers_leads_until_it_lets_go(
    db: Database, leaders: list[Leadership]
) -> None:
    first, second = _leadership(db, leaders), _leadership(db, leaders)
    assert first.try_acquire()
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()
    assert not second.still_held()
    first.release()
    assert second.try_acquire() and second.still_held()
    assert not first.try_acquire()


def test_a_killed_leader_frees_the_lock_for_the_standby(
    db: Database, leaders: list[Leadership]
) -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from grids.storage.database import Database
                from scheduling.leader import Leadership
                leadership = Leadership(Database({db.url!r}))
                print("leader" if leadership.try_acquire() else "standby", flush=True)
                time.sleep(120)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        standby = _leadership(db, leaders)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "leader"
            assert not standby.try_acquire()
        finally:
            holder.kill()
            holder.wait(timeout=10)
    assert standby.try_acquire()


def test_a_stopping_leader_keeps_the_lock_until_its_running_job_ends(
    db: Database, leaders: list[Leadership], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped mid-job, the process waits for the job before it lets a standby lead, so
    the job never runs twice side by side (nor beside a test's cleanup)."""
    spec = JobSpec(
        id=ROLLUPS_REFRESH,
        trigger={"interval": {"hours": 1}},
        schedule="hourly",
        slot_format=None,
        misfire_grace_time=60,
    )
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_job(*_args: object) -> None:
        started.set()
        release.wait(30)
        finished.set()

    monkeypatch.setattr(process_module, "scheduled_jobs", lambda _settings: [spec])
    monkeypatch.setattr(process_module, "run_job", slow_job)
    process = SchedulerProcess(
        Database(db.url), load_settings({}), MemoryProvider(), stop=threading.Event()
    )
    thread = threading.Thread(target=process.run, daemon=True)
    thread.start()
    standby = _leadership(db, leaders)
    try:
        assert started.wait(10)
        process.request_stop()
        thread.join(timeout=1)
        assert thread.is_alive(), "the process returned while its job was running"
        assert not standby.try_acquire()
    finally:
        release.set()
        thread.join(timeout=10)
        process.database.dispose()
    assert finished.is_set() and not thread.is_alive()
    assert standby.try_acquire()
