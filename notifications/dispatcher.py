"""The outbox relay: claim due rows, send them through the provider, record what happened.

One pass (`dispatch_once`; steps 1 to 3 live in `notifications.outbox_claims`):

1. Rows left in `sending` past their lease (a dispatcher died mid-batch) go
   back to `pending`; a row that has used every attempt becomes `failed`.
2. Due rows (`pending`, `next_attempt_at <= now`) are claimed, urgent first,
   then oldest, with one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP
   LOCKED) AND status = 'pending' RETURNING ...`. On PostgreSQL, SKIP LOCKED
   lets several dispatchers claim disjoint rows; on SQLite the same statement
   is a compare-and-set under SQLite's single writer. Claimed rows become
   `sending` with a lease and one more attempt. During quiet hours only urgent
   rows are claimed; the others wait until the quiet hours end.
3. Rows to a number that opted out or was flagged invalid become `suppressed`
   without reaching the provider. The claim commits.
4. Each row is sent, paced by a per-sender token bucket. Each result is written
   and committed before the next send, so a dispatcher killed mid-batch sends
   again only the one message that was in flight; statuses that overtook the
   record are applied with it (`delivery.apply_early_statuses`). A provider's
   acceptance, the common result, is recorded by one statement on a connection
   kept open for the pass in autocommit mode: one round trip, which also says
   whether an early status is waiting (rare; then it is applied at once). No
   send starts after `SEND_WINDOW` of the lease: the rows left go back to
   `pending`, so a slow provider never makes another dispatcher reclaim rows
   this one is still sending. Results only touch rows under this pass's lease.

Retries: a transient failure puts the row back to `pending` after
`retry_delay` (30 s doubling per attempt, at most an hour, never sooner than
the provider's Retry-After) until `SMS_MAX_ATTEMPTS`, then `failed`. A
permanent failure is `failed` at once; Twilio 21610 also opts the number
out, 21211/21614 flag it invalid for the administrator. When the provider
refuses our account (wrong credentials), no message is at fault: the batch
goes back to `pending` for `ACCOUNT_HOLD`, attempts uncounted, none failed.

Delivery is at least once: a dispatcher that dies after the provider accepted
a message but before recording it leaves the row in `sending`, and the row is
sent again after its lease. Recording each result before the next send keeps
that to the one message in flight.

The rate limit is per dispatcher process: N processes send up to N times
`SMS_RATE_PER_SECOND` per sender. Run one dispatcher per sender when the
provider's limit matters, more when it does not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, exists, text, update
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.runtime import now as clock_now
from config.settings import Settings
from grids.core.notices import VOICE
from grids.storage.database import Database
from notifications import contacts, frequency
from notifications.delivery import apply_early_statuses
from notifications.models import (
    ERROR_CODE_LENGTH,
    EarlyDeliveryStatus,
    OutboxMessage,
    OutboxStatus,
)
from notifications.outbox_claims import (
    claim_batch,
    effective_batch_size,
    lease_end,
    reclaim_expired,
)
from notifications.providers.base import (
    OutgoingMessage,
    PermanentSendError,
    ProviderAccountError,
    SendError,
    SmsProvider,
    TransientSendError,
)
from notifications.providers.voice import VoiceProvider, build_voice_provider

log = logging.getLogger(__name__)

outbox = OutboxMessage.__table__
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")

DEFAULT_BATCH_SIZE = 200
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0
SEND_WINDOW = 0.75
"""No send starts after this share of the lease: the rest go back before it expires."""
ACCOUNT_HOLD = timedelta(minutes=5)
"""How long messages wait when the provider refuses our account (fix the settings meanwhile)."""


@dataclass
class DispatchStats:
    reclaimed: int = 0
    claimed: int = 0
    suppressed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0

    def __iadd__(self, other: DispatchStats) -> DispatchStats:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        return self

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


class RateLimiter:
    """Token buckets keyed by sender: at most `rate` sends per second each, bursts of `burst`.

    `rate` 0 means no limit. The clock and sleep are injectable so tests use a
    fake clock. The buckets live in this process only.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, stop: threading.Event | None = None) -> bool:
        """Take one token for `key`, waiting until there is one; False if `stop` was set."""
        if self.rate <= 0:
            return True
        while True:
            with self._lock:
                moment = self.clock()
                tokens, last = self._buckets.get(key, (self.burst, moment))
                tokens = min(self.burst, tokens + (moment - last) * self.rate)
                if tokens >= 1.0:
                    self._buckets[key] = (tokens - 1.0, moment)
                    return True
                self._buckets[key] = (tokens, moment)
                wait = (1.0 - tokens) / self.rate
            if stop is None:
                self.sleep(wait)
            elif stop.wait(wait):
                return False


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s, 60 s, 120 s ... 1 h."""
    seconds = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, RETRY_CAP_SECONDS))
    return timedelta(seconds=seconds)


@dataclass
class _Results:
    sent: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    refused_numbers: list[tuple[str, str]] = field(default_factory=list)
    """(phone, provider error code) of permanent failures: may opt out or flag the number."""

    def __bool__(self) -> bool:
        return bool(self.sent or self.unsent)


def _ours(lease_until: datetime) -> Any:
    """Rows this pass still holds: its lease, not one a later claim gave them after a reclaim."""
    return (outbox.c.status == OutboxStatus.SENDING) & (outbox.c.lease_expires_at == lease_until)


def _record(session: Session, results: _Results, lease_until: datetime) -> None:
    if results.sent:
        session.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("b_id"), _ours(lease_until))
            .values(
                status=OutboxStatus.SENT,
                provider_sid=bindparam("b_sid"),
                sent_at=bindparam("b_at"),
                lease_expires_at=None,
                error_code=None,
                error_message=None,
                updated_at=bindparam("b_at"),
            ),
            results.sent,
        )
    if results.unsent:
        session.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("b_id"), _ours(lease_until))
            .values(
                status=bindparam("b_status"),
                next_attempt_at=bindparam("b_next"),
                lease_expires_at=None,
                error_code=bindparam("b_code"),
                error_message=bindparam("b_message"),
                updated_at=bindparam("b_at"),
            ),
            results.unsent,
        )
    for phone, code in results.refused_numbers:
        contacts.record_provider_error(session, phone, code, _at(results))
    if results.sent:
        # Statuses that overtook this record (kept by the webhook) apply now.
        apply_early_statuses(session, [entry["b_sid"] for entry in results.sent], _at(results))


_RECORD_ACCEPTED = (
    update(outbox)
    .where(
        outbox.c.id == bindparam("b_id"),
        outbox.c.status == OutboxStatus.SENDING,
        outbox.c.lease_expires_at == bindparam("b_lease", type_=outbox.c.lease_expires_at.type),
    )
    .values(
        status=OutboxStatus.SENT,
        provider_sid=bindparam("b_sid"),
        sent_at=bindparam("b_at"),
        lease_expires_at=None,
        error_code=None,
        error_message=None,
        updated_at=bindparam("b_at"),
    )
    .returning(
        exists().where(EarlyDeliveryStatus.provider_sid == bindparam("b_sid")).label("early_status")
    )
)


class _AcceptanceRecorder:
    """Records a provider's acceptance the moment it arrives: one UPDATE, committed by
    itself (autocommit) on a connection held for the pass, so the next send waits for
    one round trip rather than a transaction of several.

    On PostgreSQL the connection commits asynchronously (`synchronous_commit` off): what
    matters is that the server has the record before the next send (a killed dispatcher),
    not that each record waits for the disk; only a crash of PostgreSQL itself could lose
    the last few records. The setting is reset before the connection goes back to the pool.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: Connection | None = None

    def _open(self) -> Connection:
        if self._connection is None:
            connection = self._database.engine.connect()
            try:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                if self._database.is_postgresql:
                    connection.exec_driver_sql("SET synchronous_commit TO OFF")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def record(self, entry: dict[str, Any], lease_until: datetime) -> bool:
        """Mark the row sent (if this pass still holds it); whether an early status waits."""
        row = self._open().execute(_RECORD_ACCEPTED, {**entry, "b_lease": lease_until}).first()
        return bool(row is not None and row.early_status)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._database.is_postgresql:
                connection.exec_driver_sql("RESET synchronous_commit")
        except BaseException:
            connection.invalidate()  # never hand an asynchronous-commit session to the pool
            raise
        finally:
            connection.close()


