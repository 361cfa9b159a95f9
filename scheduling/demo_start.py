"""A first start on the demo county does not replay the past.

The demo loads twelve weeks of history and its exchanges are planned afterwards, so
reminders and prompts that fell due before the load were never due to anyone. As a
step of `flask --app wsgi demo`, the jobs that catch up on a window are recorded as
having run at the load, once: their first window opens there, not a lookback earlier.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import select

from config.clock import now as clock_now
from grids.demo import add_demo_step
from grids.storage.session import database_of
from scheduling.job_ids import ATTENDANCE_PROMPTS, DOCTOR_DIGEST, EXCHANGE_REMINDERS, REPORT_PROMPTS
from scheduling.models import SchedulerRun

WINDOW_JOBS = (EXCHANGE_REMINDERS, REPORT_PROMPTS, ATTENDANCE_PROMPTS, DOCTOR_DIGEST)
DEMO_SLOT = "demo-load"


def mark_demo_load(echo: Callable[[str], None]) -> None:
    now = clock_now()
    with database_of(current_app).unit_of_work() as session:
        ran = set(
            session.scalars(select(SchedulerRun.job_id).where(SchedulerRun.job_id.in_(WINDOW_JOBS)))
        )
        for job_id in WINDOW_JOBS:
            if job_id not in ran:
                session.add(
                    SchedulerRun(
                        job_id=job_id,
                        slot=DEMO_SLOT,
                        at=now,
                        status="ok",
                        instance="demo",
                        finished_at=now,
                    )
                )
        session.commit()


def init_app(app: Flask) -> None:
    add_demo_step(app, mark_demo_load)
