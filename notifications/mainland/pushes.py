"""Replies and delivery reports pushed by Aliyun and Tencent Cloud, applied like Twilio's.

Both providers push at least once, in batches, and may repeat. Each item is
validated on its own (a bad item is logged and skipped, never the batch),
then:

- a reply goes through the same inbound service as a Twilio message
  (`notifications.inbound.receive`): stored first under a key that makes a
  repeat a no-op (`aliyun:<sequence_id>`; Tencent sends no id, so
  `tencent:<hash of mobile, time, text>`), parsed and applied with the same
  grammar, replies, escalations and opt-outs. The answer to the sender goes
  out through the outbox as `sms.relay.reply` messages (no TwiML here), with
  keys derived from the inbound key, so a repeat queues nothing new;
- a delivery report updates the outbox row like Twilio's status callback
  (`notifications.delivery.record_status`), found by the provider's id
  (`BizId`, `SerialNo`) and checked against our outbox id (`OutId`,
  `SessionContext`) and the number; a report that does not match is logged.

Nothing here imports Flask: the blueprint (`webhooks.py`) and reconciliation
call these functions with the database, settings and clock.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import mask_phone, mask_phones_in
from config.settings import Settings
from grids.core.notices import Notice
from grids.core.phones import InvalidPhone, normalise_phone
from grids.storage.database import Database
from notifications import delivery, inbound, outbox
from notifications.inbound import IncomingSms
from notifications.models import InboundMessage, OutboxMessage
from notifications.provider_templates import RELAY_TEMPLATE, TemplateNotSendable, relay_chunks
from notifications.providers.mainland import e164_from_provider
from notifications.sms import grammar

log = logging.getLogger(__name__)

MAX_PUSH_ITEMS = 30_000
"""Items one push may hold (docs/mainland-sms.md, "Batch sizes"); more gets 413."""
MAX_PUSH_BYTES = 16 * 1024 * 1024
"""Bytes one push body may hold; more gets 413 before it is read."""
STORE_CHUNK = 1_000
"""Pushed replies stored per transaction."""
APPLY_SECONDS = 0.5
"""How long a push spends applying stored replies before it answers: the providers wait
a few seconds, then push again. The rest is applied by a thread after the answer."""


# --- schemas: the fields we use, checked; others ignored (providers add fields) ---


class _ItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _numbers_as_text(self, data: Any, **_: Any) -> Any:
        # Aliyun's older pages type sequence_id as a number, newer ones as a string.
        if isinstance(data, dict):
            return {
                k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in data.items()
            }
        return data


class AliyunUpSchema(_ItemSchema):
    phone_number = fields.String(required=True, validate=lambda v: 5 <= len(v) <= 20)
    content = fields.String(required=True)
    send_time = fields.String(required=True)
    sequence_id = fields.String(required=True, validate=lambda v: 0 < len(v) <= 48)
    dest_code = fields.String(load_default=None, allow_none=True)
    sign_name = fields.String(load_default=None, allow_none=True)


class AliyunReportSchema(_ItemSchema):
    phone_number = fields.String(required=True)
    success = fields.Boolean(required=True)
    biz_id = fields.String(required=True, validate=lambda v: 0 < len(v) <= 64)
    out_id = fields.String(load_default=None, allow_none=True)
    err_code = fields.String(load_default=None, allow_none=True)
    err_msg = fields.String(load_default=None, allow_none=True)
    send_time = fields.String(load_default=None, allow_none=True)
    report_time = fields.String(load_default=None, allow_none=True)


class TencentReplySchema(_ItemSchema):
    mobile = fields.String(required=True, validate=lambda v: 5 <= len(v) <= 20)
    nationcode = fields.String(load_default="86")
    text = fields.String(required=True)
    time = fields.Integer(required=True, strict=False)
    sign = fields.String(load_default=None, allow_none=True)
    extend = fields.String(load_default=None, allow_none=True)


class TencentStatusSchema(_ItemSchema):
    mobile = fields.String(required=True)
    nationcode = fields.String(load_default="86")
    report_status = fields.String(required=True, validate=lambda v: v in ("SUCCESS", "FAIL"))
    sid = fields.String(required=True, validate=lambda v: 0 < len(v) <= 64)
    errmsg = fields.String(load_default=None, allow_none=True)
    description = fields.String(load_default=None, allow_none=True)
    ext = fields.String(load_default=None, allow_none=True)
    user_receive_time = fields.String(load_default=None, allow_none=True)


@dataclass
class PushResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unknown: int = 0


def items_of(payload: Any) -> list[Any]:
    """A push body as a list of items: Aliyun and Tencent reports are arrays, a Tencent
    reply one object."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise ValueError("the body must be a JSON array or object")


