"""`mainland-reconcile`: pull what the mainland provider's pushes may have missed.

Every 30 minutes, only when `SMS_BACKEND` is `aliyun` or `tencent`: delivery
reports of messages still `sent` (Aliyun `QuerySendDetails`, Tencent
`PullSmsSendStatusByPhoneNumber`), for Tencent, replies
(`PullSmsReplyStatusByPhoneNumber`) and, with `VOICE_BACKEND=aliyun`, call results
(`QueryCallDetailByCallId`), over the last 48 hours
(`notifications.mainland.reconcile`). What was pushed already is deduplicated,
so a run that finds nothing new changes nothing.

Catch-up: the window is the 48 hours before the run, so one run after an
outage pulls what the missed runs would have; nothing is recorded as missed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from config.settings import MAINLAND_BACKENDS, Settings
from grids.storage.database import Database
from i18n import translate
from notifications.mainland.reconcile import reconcile
from notifications.providers import SmsProvider
from scheduling.jobs.common import JobResult


def unless_mainland(settings: Settings, language: str) -> str | None:
    """Why the job is not scheduled (no mainland provider configured), or None."""
    if settings.sms_backend in MAINLAND_BACKENDS:
        return None
    return translate("outbox.reconcile.not_mainland", language, backend=settings.sms_backend)


def mainland_reconcile(
    provider: SmsProvider,
) -> Callable[[Database, Settings, datetime], JobResult]:
    """The mainland-reconcile job for `provider`."""

    def run(database: Database, settings: Settings, now: datetime) -> JobResult:
        outcome = reconcile(database, provider, settings, now)
        return JobResult(
            note=f"{outcome.receipts} delivery reports, {outcome.replies} replies pulled"
            + (f", {outcome.calls} call results" if outcome.calls else "")
        )

    return run
