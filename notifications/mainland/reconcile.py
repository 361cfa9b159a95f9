"""Pull what the providers' pushes may have missed, deduplicated against what arrived.

- Delivery reports: every message sent in the window and still `sent` (no
  report yet) is looked up: Aliyun `QuerySendDetails` by number, day and
  `BizId`; Tencent `PullSmsSendStatusByPhoneNumber` by number. What comes back
  goes through the same `apply_receipts` as a push, so a report already
  applied changes nothing.
- Replies (Tencent only: Aliyun has no pull API for replies):
  `PullSmsReplyStatusByPhoneNumber` for every number we sent to in the
  window; each reply gets the same key as its push (mobile + time + text),
  so one that arrived already is not applied twice.

- Pushed replies stored but never applied (the web process stopped while applying a
  large batch after answering it) are applied (`pushes.apply_waiting`).

- Call results (`VOICE_BACKEND=aliyun` only, `voice_reconcile.py`): Aliyun's
  `QueryCallDetailByCallId` for every call still without a result; Tencent's voice API
  has no such query.

The window is the last `WINDOW` before `now` (Tencent keeps 7 days). The
scheduler's job and `flask --app wsgi outbox reconcile [--at ISO]` call
`reconcile`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.runtime import settings_of
from config.settings import Settings
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications.inbound import IncomingSms
from notifications.mainland import pushes
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers import SmsProvider, provider_of, voice_provider_of
from notifications.providers.aliyun import AliyunProvider
from notifications.providers.tencent import TencentProvider
from notifications.providers.voice import VoiceProvider, build_voice_provider

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=48)
ALIYUN_DELIVERED = 3
ALIYUN_FAILED = 2


@dataclass
class ReconcileResult:
    replies: int = 0
    receipts: int = 0
    calls: int = 0


def _sent_rows(session: Session, provider: str, since: datetime, now: datetime) -> list[Row[Any]]:
    return list(
        session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.to_phone,
                OutboxMessage.provider_sid,
                OutboxMessage.status,
                OutboxMessage.sent_at,
            ).where(
                OutboxMessage.provider == provider,
                OutboxMessage.channel == "sms",
                OutboxMessage.sent_at >= since,
                OutboxMessage.sent_at <= now,
                OutboxMessage.provider_sid.is_not(None),
            )
        )
    )


def reconcile(
    database: Database,
    provider: SmsProvider,
    settings: Settings,
    now: datetime,
    voice: VoiceProvider | None = None,
) -> ReconcileResult:
    since = now - WINDOW
    with database.unit_of_work() as session:
        rows = _sent_rows(session, provider.name, since, now)
    waiting = [row for row in rows if row.status == OutboxStatus.SENT]
    result = ReconcileResult()
    result.replies = pushes.apply_waiting(database, settings, now)
    if isinstance(provider, AliyunProvider):
        result.receipts = _aliyun_receipts(database, provider, waiting, settings, now)
    elif isinstance(provider, TencentProvider):
        result.receipts = _tencent_receipts(database, provider, waiting, since, now)
        result.replies += _tencent_replies(
            database, provider, settings, sorted({row.to_phone for row in rows}), since, now
        )
    if settings.voice_backend == "aliyun":
        from notifications.mainland.voice_reconcile import reconcile_calls

        voice = voice or build_voice_provider(settings)
        result.calls = reconcile_calls(database, voice, settings, since, now)
    log.info(
        "reconciled %s: %d replies, %d receipts, %d call results",
        provider.name,
        result.replies,
        result.receipts,
        result.calls,
    )
    return result


def reconcile_app(app: Flask, now: datetime) -> ReconcileResult:
    return reconcile(
        database_of(app), provider_of(app), settings_of(app), now, voice_provider_of(app)
    )


def _aliyun_receipts(
    database: Database,
    provider: AliyunProvider,
    rows: list[Row[Any]],
    settings: Settings,
    now: datetime,
) -> int:
    receipts: list[pushes.Receipt] = []
    for row in rows:
        day = row.sent_at.astimezone(settings.tz).date()
        try:
            details = list(provider.query_send_details(row.to_phone, day, biz_id=row.provider_sid))
        except Exception as error:
            log.warning("QuerySendDetails for outbox %d failed: %s", row.id, error)
            continue
        for detail in details:
            if detail.send_status not in (ALIYUN_DELIVERED, ALIYUN_FAILED):
                continue
            receipts.append(
                pushes.Receipt(
                    provider_sid=row.provider_sid,
                    phone=row.to_phone,
                    delivered=detail.send_status == ALIYUN_DELIVERED,
                    error_code=detail.err_code or None,
                    outbox_id=detail.out_id or None,
                )
            )
    return pushes.apply_receipts(database, receipts, now).accepted


def _tencent_receipts(
    database: Database,
    provider: TencentProvider,
    rows: list[Row[Any]],
    since: datetime,
    now: datetime,
) -> int:
    wanted = {row.provider_sid for row in rows}
    receipts: list[pushes.Receipt] = []
    for phone in sorted({row.to_phone for row in rows}):
        try:
            statuses = list(provider.pull_statuses(phone, since, now))
        except Exception as error:
            log.warning(
                "PullSmsSendStatusByPhoneNumber for %s failed: %s", mask_phone(phone), error
            )
            continue
        receipts.extend(
            pushes.Receipt(
                provider_sid=status.serial_no,
                phone=pushes.to_e164(status.phone),
                delivered=status.report_status == "SUCCESS",
                error_code=status.description or None,
                outbox_id=status.session_context or None,
            )
            for status in statuses
            if status.serial_no in wanted
        )
    return pushes.apply_receipts(database, receipts, now).accepted


def _tencent_replies(
    database: Database,
    provider: TencentProvider,
    settings: Settings,
    phones: list[str],
    since: datetime,
    now: datetime,
) -> int:
    replies: list[IncomingSms] = []
    for phone in phones:
        try:
            pulled = list(provider.pull_replies(phone, since, now))
        except Exception as error:
            log.warning(
                "PullSmsReplyStatusByPhoneNumber for %s failed: %s", mask_phone(phone), error
            )
            continue
        for reply in pulled:
            e164 = pushes.to_e164(reply.phone)
            replies.append(
                pushes.incoming_sms(
                    pushes.tencent_key(e164, reply.sent_at, reply.text),
                    e164,
                    reply.text,
                    {
                        "mobile": e164,
                        "time": reply.sent_at,
                        "text": reply.text,
                        "sign": reply.sign_name,
                    },
                )
            )
    return pushes.apply_replies(database, settings, replies, now).accepted