def _at(results: _Results) -> datetime:
    return (results.sent or results.unsent)[-1]["b_at"]


def _release(
    session: Session,
    ids: list[int],
    now: datetime,
    lease_until: datetime,
    *,
    hold: SendError | None = None,
) -> int:
    """Claimed rows not attempted go back to `pending`, their attempt not counted.

    With `hold` (the provider refused our account) they wait `ACCOUNT_HOLD` and
    show the provider's error meanwhile.
    """
    if not ids:
        return 0
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "attempts": outbox.c.attempts - 1,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if hold is not None:
        values.update(
            next_attempt_at=now + ACCOUNT_HOLD,
            error_code=hold.code[:ERROR_CODE_LENGTH],
            error_message=hold.message[:500],
        )
    return session.execute(
        update(outbox).where(outbox.c.id.in_(ids), _ours(lease_until)).values(**values)
    ).rowcount  # type: ignore[attr-defined]  # a cursor result; Session types it as Result


def _outcome(
    row: Row[Any],
    error: SendError,
    settings: Settings,
    at: datetime,
    results: _Results,
    stats: DispatchStats,
) -> None:
    entry = {
        "b_id": row.id,
        "b_code": error.code[:ERROR_CODE_LENGTH],
        "b_message": error.message[:500],
        "b_at": at,
        "b_next": row.next_attempt_at,
    }
    if isinstance(error, TransientSendError) and row.attempts < settings.sms_max_attempts:
        entry["b_status"] = OutboxStatus.PENDING
        entry["b_next"] = at + retry_delay(row.attempts, error.retry_after)
        stats.retried += 1
        log.info(
            "outbox %d to %s: %s, retry %d at %s",
            row.id,
            mask_phone(row.to_phone),
            error.code,
            row.attempts + 1,
            entry["b_next"].isoformat(timespec="seconds"),
        )
    else:
        entry["b_status"] = OutboxStatus.FAILED
        stats.failed += 1
        if isinstance(error, PermanentSendError):
            results.refused_numbers.append((row.to_phone, error.code))
        log.warning(
            "outbox %d to %s failed after %d attempt(s): %s %s",
            row.id,
            mask_phone(row.to_phone),
            row.attempts,
            error.code,
            error.message,
        )
    results.unsent.append(entry)


