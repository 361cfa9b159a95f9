"""`flask --app wsgi scheduler run|jobs|run-once`."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from config.clock import now as clock_now
from config.runtime import current_settings
from grids.cli import CommandFailed, at_option, parse_at, render_table
from grids.cli import language as cli_language
from grids.storage.session import current_db, request_session
from i18n import translate
from notifications.providers import current_provider
from scheduling.process import SchedulerProcess, instance_name
from scheduling.registry import JOB_IDS, JOBS, function_of, spec_of
from scheduling.runner import check_tables, last_runs, run_job

scheduler_cli = AppGroup("scheduler", help="The scheduler process and its jobs.")


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler until SIGTERM or Ctrl-C: the leader runs the jobs, another
    process started meanwhile waits as a hot standby (PostgreSQL)."""
    language = cli_language()
    check_tables(current_db())
    stop = threading.Event()
    process = SchedulerProcess(
        current_db(),
        current_settings(),
        current_provider(),
        stop=stop,
        on_event=lambda event: click.echo(
            translate(f"scheduler.run.{event}", language, instance=instance_name()), err=True
        ),
    )

    def request_stop(signum: int, _frame: Any) -> None:
        click.echo(translate("scheduler.run.stopping", language), err=True)
        process.request_stop()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        process.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


@scheduler_cli.command("jobs")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def jobs_command(output: str) -> None:
    """List the jobs, when each runs next and how its last run went."""
    settings = current_settings()
    now = clock_now()
    states = last_runs(request_session())
    items = []
    language = cli_language()
    for spec in JOBS:
        state = states.get(spec.id)
        unscheduled = spec.unscheduled(settings, language)
        next_run = spec.build_trigger(settings.tz, settings).get_next_fire_time(None, now)
        item: dict[str, Any] = {
            "id": spec.id,
            "schedule": spec.schedule,
            "next_run": None if unscheduled else _iso(next_run),
            "last_run": _iso(state.last_run_at) if state else None,
            "last_status": state.last_status if state else None,
            "note": unscheduled or spec.note(),
        }
        items.append(item)
    if output == "json":
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
        return
    click.echo(
        render_table(
            translate("scheduler.jobs.header", language).split("|"),
            [
                (
                    i["id"],
                    i["schedule"],
                    i["next_run"] or "-",
                    i["last_run"] or "-",
                    i["last_status"] or "-",
                    i["note"] or "",
                )
                for i in items
            ],
        )
    )


@scheduler_cli.command("run-once")
@click.argument("job_id")
@at_option("Run as if the clock read this ISO time (county time if no offset).")
def run_once_command(job_id: str, at: str | None) -> None:
    """Run one job now (or as of --at); a slot that has run already is not run again."""
    language = cli_language()
    if job_id not in JOB_IDS:
        raise CommandFailed(
            translate("scheduler.error.unknown_job", language, job=job_id, jobs=", ".join(JOB_IDS))
        )
    now = parse_at(at)
    spec = spec_of(job_id)
    unscheduled = spec.unscheduled(current_settings(), language)
    if unscheduled:
        raise CommandFailed(unscheduled)
    check_tables(current_db())
    outcome = run_job(
        current_db(),
        current_settings(),
        spec,
        function_of(job_id, current_provider()),
        now,
        f"run-once:{instance_name()}",
    )
    if outcome.status == "duplicate":
        click.echo(
            translate("scheduler.run_once.duplicate", language, job=job_id, slot=outcome.slot)
        )
        return
    if outcome.status == "failed":
        raise CommandFailed(
            translate("scheduler.error.failed", language, job=job_id, error=outcome.error)
        )
    assert outcome.result is not None
    click.echo(
        translate(
            "scheduler.run_once.done",
            language,
            job=job_id,
            at=_iso(now),
            result=json.dumps(outcome.result.as_dict(), ensure_ascii=False),
        )
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(scheduler_cli)
