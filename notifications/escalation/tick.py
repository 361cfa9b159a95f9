"""The escalation tick: every open escalation looked at once, each advanced at most one step.

The scheduler's `escalation-tick` job (every 30 s) and `flask --app wsgi escalations
advance` call `run_escalation_tick`. It reads the outbox for what happened to each
step's messages and hands the domain plain `DeliveryFact`s (the domain never reads the
outbox), then enqueues what the domain asks to send, in the same transaction.

Open escalations are taken in batches, one transaction each, with a fixed number of
statements per batch whatever its size: the cases are read as plain rows (`CaseRow`,
one SELECT), the outbox facts of their current steps with one SELECT per thousand
keys, the steps are taken in Python, and the batch is written with one INSERT of its
timeline entries, one UPDATE of the cases that changed and one INSERT of its messages.

Exactly once: on PostgreSQL the batch is claimed with `FOR UPDATE SKIP LOCKED`, so two
ticks at once take disjoint cases; on SQLite (one writer at a time) each batch starts
with `BEGIN IMMEDIATE`, so a second tick waits for the first and then sees what it
did, or, after `lock_wait_seconds`, skips its turn with a log line. Each row's `token`
(its version) makes a stale update fail instead of advancing twice; and every message
has an outbox key made of (escalation, step, round, recipient, channel).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Row, String, Text, any_, bindparam, cast, not_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from config.settings import Settings
from grids.core.notices import Notice
from grids.escalation import keys
from grids.escalation.case import STATE_FIELDS, CaseRow
from grids.escalation.climb import advance, current_keys
from grids.escalation.ladder import Ladder
from grids.escalation.models import Escalation, EscalationEvent, EscalationState
from grids.escalation.timers import DeliveryFact
from grids.storage.bulk import array_params, column, insert_many, quote, unnest_from
from grids.storage.database import SQLITE_BUSY_TIMEOUT_MS, Database, is_postgresql
from notifications import outbox
from notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
FACTS_PER_QUERY = 1000
LOCK_WAIT_SECONDS = 15.0
"""SQLite: how long a tick waits for another tick's batch before skipping its turn
(half the scheduler's 30-second interval)."""
REPORTING_PROVIDERS = frozenset({"twilio", "aliyun", "tencent"})
"""Providers that send delivery reports for SMS; with the others (console, memory) a
message counts as delivered once sent."""
REPORTING_VOICE_PROVIDERS = frozenset({"aliyun", "tencent"})
"""Providers that report call results; with the others (Twilio too) a call counts as
answered once placed."""


_FACTS = select(
    OutboxMessage.__table__.c.idempotency_key,
    OutboxMessage.__table__.c.status,
    OutboxMessage.__table__.c.created_at,
    OutboxMessage.__table__.c.next_attempt_at,
    OutboxMessage.__table__.c.attempts,
    OutboxMessage.__table__.c.sent_at,
    OutboxMessage.__table__.c.provider,
    OutboxMessage.__table__.c.channel,
    OutboxMessage.__table__.c.error_code,
)
_KEY = OutboxMessage.__table__.c.idempotency_key
_FACTS_BY_ARRAY = _FACTS.where(any_(bindparam("keys", type_=ARRAY(String))) == _KEY)
"""PostgreSQL: the keys as one array parameter, a short statement however many."""


def _outbox_rows(session: Session, keys: list[str]) -> Iterator[Row[Any]]:
    if is_postgresql(session):
        yield from session.execute(_FACTS_BY_ARRAY, {"keys": keys})
        return
    for start in range(0, len(keys), FACTS_PER_QUERY):
        yield from session.execute(_FACTS.where(_KEY.in_(keys[start : start + FACTS_PER_QUERY])))


def _queued_at(row: Row[Any]) -> datetime:
    """When a message became due: a critical case's message written at night is held
    until morning, and only then can it be late."""
    if row.attempts == 0 and row.next_attempt_at > row.created_at:
        return row.next_attempt_at
    return row.created_at


def delivery_facts(session: Session, keys: Iterable[str]) -> dict[str, DeliveryFact]:
    """What the outbox knows of the messages with these idempotency keys."""
    return {
        row.idempotency_key: DeliveryFact(
            key=row.idempotency_key,
            status=row.status,
            queued_at=_queued_at(row),
            sent_at=row.sent_at,
            reports_delivery=row.provider
            in (REPORTING_PROVIDERS if row.channel == "sms" else REPORTING_VOICE_PROVIDERS),
            error_code=row.error_code,
        )
        for row in _outbox_rows(session, sorted(set(keys)))
    }


def stop_pending_calls(session: Session, escalation_id: int, now: datetime) -> int:
    """An acknowledged case: its messages and calls not yet sent are not sent (the
    acknowledgement and `taken` notices, enqueued afterwards, are not touched)."""
    table = OutboxMessage.__table__
    key = table.c.idempotency_key
    result = session.execute(
        update(table)
        .where(
            key.like(keys.like_pattern(escalation_id)),
            not_(key.like(keys.like_pattern(escalation_id, kind=keys.ACK))),
            not_(key.like(keys.like_pattern(escalation_id, kind=keys.TAKEN))),
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


# --- reading a batch ---

_table = Escalation.__table__
_events = EscalationEvent.__table__
_CLAIM = (
    select(
        _table.c.id,
        _table.c.state,
        _table.c.patient_id,
        # As text: one parse per distinct ladder (cases of a grid share theirs).
        cast(_table.c.params, Text).label("params"),
        cast(_table.c.ladder, Text).label("ladder"),
        _table.c.step,
        _table.c.round,
        _table.c.step_started_at,
        _table.c.next_step_at,
        _table.c.called,
        _table.c.duty_alerted_round,
        cast(_table.c.deliveries, Text).label("deliveries"),
        _table.c.updated_at,
        _table.c.token,
    )
    .where(_table.c.state == EscalationState.OPEN, _table.c.id > bindparam("after_id"))
    .order_by(_table.c.id)
    .limit(bindparam("batch_size"))
)


def _claim(session: Session, after_id: int, batch_size: int) -> Sequence[Row[Any]]:
    query = _CLAIM.with_for_update(skip_locked=True) if is_postgresql(session) else _CLAIM
    return session.execute(query, {"after_id": after_id, "batch_size": batch_size}).all()


def _json(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def _case_of(row: Row[Any]) -> CaseRow:
    return CaseRow(
        id=row.id,
        state=row.state,
        patient_id=row.patient_id,
        params=_json(row.params),
        step=row.step,
        round=row.round,
        step_started_at=row.step_started_at,
        next_step_at=row.next_step_at,
        called=row.called,
        duty_alerted_round=row.duty_alerted_round,
        deliveries=_json(row.deliveries),
        updated_at=row.updated_at,
        token=row.token,
    )


class _Ladders(dict[str, Ladder]):
    """Ladders parsed once per distinct JSON text for the whole tick (they are immutable)."""

    def __missing__(self, text: str) -> Ladder:
        ladder = Ladder.from_json(_json(text))
        self[text] = ladder
        return ladder


# --- writing a batch ---


class StaleEscalation(RuntimeError):
    """An escalation changed under the tick (its token moved): nothing of the batch is kept."""


_SAVE_STATE = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.token == bindparam("b_token"))
    .values(
        {**{name: bindparam(f"b_{name}") for name in STATE_FIELDS}, "token": _table.c.token + 1}
    )
)
"""One case's new state, guarded by the token it was read with (SQLite: executemany)."""

_SAVED = ("id", "token", *STATE_FIELDS)


@cache
def _save_states_postgresql() -> str:
    """Every changed case of a batch in one statement: `UPDATE … FROM unnest(…)`, one
    binary array per column (PostgreSQL)."""
    assignments = ", ".join(
        f"{quote(name)} = {column(_table, 'changes', name)}" for name in STATE_FIELDS
    )
    return (
        f"UPDATE escalations SET {assignments}, token = escalations.token + 1 "
        f"FROM {unnest_from(_table, _SAVED, 'changes')} "
        "WHERE escalations.id = changes.id AND escalations.token = changes.token"
    )


def _save_states(session: Session, changed: list[CaseRow]) -> None:
    """Write the new state of the changed cases, each guarded by the token it was read
    with, so a stale or duplicate tick fails instead of advancing twice."""
    connection = session.connection()
    if is_postgresql(session):
        rows = [{name: getattr(case, name) for name in _SAVED} for case in changed]
        arrays = array_params(_table, _SAVED, rows, "changes")
        written = connection.exec_driver_sql(_save_states_postgresql(), arrays).rowcount
    else:
        params = [
            {"b_id": case.id, "b_token": case.token}
            | {f"b_{name}": getattr(case, name) for name in STATE_FIELDS}
            for case in changed
        ]
        written = connection.execute(_SAVE_STATE, params).rowcount
    if written >= 0 and written != len(changed):
        raise StaleEscalation(
            f"{len(changed) - written} of {len(changed)} escalations changed during the tick"
        )


# --- the tick ---


def _lock_for_writing(session: Session, wait_seconds: float) -> bool:
    """SQLite allows one writer: take the write lock before reading, so a second tick
    waits for the first (and then reads what it wrote). False: still locked after
    `wait_seconds`. PostgreSQL needs nothing here (rows are locked as they are read)."""
    if is_postgresql(session):
        return True
    connection = session.connection()
    connection.exec_driver_sql(f"PRAGMA busy_timeout={max(0, round(wait_seconds * 1000))}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as error:
        if getattr(error.orig, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return True


def _advance_batch(
    session: Session, rows: Sequence[Row[Any]], ladders: _Ladders, now: datetime
) -> int:
    """Take the due steps of one batch and write them; returns how many cases moved."""
    cases = [_case_of(row) for row in rows]
    ladder_of = {case.id: ladders[row.ladder] for case, row in zip(cases, rows, strict=True)}
    facts = delivery_facts(
        session, (key for case in cases for key in current_keys(case, ladder_of[case.id]))
    )
    events: list[dict[str, Any]] = []
    notices: list[Notice] = []
    changed: list[CaseRow] = []
    advanced = 0
    for case in cases:
        result = advance(case, facts, now, ladder=ladder_of[case.id])
        events.extend(result.timeline)
        if result.changed:
            advanced += 1
            notices.extend(result.notices)
        if result.case.snapshot() != case.snapshot():
            changed.append(result.case)
    if events:
        insert_many(session.connection(), _events, events)
    if changed:
        _save_states(session, changed)
    if notices:
        outbox.enqueue_many(session, notices, now=now, returning=False)
    return advanced


def run_escalation_tick(
    database: Database,
    settings: Settings,
    now: datetime,
    *,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Advance every due open escalation once for the clock time `now`; commits its own
    transactions (one per batch) and returns how many escalations moved."""
    advanced = 0
    after_id = 0
    ladders = _Ladders()
    while True:
        with database.unit_of_work() as session:
            if not _lock_for_writing(session, lock_wait_seconds):
                log.warning(
                    "escalation tick at %s skipped the rest of its turn: another tick has "
                    "held the SQLite database for over %.0f s (the next tick carries on)",
                    now.isoformat(),
                    lock_wait_seconds,
                )
                break
            rows = _claim(session, after_id, batch_size)
            if not rows:
                break
            after_id = rows[-1].id
            advanced += _advance_batch(session, rows, ladders, now)
            session.commit()
        if len(rows) < batch_size:
            break
    if advanced:
        log.info("escalation tick at %s: %d escalations advanced", now.isoformat(), advanced)
    return advanced