def dispatch_once(
    database: Database,
    provider: SmsProvider,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limiter: RateLimiter | None = None,
    stop: threading.Event | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    voice: VoiceProvider | None = None,
    record_interval: float = 0.0,
) -> DispatchStats:
    """Reclaim expired leases, claim one batch, send it and record the results.

    `record_interval` 0 records each result before the next send; a positive value
    batches results for that many seconds (faster, but a killed dispatcher then
    sends up to that much again: `bench.dispatcher` measures both).

    `now` fixes the clock of the whole pass (tests); by default each result is
    stamped with the time it happened. Rows of channel `voice` are calls, placed
    through `voice` (by default the `VOICE_BACKEND` provider).
    """

    def current() -> datetime:
        return now if now is not None else clock_now()

    limiter = limiter or RateLimiter(settings.sms_rate_per_second)
    stats = DispatchStats()
    started = current()
    with database.unit_of_work() as session:
        stats.reclaimed = reclaim_expired(session, settings, started)
        rows, stats.suppressed = claim_batch(
            session,
            settings,
            provider,
            now=started,
            limit=effective_batch_size(settings, batch_size),
            voice_provider=voice.name if voice is not None else None,
        )
        rows = frequency.defer_capped(session, provider.name, rows, started)
        session.commit()
    stats.claimed = len(rows) + stats.suppressed
    if not rows:
        return stats

    lease_until = lease_end(settings, started)
    send_window = settings.sms_lease_seconds * SEND_WINDOW
    results = _Results()
    postgres = database.is_postgresql
    claimed_at = last_flush = monotonic()
    recorder = _AcceptanceRecorder(database)
    with database.unit_of_work() as session, _closing(recorder):
        for index, row in enumerate(rows):
            is_call = row.channel == VOICE
            if is_call and voice is None:
                voice = build_voice_provider(settings)
            sender = f"voice:{voice.sender}" if is_call and voice is not None else provider.sender
            if not limiter.acquire(sender, stop) or (stop is not None and stop.is_set()):
                stats.released = _give_back(session, results, rows[index:], current(), lease_until)
                return stats
            if monotonic() - claimed_at >= send_window:
                stats.released = _give_back(session, results, rows[index:], current(), lease_until)
                log.warning(
                    "sending took %.0f%% of the %d s lease; %d outbox rows go back to pending "
                    "(a slow provider: lower --batch-size or raise SMS_LEASE_SECONDS)",
                    SEND_WINDOW * 100,
                    settings.sms_lease_seconds,
                    stats.released,
                )
                return stats
            message = OutgoingMessage(
                to=row.to_phone,
                template=row.template,
                params=row.params or {},
                language=row.language,
                body=row.body,
                reference=row.idempotency_key,
                outbox_id=row.id,
            )
            try:
                result = voice.call(message) if is_call and voice else provider.send(message)
            except ProviderAccountError as error:
                stats.released = _give_back(
                    session, results, rows[index:], current(), lease_until, hold=error
                )
                log.error(
                    "%s refused our account (%s: %s); %d outbox rows held for %d minutes, "
                    "none failed",
                    provider.name,
                    error.code,
                    error.message,
                    stats.released,
                    ACCOUNT_HOLD.total_seconds() // 60,
                )
                return stats
            except SendError as error:
                _outcome(row, error, settings, current(), results, stats)
            except Exception as error:  # a provider bug must not lose the row
                log.exception("outbox %d: unexpected error from %s", row.id, provider.name)
                transient = TransientSendError("error", f"{type(error).__name__}: {error}")
                _outcome(row, transient, settings, current(), results, stats)
            else:
                results.sent.append(
                    {"b_id": row.id, "b_sid": result.provider_sid, "b_at": current()}
                )
                stats.sent += 1
            # Each provider acceptance is recorded before the next send (by default), so
            # a dispatcher killed mid-batch sends again only the message in flight.
            if results and (row.urgent or monotonic() - last_flush >= record_interval):
                if len(results.sent) == 1 and not results.unsent:
                    # The common case, one acceptance: one round trip records it.
                    accepted = results.sent[0]
                    if recorder.record(accepted, lease_until):
                        apply_early_statuses(session, [accepted["b_sid"]], accepted["b_at"])
                        session.commit()
                else:
                    if postgres:
                        # As for an acceptance (`_AcceptanceRecorder`): the server must
                        # have the record before the next send, not the disk.
                        session.execute(_ASYNC_COMMIT)
                    _record(session, results, lease_until)
                    session.commit()
                results = _Results()
                last_flush = monotonic()
        if results:
            _record(session, results, lease_until)
            session.commit()
    return stats


