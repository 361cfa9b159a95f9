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

log = logging.getLogger(__name__)


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
    database: Database, settings: Settings, replies: Sequence[IncomingSms], now: datetime
) -> PushResult:
    """Receive each reply through the inbound service (each in its own transaction, so one
    failure never loses the others), then queue the answers in one transaction.

    Should queuing fail, the error reaches the provider, which pushes again: the replies
    are then repeats, answered from what was stored, and their answers queued then.
    """
    result = PushResult()
    if not replies:
        return result
    keys = [sms.message_sid for sms in replies]
    with database.unit_of_work() as session:
        seen = set(
            session.scalars(
                select(InboundMessage.message_sid).where(InboundMessage.message_sid.in_(keys))
            )
        )
    answers: list[tuple[IncomingSms, str]] = []
    for sms in replies:
        answer = inbound.receive(database, settings, sms, now)
        if sms.message_sid in seen:
            result.duplicates += 1
        else:
            seen.add(sms.message_sid)
            result.accepted += 1
        if answer:
            answers.append((sms, answer))
    if answers:
        _queue_answers(database, settings, answers, now)
    return result


def _queue_answers(
    database: Database, settings: Settings, answers: list[tuple[IncomingSms, str]], now: datetime
) -> None:
    with database.unit_of_work() as session:
        languages = dict(
            session.execute(
                select(InboundMessage.message_sid, InboundMessage.language).where(
                    InboundMessage.message_sid.in_([sms.message_sid for sms, _ in answers])
                )
            )
            .tuples()
            .all()
        )
        notices = [
            notice
            for sms, answer in answers
            for notice in relay_notices(
                sms, answer, languages.get(sms.message_sid) or settings.default_language
            )
        ]
        try:
            outbox.enqueue_many(session, notices, now=now)
        except TemplateNotSendable as error:
            # A gap in SMS_TEMPLATE_MAP: pushing again would not help; the log says what to add.
            log.error("answers to %d SMS not queued: %s", len(answers), error)
            return
        session.commit()


def receive_aliyun_up(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    valid = [
        _valid(AliyunUpSchema(), item, "aliyun up", i) for i, item in enumerate(items_of(payload))
    ]
    result = apply_replies(database, settings, [aliyun_reply(v) for v in valid if v], now)
    result.rejected = sum(1 for v in valid if v is None)
    return result


def receive_tencent_reply(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    items = items_of(payload)
    valid = [_valid(TencentReplySchema(), item, "tencent reply", i) for i, item in enumerate(items)]
    result = apply_replies(database, settings, [tencent_reply(v) for v in valid if v], now)
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
    valid = [_valid(AliyunReportSchema(), item, "aliyun report", i) for i, item in enumerate(items)]
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
    valid = [
        _valid(TencentStatusSchema(), item, "tencent status", i) for i, item in enumerate(items)
    ]
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
