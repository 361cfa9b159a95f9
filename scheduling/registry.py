"""The jobs, declared as data: id, when it fires, how a slot is named, its grace.

The slot names the tick a run stands for, in the county's time zone; the unique
(job, slot) run row makes each slot run once, whichever process gets there
first. The frequent jobs (`escalation-tick`, `outbox-dispatch`) claim their rows
with `SKIP LOCKED` instead and keep no run rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config.settings import Settings
from grids.storage.database import Database
from notifications.providers import SmsProvider
from scheduling.job_ids import (
    ATTENDANCE_PROMPTS,
    CASE_FOLLOWTHROUGH,
    DOCTOR_DIGEST,
    ESCALATION_TICK,
    EXCHANGE_REMINDERS,
    MAINLAND_RECONCILE,
    MEMBER_SILENCE,
    OUTBOX_DISPATCH,
    PARTITIONS_AHEAD,
    RAW_TEXT_RETENTION,
    REPORT_PROMPTS,
    ROLLUPS_REFRESH,
)
from scheduling.jobs.cases import case_followthrough
from scheduling.jobs.common import JobResult
from scheduling.jobs.digest import doctor_digest
from scheduling.jobs.exchanges import attendance_prompts, exchange_reminders
from scheduling.jobs.housekeeping import partitions_ahead, raw_text_retention
from scheduling.jobs.reconcile import mainland_reconcile, unless_mainland
from scheduling.jobs.reports import report_prompts
from scheduling.jobs.rollups import refresh_trigger, rollups_refresh
from scheduling.jobs.silence import member_silence
from scheduling.jobs.ticks import escalation_tick, outbox_dispatch

JobFunction = Callable[[Database, Settings, datetime], JobResult]


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: dict[str, Any]
    """APScheduler trigger arguments: `{"cron": {...}}` or `{"interval": {...}}`."""
    schedule: str
    """The schedule in words, for `scheduler jobs` and the docs."""
    slot_format: str | None
    """strftime of the slot in county time; None: no run rows (frequent jobs)."""
    misfire_grace_time: int
    """Seconds a late tick may still run (a restart, a long previous run)."""
    run_at_start: bool = True
    """Run once when the process becomes leader, to catch up from the database."""
    note: Callable[[], str | None] = field(default=lambda: None)
    unscheduled: Callable[[Settings, str], str | None] = field(
        default=lambda _settings, _language: None
    )
    """Why these settings leave the job out (in the given language), or None: scheduled."""
    trigger_of: Callable[[Settings], dict[str, Any]] | None = None
    """The trigger when a setting chooses it (then `trigger` is the default's)."""

    def trigger_for(self, settings: Settings | None) -> dict[str, Any]:
        if self.trigger_of is None or settings is None:
            return self.trigger
        return self.trigger_of(settings)

    def build_trigger(self, tz: ZoneInfo, settings: Settings | None = None) -> BaseTrigger:
        (kind, arguments), *_ = self.trigger_for(settings).items()
        if kind == "cron":
            return CronTrigger(timezone=tz, **arguments)
        return IntervalTrigger(timezone=tz, **arguments)

    def slot(self, now: datetime, tz: ZoneInfo, settings: Settings | None = None) -> str | None:
        if self.slot_format is None:
            return None
        local = now.astimezone(tz)
        minute = str(self.trigger_for(settings).get("cron", {}).get("minute", ""))
        if "%M" in self.slot_format and (minute.startswith("*/") or minute == "0"):
            every = int(minute[2:]) if minute.startswith("*/") else 60
            local = local.replace(minute=local.minute - local.minute % every)
        return local.strftime(self.slot_format)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        EXCHANGE_REMINDERS,
        {"cron": {"minute": "*/15"}},
        "every 15 min: members 18:00 the day before, coordinator 2 h before",
        "%Y-%m-%dT%H:%M",
        misfire_grace_time=600,
    ),
    JobSpec(
        REPORT_PROMPTS,
        {"cron": {"minute": 0}},
        "hourly: Sun 18:00 prompt, Mon 10:00 nudge and 2-week silence",
        "%Y-%m-%dT%H",
        misfire_grace_time=1800,
    ),
    JobSpec(
        ATTENDANCE_PROMPTS,
        {"cron": {"minute": 0}},
        "hourly: 10:00 the day after an exchange without 到 N",
        "%Y-%m-%dT%H",
        misfire_grace_time=1800,
    ),
    JobSpec(
        MEMBER_SILENCE,
        {"cron": {"hour": 9, "minute": 0}},
        "daily 09:00: members 4 weeks without news",
        "%Y-%m-%d",
        misfire_grace_time=6 * 3600,
    ),
    JobSpec(
        DOCTOR_DIGEST,
        {"cron": {"day_of_week": "mon", "hour": 8, "minute": 0}},
        "Mon 08:00: each village doctor's weekly digest",
        "%Y-%m-%d",
        misfire_grace_time=6 * 3600,
    ),
    JobSpec(
        ESCALATION_TICK,
        {"interval": {"seconds": 30}},
        "every 30 s: advance due escalations",
        None,
        misfire_grace_time=25,
    ),
    JobSpec(
        MAINLAND_RECONCILE,
        {"cron": {"minute": "*/30"}},
        "every 30 min (aliyun, tencent): pull delivery reports and replies pushes missed",
        "%Y-%m-%dT%H:%M",
        misfire_grace_time=900,
        unscheduled=unless_mainland,
    ),
    JobSpec(
        CASE_FOLLOWTHROUGH,
        {"cron": {"minute": 20}},
        "hourly: remind to close acknowledged cases (daily, 3 times), referral follow-ups due",
        "%Y-%m-%dT%H",
        misfire_grace_time=1800,
    ),
    JobSpec(
        PARTITIONS_AHEAD,
        {"cron": {"hour": 3, "minute": 10}},
        "daily 03:10 (PostgreSQL): this month's and the next 3 months' history partitions",
        "%Y-%m-%d",
        misfire_grace_time=12 * 3600,
    ),
    JobSpec(
        RAW_TEXT_RETENTION,
        {"cron": {"hour": 3, "minute": 40}},
        "daily 03:40: SMS text and numbers older than RAW_TEXT_RETENTION_DAYS reduced",
        "%Y-%m-%d",
        misfire_grace_time=12 * 3600,
    ),
    JobSpec(
        ROLLUPS_REFRESH,
        {"cron": {"minute": "*/15"}},
        "every 15 min (ROLLUPS_REFRESH_MINUTES): the current week's stored rollups, "
        "recounting only the grids that changed",
        "%Y-%m-%dT%H:%M",
        misfire_grace_time=600,
        trigger_of=refresh_trigger,
    ),
    JobSpec(
        OUTBOX_DISPATCH,
        {"interval": {"seconds": 5}},
        "every 5 s: clear pointless reminders, send due SMS",
        None,
        misfire_grace_time=4,
    ),
)