def _valid(schema: Schema, item: Any, kind: str, index: int) -> dict[str, Any] | None:
    try:
        return schema.load(item) if isinstance(item, dict) else _not_object()
    except ValidationError as error:
        log.warning("%s push item %d refused: %s", kind, index, mask_phones_in(str(error.messages)))
        return None


def _not_object() -> dict[str, Any]:
    raise ValidationError("each item must be a JSON object")


# --- replies ---


def aliyun_reply(item: Mapping[str, Any]) -> IncomingSms:
    phone = to_e164(item["phone_number"])
    return incoming_sms(f"aliyun:{item['sequence_id']}", phone, item["content"], item)


def tencent_key(phone: str, sent_at: int, text: str) -> str:
    """Tencent replies carry no id: the same mobile, time and text are the same reply."""
    digest = hashlib.sha256(f"{phone}\x1f{sent_at}\x1f{text}".encode()).hexdigest()
    return f"tencent:{digest[:40]}"


def tencent_reply(item: Mapping[str, Any]) -> IncomingSms:
    phone = to_e164(item["mobile"], item.get("nationcode"))
    return incoming_sms(
        tencent_key(phone, int(item["time"]), item["text"]), phone, item["text"], item
    )


def to_e164(number: str, nationcode: str | None = None) -> str:
    raw = e164_from_provider(str(number), nationcode)
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return raw[:32]


def incoming_sms(key: str, phone: str, text: str, item: Mapping[str, Any]) -> IncomingSms:
    params = {str(k): str(v).replace("\x00", "\ufffd") for k, v in item.items() if v is not None}
    return IncomingSms(
        message_sid=key,
        from_raw=phone,
        from_phone=phone,
        to_phone=(item.get("dest_code") or item.get("sign_name") or item.get("sign") or None),
        body=text.replace("\x00", "\ufffd"),
        params=params,
    )


def relay_notices(sms: IncomingSms, reply: str, language: str) -> list[Notice]:
    """The answer to an inbound SMS as template messages (one per 70 characters)."""
    return [
        Notice(
            key=f"reply:{sms.message_sid}:{index}",
            phone=sms.from_phone,
            language=language,
            template=RELAY_TEMPLATE,
            params={"reply": chunk},
            urgent=True,
        )
        for index, chunk in enumerate(relay_chunks(reply), start=1)
    ]


