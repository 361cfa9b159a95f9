"""Per-number frequency caps of the mainland providers, known to the dispatcher.

Tencent Cloud refuses a second message of the same content to a number within
30 seconds and more than 10 messages to a number in a calendar day (China
time); Aliyun more than 50 notifications a day (rolling 24 hours) per
signature, template and number. A message sent past a cap is lost to the
provider's refusal, so the dispatcher holds a claimed row until the cap
allows it (`defer_capped`), counting what it already sent and what it is
about to send in the same batch.

Urgent messages are held only by the 30-second same-content rule: a day cap
never holds an urgent message (a held alert is a silenced one). Urgent texts
carry the report's code and words, so a re-alert about another report is
other content; if the provider still refuses one, the refusal is transient
and the escalation ladder treats the unsent step as failed and moves on.

`earliest_send` is the pure rule; `defer_capped` reads the recent sends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from config.logging import mask_phone
from notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
SAME_CONTENT_SECONDS = 30
TENCENT_DAILY = 10
ALIYUN_DAILY_PER_TEMPLATE = 50
CAPPED_PROVIDERS = frozenset({"aliyun", "tencent"})
LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True)
class Send:
    """A message to one number: sent at `at`, or about to be."""

    at: datetime
    template: str
    body: str


def _next_china_midnight(moment: datetime) -> datetime:
    local = moment.astimezone(CHINA)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=CHINA)


def earliest_send(
    provider: str, history: Sequence[Send], candidate: Send, *, urgent: bool
) -> datetime:
    """The earliest time `candidate` may go to its number without passing `provider`'s caps,
    given `history` (earlier sends to the same number in the last 24 hours)."""
    now = candidate.at
    earliest = now
    if provider == "tencent":
        same = [s.at for s in history if s.body == candidate.body]
        if same:
            earliest = max(earliest, max(same) + timedelta(seconds=SAME_CONTENT_SECONDS))
        if not urgent:
            today = now.astimezone(CHINA).date()
            sent_today = [s for s in history if s.at.astimezone(CHINA).date() == today]
            if len(sent_today) >= TENCENT_DAILY:
                earliest = max(earliest, _next_china_midnight(now))
    elif provider == "aliyun" and not urgent:
        window = sorted(
            s.at for s in history if s.template == candidate.template and s.at > now - LOOKBACK
        )
        if len(window) >= ALIYUN_DAILY_PER_TEMPLATE:
            # Rolling 24 h: the send that leaves the window makes room.
            earliest = max(earliest, window[len(window) - ALIYUN_DAILY_PER_TEMPLATE] + LOOKBACK)
    return earliest


def _history(
    session: Session, provider: str, phones: set[str], now: datetime
) -> dict[str, list[Send]]:
    rows = session.execute(
        select(
            OutboxMessage.to_phone,
            OutboxMessage.sent_at,
            OutboxMessage.template,
            OutboxMessage.body,
        ).where(
            OutboxMessage.to_phone.in_(sorted(phones)),
            OutboxMessage.provider == provider,
            OutboxMessage.sent_at > now - LOOKBACK,
            OutboxMessage.status.in_(
                (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.UNDELIVERED)
            ),
        )
    )
    history: dict[str, list[Send]] = {}
    for phone, sent_at, template, body in rows:
        history.setdefault(phone, []).append(Send(sent_at, template, body))
    return history


def defer_capped(
    session: Session, provider: str, rows: Sequence[Row[Any]], now: datetime
) -> list[Row[Any]]:
    """Of claimed `rows`, those that may go now; the others go back to `pending` until their
    cap allows them, their attempt not counted (no commit)."""
    if provider not in CAPPED_PROVIDERS or not rows:
        return list(rows)
    history = _history(session, provider, {row.to_phone for row in rows}, now)
    ready: list[Row[Any]] = []
    held: list[dict[str, Any]] = []
    for row in rows:
        candidate = Send(now, row.template, row.body)
        sends = history.setdefault(row.to_phone, [])
        earliest = earliest_send(provider, sends, candidate, urgent=row.urgent)
        if earliest <= now:
            ready.append(row)
            sends.append(candidate)
            continue
        held.append({"b_id": row.id, "b_next": earliest})
        log.info(
            "outbox %d to %s held until %s by %s's per-number limit",
            row.id,
            mask_phone(row.to_phone),
            earliest.isoformat(timespec="seconds"),
            provider,
        )
    if held:
        table = OutboxMessage.__table__
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                status=OutboxStatus.PENDING,
                attempts=table.c.attempts - 1,
                lease_expires_at=None,
                next_attempt_at=bindparam("b_next"),
                error_code="frequency_cap",
                error_message=f"held to stay within {provider}'s per-number limit",
                updated_at=now,
            ),
            held,
        )
    return ready