JOB_IDS = tuple(spec.id for spec in JOBS)


def scheduled_jobs(settings: Settings) -> tuple[JobSpec, ...]:
    """The jobs these settings schedule (`mainland-reconcile` only with a mainland provider)."""
    language = settings.default_language
    return tuple(spec for spec in JOBS if spec.unscheduled(settings, language) is None)


def spec_of(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    raise KeyError(job_id)


def function_of(
    job_id: str, provider: SmsProvider, halt: threading.Event | None = None
) -> JobFunction:
    functions: dict[str, JobFunction] = {
        EXCHANGE_REMINDERS: exchange_reminders,
        REPORT_PROMPTS: report_prompts,
        ATTENDANCE_PROMPTS: attendance_prompts,
        MEMBER_SILENCE: member_silence,
        DOCTOR_DIGEST: doctor_digest,
        ESCALATION_TICK: escalation_tick,
        OUTBOX_DISPATCH: outbox_dispatch(provider, halt),
        MAINLAND_RECONCILE: mainland_reconcile(provider),
        CASE_FOLLOWTHROUGH: case_followthrough,
        PARTITIONS_AHEAD: partitions_ahead,
        RAW_TEXT_RETENTION: raw_text_retention,
        ROLLUPS_REFRESH: rollups_refresh,
    }
    return functions[job_id]
