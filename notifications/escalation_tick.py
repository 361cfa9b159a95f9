"""The escalation tick: every open escalation looked at once, each advanced at most one step.

The scheduler's `escalation-tick` job (every 30 s) and `flask --app wsgi escalations
advance` call `run_escalation_tick`. It reads the outbox for what happened to each
step's messages and hands the domain plain `DeliveryFact`s (the domain never reads the
outbox), then enqueues what the domain asks to send, in the same transaction.

Exactly once: open escalations are claimed in batches with `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so two ticks at once take disjoint cases; each row's `token` (its version)
makes a stale update fail instead of advancing twice; and every message has an outbox
key made of (escalation, step, round, recipient, channel).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, not_, select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from grids.escalation.ladder import Ladder
from grids.escalation.models import Escalation, EscalationEvent, EscalationState
from grids.escalation.service import EVENT_SINK, EscalationPolicy, advance, current_keys
from grids.escalation.timers import DeliveryFact
from grids.storage.database import Database, is_postgresql
from notifications import outbox
from notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 500
REPORTING_PROVIDERS = frozenset({"twilio", "aliyun", "tencent"})
"""Providers that send delivery reports for SMS; with the others (console, memory) a
message counts as delivered once sent."""


def policy_of(settings: Settings) -> EscalationPolicy:
    return EscalationPolicy(
        timeouts=settings.escalation_timeouts.as_dict(),
        county_duty_phone=settings.county_duty_phone,
        default_language=settings.default_language,
    )


def delivery_facts(session: Session, keys: Iterable[str]) -> dict[str, DeliveryFact]:
    """What the outbox knows of the messages with these idempotency keys."""
    wanted = sorted(set(keys))
    facts: dict[str, DeliveryFact] = {}
    table = OutboxMessage.__table__
    for start in range(0, len(wanted), 1000):
        rows = session.execute(
            select(
                table.c.idempotency_key,
                table.c.status,
                table.c.created_at,
                table.c.sent_at,
                table.c.provider,
                table.c.channel,
                table.c.error_code,
            ).where(table.c.idempotency_key.in_(wanted[start : start + 1000]))
        )
        for row in rows:
            facts[row.idempotency_key] = DeliveryFact(
                key=row.idempotency_key,
                status=row.status,
                queued_at=row.created_at,
                sent_at=row.sent_at,
                reports_delivery=row.channel == "sms" and row.provider in REPORTING_PROVIDERS,
                error_code=row.error_code,
            )
    return facts


def stop_pending_calls(session: Session, escalation_id: int, now: datetime) -> int:
    """An acknowledged case: its messages and calls not yet sent are not sent (the
    acknowledgement and `taken` notices, enqueued afterwards, are not touched)."""
    table = OutboxMessage.__table__
    key = table.c.idempotency_key
    result = session.execute(
        update(table)
        .where(
            key.like(f"esc:{escalation_id}:%"),
            not_(key.like(f"esc:{escalation_id}:ack:%")),
            not_(key.like(f"esc:{escalation_id}:taken:%")),
            table.c.status == OutboxStatus.PENDING,
        )
        .values(
            status=OutboxStatus.SUPPRESSED,
            error_code="acknowledged",
            error_message="not sent: the case was acknowledged first",
            updated_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _claim(session: Session, after_id: int) -> list[Escalation]:
    query = (
        select(Escalation)
        .where(and_(Escalation.state == EscalationState.OPEN, Escalation.id > after_id))
        .order_by(Escalation.id)
        .limit(BATCH_SIZE)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


_STATE = (
    "step",
    "round",
    "step_started_at",
    "next_step_at",
    "called",
    "duty_alerted_round",
    "deliveries",
    "updated_at",
)
_table = Escalation.__table__
_events = EscalationEvent.__table__
_SAVE_STATE = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.token == bindparam("b_token"))
    .values({**{name: bindparam(f"b_{name}") for name in _STATE}, "token": _table.c.token + 1})
)


class StaleEscalation(RuntimeError):
    """An escalation changed under the tick (its token moved): nothing of the batch is kept."""


def _write_batch(session: Session, cases: list[Escalation]) -> None:
    """What `advance` changed, written in bulk: one INSERT of the new events, one
    executemany UPDATE of the changed escalations, each guarded by the token it was read
    with (so a stale or duplicate tick fails instead of advancing twice)."""
    events = session.info.pop(EVENT_SINK, [])
    changed = [case for case in cases if session.is_modified(case)]
    if events:
        session.execute(insert(_events), events)
    if changed:
        params = [
            {"b_id": case.id, "b_token": case.token}
            | {f"b_{name}": getattr(case, name) for name in _STATE}
            for case in changed
        ]
        written = getattr(session.execute(_SAVE_STATE, params), "rowcount", None)
        if written is not None and written >= 0 and written != len(changed):
            raise StaleEscalation(
                f"{len(changed) - written} of {len(changed)} escalations changed during the tick"
            )
    for case in cases:
        session.expunge(case)


def run_escalation_tick(database: Database, settings: Settings, now: datetime) -> int:
    """Advance every due open escalation once for the clock time `now`; commits its own
    transactions (one per batch) and returns how many escalations moved."""
    advanced = 0
    after_id = 0
    while True:
        with database.unit_of_work() as session:
            cases = _claim(session, after_id)
            if not cases:
                break
            after_id = cases[-1].id
            ladders = {case.id: Ladder.from_json(case.ladder) for case in cases}
            keys = [key for case in cases for key in current_keys(case, ladders[case.id])]
            facts = delivery_facts(session, keys)
            notices = []
            session.info[EVENT_SINK] = []
            with session.no_autoflush:
                for case in cases:
                    result = advance(session, case, facts, now, ladder=ladders[case.id])
                    if result.changed:
                        advanced += 1
                        notices.extend(result.notices)
            _write_batch(session, cases)
            if notices:
                outbox.enqueue_many(session, notices, now=now, returning=False)
            session.commit()
        if len(cases) < BATCH_SIZE:
            break
    if advanced:
        log.info("escalation tick at %s: %d escalations advanced", now.isoformat(), advanced)
    return advanced