def apply_replies(
    database: Database,
    settings: Settings,
    replies: Sequence[IncomingSms],
    now: datetime,
    *,
    apply_seconds: float | None = None,
) -> PushResult:
    """Store every reply first (`STORE_CHUNK` per transaction), then apply each stored one
    in its own transaction, urgent texts first: all of them, or for up to `apply_seconds`
    (a push's answer), when a thread of this process applies the rest after the answer.
    Should the process stop first, `apply_waiting` (reconciliation) applies them.
    Answers are queued as template messages, also for repeats (from what was stored),
    so a push repeated because queuing failed is answered then.

    Should storing or queuing fail, the error reaches the provider, which pushes again.
    """
    result = PushResult()
    if not replies:
        return result
    unique = list({sms.message_sid: sms for sms in replies}.values())
    states = inbound.stored_states(database, [sms.message_sid for sms in unique])
    new = [sms for sms in unique if sms.message_sid not in states]
    inbound.store_received(database, new, now, chunk=STORE_CHUNK, known=states.keys())
    result.accepted = len(new)
    result.duplicates = len(replies) - len(new)
    by_sid = {sms.message_sid: sms for sms in unique}
    waiting = new + [by_sid[sid] for sid, state in states.items() if state.waiting]
    # When each was stored: now, or by an earlier push.
    received_at = {sms.message_sid: now for sms in new} | {
        sid: state.received_at or now for sid, state in states.items() if state.waiting
    }
    waiting.sort(key=lambda sms: not grammar.is_urgent(sms.body))
    answered = [state for state in states.values() if not state.waiting and state.reply]
    deadline = None if apply_seconds is None else time.monotonic() + apply_seconds
    applied = 0
    for sms in waiting:
        if deadline is not None and time.monotonic() >= deadline:
            break
        state = inbound.apply_stored(
            database, settings, sms, now, received_at=received_at[sms.message_sid]
        )
        applied += 1
        if state is not None and state.reply:
            answered.append(state)
    if answered:
        _queue_answers(database, settings, by_sid, answered, now)
    rest = waiting[applied:]
    if rest:
        log.info("%d pushed replies stored; applying them after the answer", len(rest))
        threading.Thread(
            target=_apply_later,
            args=(database, settings, rest, received_at, now),
            name="push-apply",
            daemon=True,
        ).start()
    return result


def _apply_later(
    database: Database,
    settings: Settings,
    waiting: Sequence[IncomingSms],
    received_at: Mapping[str, datetime],
    now: datetime,
) -> None:
    by_sid = {sms.message_sid: sms for sms in waiting}
    for start in range(0, len(waiting), STORE_CHUNK):
        answered = []
        for sms in waiting[start : start + STORE_CHUNK]:
            try:
                state = inbound.apply_stored(
                    database, settings, sms, now, received_at=received_at[sms.message_sid]
                )
            except Exception:
                log.exception("pushed reply %s not applied; a repeat applies it", sms.message_sid)
                continue
            if state is not None and state.reply:
                answered.append(state)
        try:
            _queue_answers(database, settings, by_sid, answered, now)
        except Exception:
            log.exception("answers to %d pushed replies not queued", len(answered))


def apply_waiting(database: Database, settings: Settings, now: datetime) -> int:
    """Apply pushed replies stored but never applied (the process stopped before it got
    to them); how many were applied."""
    with database.unit_of_work() as session:
        rows = session.execute(
            select(
                InboundMessage.message_sid,
                InboundMessage.from_phone,
                InboundMessage.to_phone,
                InboundMessage.body,
                InboundMessage.params,
                InboundMessage.received_at,
            )
            .where(InboundMessage.outcome == inbound.Outcome.RECEIVED)
            .order_by(InboundMessage.id)
            .limit(STORE_CHUNK * 10)
        ).all()
    if not rows:
        return 0
    messages = [
        IncomingSms(
            message_sid=row.message_sid,
            from_raw=row.from_phone,
            from_phone=row.from_phone,
            to_phone=row.to_phone,
            body=row.body,
            params=dict(row.params or {}),
        )
        for row in rows
    ]
    log.warning("%d pushed replies were stored but not applied; applying them", len(rows))
    when = {row.message_sid: row.received_at for row in rows}
    applied = 0
    for sms in messages:
        stored_at = when[sms.message_sid] or now
        state = inbound.apply_stored(database, settings, sms, stored_at, received_at=stored_at)
        if state is not None:
            applied += 1
            if state.reply:
                _queue_answers(database, settings, {sms.message_sid: sms}, [state], now)
    return applied


def _queue_answers(
    database: Database,
    settings: Settings,
    messages: Mapping[str, IncomingSms],
    answered: Sequence[inbound.Stored],
    now: datetime,
) -> None:
    notices = [
        notice
        for state in answered
        if state.reply
        for notice in relay_notices(
            messages[state.message_sid], state.reply, state.language or settings.default_language
        )
    ]
    if not notices:
        return
    with database.unit_of_work() as session:
        try:
            outbox.enqueue_many(session, notices, now=now, returning=False)
        except TemplateNotSendable as error:
            # A gap in SMS_TEMPLATE_MAP: pushing again would not help; the log says what to add.
            log.error("answers to %d SMS not queued: %s", len(answered), error)
            return
        session.commit()


