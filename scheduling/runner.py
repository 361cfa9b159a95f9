"""Running one job for one slot: the run row first, then the job, then its outcome."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from config.clock import now as clock_now
from config.logging import mask_phones_in
from config.settings import Settings
from grids.storage.database import Database
from scheduling.jobs.common import JobResult
from scheduling.models import SchedulerHeartbeat, SchedulerJobState, SchedulerRun
from scheduling.registry import JobFunction, JobSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    job_id: str
    slot: str | None
    status: str
    """`ok`, `failed`, or `duplicate` (the slot had run already: nothing done)."""
    result: JobResult | None = None
    error: str | None = None


def _insert(session: Session, model: type, **values: object):  # type: ignore[no-untyped-def]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(model).values(**values)


def check_tables(database: Database) -> None:
    """Raise the database's `DBAPIError` when it is unreachable or lacks the scheduler's
    tables (not migrated)."""
    with database.unit_of_work() as session:
        for model in (SchedulerRun, SchedulerJobState, SchedulerHeartbeat):
            session.execute(select(model).limit(1)).all()


def claim_slot(
    database: Database, spec: JobSpec, slot: str, now: datetime, instance: str
) -> int | None:
    """The new run row's id, or None when (job, slot) has one already."""
    with database.unit_of_work() as session:
        statement = (
            _insert(
                session,
                SchedulerRun,
                job_id=spec.id,
                slot=slot,
                at=now,
                status="running",
                instance=instance,
            )
            .on_conflict_do_nothing(index_elements=["job_id", "slot"])
            .returning(SchedulerRun.id)
        )
        run_id = session.scalar(statement)
        session.commit()
        return run_id


def _record_state(
    database: Database, job_id: str, now: datetime, status: str, error: str | None
) -> None:
    with database.unit_of_work() as session:
        values: dict[str, object] = {"last_run_at": now, "last_status": status}
        if error is not None:
            values.update(last_error=error[-2000:], last_failed_at=now)
        statement = _insert(session, SchedulerJobState, job_id=job_id, **values)
        statement = statement.on_conflict_do_update(index_elements=["job_id"], set_=values)
        session.execute(statement)
        session.commit()


def run_job(
    database: Database,
    settings: Settings,
    spec: JobSpec,
    function: JobFunction,
    now: datetime,
    instance: str,
) -> RunOutcome:
    """Run `spec` as if the clock read `now`, once per slot."""
    slot = spec.slot(now, settings.tz, settings)
    run_id = None
    if slot is not None:
        run_id = claim_slot(database, spec, slot, now, instance)
        if run_id is None:
            log.info("%s: slot %s has run already; nothing to do", spec.id, slot)
            return RunOutcome(spec.id, slot, "duplicate")
    try:
        result = function(database, settings, now)
    except Exception as failure:
        error = mask_phones_in(traceback.format_exc())
        try:
            if run_id is not None:
                _finish(database, run_id, "failed", None, error)
            _record_state(database, spec.id, now, "failed", error)
        except DBAPIError:
            # The database is unavailable: the caller says so, in one line.
            if not isinstance(failure, DBAPIError):
                log.error("%s (slot %s) failed:\n%s", spec.id, slot, error)
            raise
        log.error("%s (slot %s) failed:\n%s", spec.id, slot, error)
        return RunOutcome(spec.id, slot, "failed", error=error.strip().splitlines()[-1])
    if run_id is not None:
        _finish(database, run_id, "ok", result, None)
    _record_state(database, spec.id, now, "ok", None)
    if result.queued or result.sent or result.cleared or result.missed:
        log.info("%s (slot %s): %s", spec.id, slot, result.as_dict())
    return RunOutcome(spec.id, slot, "ok", result)


def _finish(
    database: Database, run_id: int, status: str, result: JobResult | None, error: str | None
) -> None:
    with database.unit_of_work() as session:
        run = session.get(SchedulerRun, run_id)
        assert run is not None
        run.status = status
        run.finished_at = clock_now()
        run.result = result.as_dict() if result is not None else None
        run.error = error[-2000:] if error else None
        session.commit()


def last_runs(session: Session) -> dict[str, SchedulerJobState]:
    return {state.job_id: state for state in session.scalars(select(SchedulerJobState))}
