"""`scheduler run`: one APScheduler `BlockingScheduler`, in its own process.

A process waits as a standby until it holds the leader lock, then runs the
jobs of `registry.JOBS` (explicit ids, replace_existing, coalesce, one instance
each, explicit misfire grace). A guard every `CHECK_SECONDS` beats the
heartbeat and re-checks the lock; each job re-checks it too. Losing the lock
stops the scheduler and the process waits as a standby again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from config.clock import now as clock_now
from config.settings import Settings
from grids.storage.database import Database
from notifications.providers import SmsProvider
from scheduling.leader import Leadership, error_line
from scheduling.models import SchedulerHeartbeat
from scheduling.registry import JobSpec, function_of, scheduled_jobs
from scheduling.runner import run_job

log = logging.getLogger(__name__)

STANDBY_POLL_SECONDS = 5.0
CHECK_SECONDS = 10


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(database: Database, instance: str, role: str, started: datetime) -> None:
    with database.unit_of_work() as session:
        insert = postgresql.insert if database.is_postgresql else sqlite.insert
        now = clock_now()
        values = {"role": role, "pid": os.getpid(), "beat_at": now}
        statement = insert(SchedulerHeartbeat).values(
            instance=instance, started_at=started, **values
        )
        session.execute(statement.on_conflict_do_update(index_elements=["instance"], set_=values))
        session.commit()


class SchedulerProcess:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        provider: SmsProvider,
        *,
        stop: threading.Event,
        on_event: Callable[[str], None] = lambda _event: None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.provider = provider
        self.stop = stop
        self.on_event = on_event
        self.instance = instance_name()
        self.started = clock_now()
        self.leadership = Leadership(database)
        self.scheduler: BlockingScheduler | None = None

    def run(self) -> None:
        """Wait for leadership, lead until it is lost or `stop` is set, repeat."""
        waiting_told = False
        try:
            while not self.stop.is_set():
                if not self.leadership.try_acquire():
                    if not waiting_told:
                        self.on_event("standby")
                        waiting_told = True
                    self._beat("standby")
                    self.stop.wait(STANDBY_POLL_SECONDS)
                    continue
                waiting_told = False
                self.on_event("leader")
                self._lead()
                if not self.stop.is_set():
                    self.on_event("lost")
        finally:
            self.leadership.release()

    def request_stop(self) -> None:
        self.stop.set()
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def _beat(self, role: str) -> None:
        try:
            beat(self.database, self.instance, role, self.started)
        except Exception as error:
            log.warning("scheduler heartbeat failed: %s", error_line(error))

    def _lead(self) -> None:
        tz = self.settings.tz
        # SQLite has one writer at a time, and a transaction that read before it writes
        # gets "database is locked" at once, whatever the busy timeout: jobs take turns.
        workers = 8 if self.database.is_postgresql else 1
        executor = ThreadPoolExecutor(max_workers=workers)
        scheduler = BlockingScheduler(timezone=tz, executors={"default": executor})
        self.scheduler = scheduler
        now = clock_now()
        for spec in scheduled_jobs(self.settings):
            scheduler.add_job(
                self._job(spec),
                trigger=spec.build_trigger(tz, self.settings),
                id=spec.id,
                name=spec.id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=spec.misfire_grace_time,
                **({"next_run_time": now} if spec.run_at_start else {}),
            )
        scheduler.add_job(
            self._guard,
            "interval",
            seconds=CHECK_SECONDS,
            id="leader-guard",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=CHECK_SECONDS,
            next_run_time=now,
        )
        if self.stop.is_set():
            return
        try:
            scheduler.start()
        finally:
            self.scheduler = None
            # Shut down from a job's thread, the scheduler cannot wait for its jobs; this
            # thread can. Jobs still running finish before leadership is released, so a
            # standby never runs a job beside them.
            executor.shutdown(wait=True)

    def _guard(self) -> None:
        if self.stop.is_set() or not self.leadership.still_held():
            self._step_down()
            return
        self._beat("leader")

    def _step_down(self) -> None:
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def _job(self, spec: JobSpec) -> Callable[[], None]:
        function = function_of(spec.id, self.provider, self.stop)

        def run() -> None:
            if self.stop.is_set() or not self.leadership.still_held():
                self._step_down()
                return
            try:
                run_job(self.database, self.settings, spec, function, clock_now(), self.instance)
            except DBAPIError as error:
                log.warning("%s: the database is unavailable: %s", spec.id, error_line(error))

        return run
