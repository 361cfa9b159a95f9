"""Pull call results the voice pushes may have missed (part of `mainland-reconcile`).

Aliyun: every call placed in the window and still `sent` (no result yet) is looked up
with `QueryCallDetailByCallId`; what comes back goes through the same
`apply_call_results` as a push, so a result already applied changes nothing. Tencent
Cloud's voice API has no query of a call's result: its calls are known by push only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from config.settings import Settings
from grids.storage.database import Database
from notifications.mainland.voice_pushes import VOICE, CallResult, aliyun_outcome
from notifications.mainland.voice_pushes import apply_call_results as apply
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers.aliyun_voice import AliyunVoiceProvider
from notifications.providers.voice import VoiceProvider

log = logging.getLogger(__name__)


def reconcile_calls(
    database: Database, voice: VoiceProvider, settings: Settings, since: datetime, now: datetime
) -> int:
    """How many call results were pulled and applied (0 for providers without a query)."""
    if not isinstance(voice, AliyunVoiceProvider):
        return 0
    with database.unit_of_work() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.to_phone, OutboxMessage.provider_sid)
            .add_columns(OutboxMessage.sent_at)
            .where(
                OutboxMessage.provider == voice.name,
                OutboxMessage.channel == VOICE,
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.sent_at >= since,
                OutboxMessage.sent_at <= now - timedelta(minutes=1),
                OutboxMessage.provider_sid.is_not(None),
            )
        ).all()
    results: list[CallResult] = []
    for row in rows:
        try:
            detail = voice.query_call_detail(row.provider_sid, row.sent_at)
        except Exception as error:
            log.warning("QueryCallDetailByCallId for outbox %d failed: %s", row.id, error)
            continue
        if detail is None:
            continue
        results.append(
            CallResult(
                call_id=row.provider_sid,
                phone=row.to_phone,
                outbox_id=str(row.id),
                outcome=aliyun_outcome(detail.state),
                keypress=detail.dtmf or None,
            )
        )
    return apply(database, settings, results, now).accepted
