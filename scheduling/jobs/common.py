"""What every job shares: its result, the window of time it covers, and handing the
domain's notices to the outbox (without reading rows back)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.notices import Notice
from grids.outreach import NumberStates, Outreach
from notifications import outbox
from notifications.models import SmsContact
from notifications.outbox import Broadcast
from scheduling.models import SchedulerRun

NUMBER_STATES = NumberStates(
    SmsContact, SmsContact.phone, SmsContact.opted_out_at, SmsContact.invalid_at
)
"""The channel's opted-out and invalid numbers, which the domain services leave out."""


@dataclass
class JobResult:
    queued: int = 0
    """Messages added to the outbox (a repeat of an earlier run adds none)."""
    cleared: int = 0
    """Queued messages that became pointless and were suppressed before sending."""
    missed: int = 0
    """Messages due while the scheduler was down and no longer useful: not sent."""
    skipped: int = 0
    """Recipients left out: opted out, number invalid, no phone, gone."""
    sent: int = 0
    """Messages handed to the provider (outbox-dispatch)."""
    note: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def add(self, outreach: Outreach, queued: int) -> JobResult:
        """Count what a domain service left out and how many of its notices were new."""
        self.missed += outreach.missed
        self.skipped += outreach.skipped
        self.queued += queued
        return self


def window_start(session: Session, job_id: str, now: datetime, lookback: timedelta) -> datetime:
    """Where this run's window opens: the clock time of the job's last successful run
    before `now`, at most `lookback` ago (the catch-up horizon)."""
    last = session.scalar(
        select(func.max(SchedulerRun.at)).where(
            SchedulerRun.job_id == job_id, SchedulerRun.status == "ok", SchedulerRun.at < now
        )
    )
    horizon = now - lookback
    return horizon if last is None or last < horizon else last


def enqueue(session: Session, notices: Iterable[Notice], now: datetime) -> int:
    """Add `notices` to the outbox; returns how many were new."""
    return outbox.enqueue_count(session, notices, now=now)


def enqueue_fanout(session: Session, notices: Sequence[Notice], now: datetime) -> int:
    """Like `enqueue`, for many people told the same text: notices sharing template,
    language and parameters become one broadcast, rendered and checked once and
    written in bulk (`COPY` on PostgreSQL; docs/outbox.md, "Fan-out")."""
    groups: dict[tuple[Any, ...], list[Notice]] = {}
    for notice in notices:
        shape = (
            notice.template,
            notice.language,
            notice.recipient_type,
            notice.urgent,
            notice.channel,
            tuple(sorted(notice.params.items())),
        )
        groups.setdefault(shape, []).append(notice)
    broadcasts = [
        Broadcast(
            template=first.template,
            language=first.language,
            params=first.params,
            recipients=[(n.key, n.phone, n.recipient_id) for n in group],
            recipient_type=first.recipient_type,
            urgent=first.urgent,
            channel=first.channel,
        )
        for group in groups.values()
        for first in group[:1]
    ]
    return outbox.enqueue_broadcasts(session, broadcasts, now=now)