@contextmanager
def _closing(recorder: _AcceptanceRecorder) -> Iterator[_AcceptanceRecorder]:
    try:
        yield recorder
    finally:
        recorder.close()


def _give_back(
    session: Session,
    results: _Results,
    unsent: Sequence[Row[Any]],
    now: datetime,
    lease_until: datetime,
    *,
    hold: SendError | None = None,
) -> int:
    """Record what was sent, release the rows not sent, commit; returns how many went back."""
    _record(session, results, lease_until)
    released = _release(session, [row.id for row in unsent], now, lease_until, hold=hold)
    session.commit()
    return released


def run(
    database: Database,
    provider: SmsProvider,
    settings: Settings,
    *,
    stop: threading.Event,
    batch_size: int = DEFAULT_BATCH_SIZE,
    idle_seconds: float = 1.0,
    on_pass: Callable[[DispatchStats], Any] | None = None,
    voice: VoiceProvider | None = None,
) -> DispatchStats:
    """Dispatch until `stop` is set, sleeping `idle_seconds` whenever nothing is due."""
    limiter = RateLimiter(settings.sms_rate_per_second)
    voice = voice or build_voice_provider(settings)
    total = DispatchStats()
    while not stop.is_set():
        try:
            stats = dispatch_once(
                database,
                provider,
                settings,
                batch_size=batch_size,
                limiter=limiter,
                stop=stop,
                voice=voice,
            )
        except Exception:
            log.exception("dispatch pass failed; trying again in %.0f s", idle_seconds * 5)
            stop.wait(idle_seconds * 5)
            continue
        total += stats
        if on_pass is not None and stats.claimed:
            on_pass(stats)
        if stats.claimed == 0:
            stop.wait(idle_seconds)
    return total


def summary(stats: DispatchStats | Mapping[str, int]) -> str:
    values = stats.as_dict() if isinstance(stats, DispatchStats) else dict(stats)
    return ", ".join(f"{name} {count}" for name, count in values.items())