def receive_aliyun_up(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    schema = AliyunUpSchema()  # one per push: building it costs more than loading an item
    valid = [_valid(schema, item, "aliyun up", i) for i, item in enumerate(items_of(payload))]
    result = apply_replies(
        database, settings, [aliyun_reply(v) for v in valid if v], now, apply_seconds=APPLY_SECONDS
    )
    result.rejected = sum(1 for v in valid if v is None)
    return result


def receive_tencent_reply(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    items = items_of(payload)
    schema = TencentReplySchema()  # one per push: building it costs more than loading an item
    valid = [_valid(schema, item, "tencent reply", i) for i, item in enumerate(items)]
    result = apply_replies(
        database, settings, [tencent_reply(v) for v in valid if v], now, apply_seconds=APPLY_SECONDS
    )
    result.rejected = sum(1 for v in valid if v is None)
    return result


# --- delivery reports ---


@dataclass(frozen=True)
class Receipt:
    provider_sid: str
    phone: str
    delivered: bool
    error_code: str | None
    outbox_id: str | None


def apply_receipts(database: Database, receipts: Iterable[Receipt], now: datetime) -> PushResult:
    """Update the outbox row of each receipt, checked against our outbox id and number; one
    transaction, a savepoint per receipt so one failure never loses the others."""
    result = PushResult()
    with database.unit_of_work() as session:
        for receipt in receipts:
            try:
                with session.begin_nested():
                    if _apply_receipt(session, receipt, now):
                        result.accepted += 1
                    else:
                        result.unknown += 1
            except Exception:
                log.exception("delivery report for %s not applied", receipt.provider_sid)
                result.rejected += 1
        session.commit()
    return result


def _apply_receipt(session: Session, receipt: Receipt, now: datetime) -> bool:
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.provider_sid == receipt.provider_sid)
    )
    if (
        row is None
        or (receipt.outbox_id and receipt.outbox_id != str(row.id))
        or (receipt.phone and receipt.phone != row.to_phone)
    ):
        log.warning(
            "delivery report for an unknown or mismatched message %s (outbox %s, %s)",
            receipt.provider_sid,
            receipt.outbox_id or "-",
            mask_phone(receipt.phone),
        )
        return False
    delivery.record_status(
        session,
        receipt.provider_sid,
        "delivered" if receipt.delivered else "undelivered",
        None if receipt.delivered else (receipt.error_code or "failed"),
        now,
    )
    return True


def receive_aliyun_report(database: Database, payload: Any, now: datetime) -> PushResult:
    items = items_of(payload)
    schema = AliyunReportSchema()  # one per push: building it costs more than loading an item
    valid = [_valid(schema, item, "aliyun report", i) for i, item in enumerate(items)]
    receipts = [
        Receipt(
            provider_sid=v["biz_id"],
            phone=to_e164(v["phone_number"]),
            delivered=bool(v["success"]),
            error_code=v.get("err_code"),
            outbox_id=v.get("out_id"),
        )
        for v in valid
        if v
    ]
    result = apply_receipts(database, receipts, now)
    result.rejected = sum(1 for v in valid if v is None)
    return result


def receive_tencent_status(database: Database, payload: Any, now: datetime) -> PushResult:
    items = items_of(payload)
    schema = TencentStatusSchema()  # one per push: building it costs more than loading an item
    valid = [_valid(schema, item, "tencent status", i) for i, item in enumerate(items)]
    receipts = [
        Receipt(
            provider_sid=v["sid"],
            phone=to_e164(v["mobile"], v.get("nationcode")),
            delivered=v["report_status"] == "SUCCESS",
            error_code=v.get("errmsg"),
            outbox_id=v.get("ext") or None,
        )
        for v in valid
        if v
    ]
    result = apply_receipts(database, receipts, now)
    result.rejected = sum(1 for v in valid if v is None)
    return result
