"""Tables of the scheduler process: runs, per-job state, heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grids.storage.database import Base, UTCDateTime


class SchedulerRun(Base):
    """One run of a job for one slot: the unique (job, slot) makes a slot run once,
    whichever process gets there first."""

    __tablename__ = "scheduler_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(32))
    """The tick the run stands for, `2026-12-06T18:00` in the county's time zone."""
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The clock time the job ran as (its `now`)."""
    status: Mapped[str] = mapped_column(String(12))
    """`running`, `ok` or `failed`."""
    instance: Mapped[str] = mapped_column(String(80))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("job_id", "slot"),)


class SchedulerJobState(Base):
    """The last run of each job, frequent ones included (those keep no run rows)."""

    __tablename__ = "scheduler_job_state"

    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(12))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """How far the job has looked (the outbox clearing step keeps its place here)."""


class SchedulerHeartbeat(Base):
    """A scheduler process alive: the leader beats every tick, a standby while it waits."""

    __tablename__ = "scheduler_heartbeats"

    instance: Mapped[str] = mapped_column(String(80), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
