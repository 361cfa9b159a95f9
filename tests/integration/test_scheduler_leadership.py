"""One scheduler leads at a time on either database, and a killed leader's lock is
freed by the system so a standby takes over (PostgreSQL: advisory lock on a
connection; SQLite: a file lock beside the database file)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from grids.storage.database import Database
from scheduling.leader import Leadership

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
