"""Call results and keypresses pushed by Aliyun and Tencent Cloud voice, applied like Twilio's.

Both providers push at least once and may repeat. Each item is validated on its own
(a bad item is logged and skipped, never the batch), turned into a `CallResult` and
applied to the outbox row that placed the call, found by the provider's call id
(`call_id`, `callid`) and checked against our outbox id (`out_id`, where given) and
the number:

- the call's outcome moves the row forward like a delivery report
  (`notifications.delivery.record_status`): answered → `delivered`; no answer, busy,
  unreachable, failed → `failed` with that word as its error code. The escalation
  tick reads it: an answered call goes on the timeline, an unanswered one takes the
  ladder on at once (`grids.escalation.timers`);
- a keypress goes through the same service as Twilio's `POST /voice/twilio/gather`:
  put on the case's timeline, and 1 acknowledges the case as the callee (the reporter
  is told). A keypress repeated for the same call changes nothing.

Nothing here imports Flask: the blueprint (`voice_webhooks.py`) and reconciliation call
these functions with the database, settings and clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.settings import Settings
from grids.escalation.acknowledgement import AckRefused, record_keypress
from grids.escalation.keys import escalation_of_key
from grids.escalation.models import EscalationEvent, EventKind
from grids.storage.database import Database
from notifications import delivery
from notifications.inbound import acknowledge_by_call
from notifications.mainland.pushes import PushResult, _ItemSchema, _valid, items_of
from notifications.models import OutboxMessage

log = logging.getLogger(__name__)

ANSWERED = "answered"
ACKNOWLEDGE_KEY = "1"
VOICE = "voice"

ALIYUN_ANSWERED = frozenset({"200000", "200001", "200008"})
"""Aliyun call status codes of a call that was picked up: heard to the end, hung up
early, no key pressed in time."""
ALIYUN_FAILURES: dict[str, str] = {
    "200002": "busy",
    "200003": "no_answer",
    "200004": "invalid_number",
    "200005": "unreachable",
    "200006": "failed",
    "200007": "unreachable",
    "200010": "powered_off",
    "200011": "suspended",
}
"""Aliyun codes of a call nobody heard, as the word kept on the outbox row; any other
`2xxxxx` is `failed:<code>`. Other codes (the `3xxxxx` of intermediate reports) say
nothing final."""

TENCENT_RESULTS: dict[str, str] = {"0": ANSWERED, "1": "no_answer", "2": "failed"}
"""Tencent's `voiceprompt_callback.result`: answered, not answered, call error."""


@dataclass(frozen=True)
class CallResult:
    call_id: str
    phone: str
    """The callee as the provider gives it (national or E.164); empty when not given."""
    outbox_id: str | None
    outcome: str | None
    """`answered`, why nobody heard it (`no_answer`, `busy`, ...), or None (nothing final)."""
    keypress: str | None = None


def aliyun_outcome(status_code: str) -> str | None:
    code = status_code.strip()
    if code in ALIYUN_ANSWERED:
        return ANSWERED
    if code in ALIYUN_FAILURES:
        return ALIYUN_FAILURES[code]
    if code.startswith("2"):
        return f"failed:{code}"
    return None


# --- schemas: the fields we use, checked; others ignored (providers add fields) ---


def _call_id(value: str) -> bool:
    return 0 < len(value) <= 64


class AliyunVoiceReportSchema(_ItemSchema):
    call_id = fields.String(required=True, validate=_call_id)
    status_code = fields.String(required=True, validate=lambda v: 0 < len(v) <= 16)
    out_id = fields.String(load_default=None, allow_none=True)
    callee = fields.String(load_default=None, allow_none=True)
    dtmf = fields.String(load_default=None, allow_none=True, validate=lambda v: len(v) <= 32)
    status_msg = fields.String(load_default=None, allow_none=True)


class TencentVoiceStatusSchema(_ItemSchema):
    callid = fields.String(required=True, validate=_call_id)
    mobile = fields.String(required=True, validate=lambda v: 5 <= len(v) <= 20)
    nationcode = fields.String(load_default="86")
    result = fields.String(required=True, validate=lambda v: v in TENCENT_RESULTS)


class TencentVoiceFailureSchema(_ItemSchema):
    callid = fields.String(required=True, validate=_call_id)
    mobile = fields.String(required=True, validate=lambda v: 5 <= len(v) <= 20)
    nationcode = fields.String(load_default="86")
    failure_code = fields.String(required=True, validate=lambda v: 0 < len(v) <= 16)
    failure_reason = fields.String(load_default=None, allow_none=True)


class TencentKeypressSchema(_ItemSchema):
    callid = fields.String(required=True, validate=_call_id)
    mobile = fields.String(required=True, validate=lambda v: 5 <= len(v) <= 20)
    nationcode = fields.String(load_default="86")
    keypress = fields.String(required=True, validate=lambda v: 0 < len(v) <= 32)


TENCENT_WRAPPERS: dict[str, type[Schema]] = {
    "voiceprompt_callback": TencentVoiceStatusSchema,
    "voice_failure_callback": TencentVoiceFailureSchema,
    "voicekey_callback": TencentKeypressSchema,
}
"""Tencent wraps each event in an object named for its kind."""


def _unwrapped(payload: Any, kinds: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(kind, item) of a Tencent push: `{"voiceprompt_callback": {...}}`, or a list of them."""
    result: list[tuple[str, Any]] = []
    for wrapper in items_of(payload):
        found = [kind for kind in kinds if isinstance(wrapper, dict) and kind in wrapper]
        if found:
            result.append((found[0], wrapper[found[0]]))
        else:
            result.append((kinds[0], None))
    return result


# --- applying ---


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def same_number(row_phone: str, given: str) -> bool:
    """Whether a provider's number (`13912345678`, `057112345678`, `+86...`) is the row's."""
    digits = _digits(given).lstrip("0")
    if not digits:
        return True
    return len(digits) >= 7 and _digits(row_phone).endswith(digits)


def apply_call_results(
    database: Database, settings: Settings, results: Iterable[CallResult], now: datetime
) -> PushResult:
    """Apply each result to its call; one transaction, a savepoint per result so one
    failure never loses the others."""
    outcome = PushResult()
    with database.unit_of_work() as session:
        for result in results:
            try:
                with session.begin_nested():
                    applied = _apply(session, settings, result, now)
            except Exception:
                log.exception("call result for %s not applied", result.call_id)
                outcome.rejected += 1
                continue
            if applied is None:
                outcome.unknown += 1
            elif applied:
                outcome.accepted += 1
            else:
                outcome.duplicates += 1
        session.commit()
    return outcome


def _apply(session: Session, settings: Settings, result: CallResult, now: datetime) -> bool | None:
    """True: something new; False: a repeat; None: no such call."""
    row = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.provider_sid == result.call_id, OutboxMessage.channel == VOICE)
        .with_for_update()
    )
    if (
        row is None
        or (result.outbox_id and result.outbox_id != str(row.id))
        or not same_number(row.to_phone, result.phone)
    ):
        log.warning(
            "call result for an unknown or mismatched call %s (outbox %s, %s)",
            result.call_id,
            result.outbox_id or "-",
            mask_phone(result.phone),
        )
        return None
    before = (row.status, row.error_code)
    if result.outcome is not None:
        answered = result.outcome == ANSWERED
        delivery.record_status(
            session,
            result.call_id,
            "delivered" if answered else "failed",
            None if answered else result.outcome,
            now,
        )
    changed = (row.status, row.error_code) != before
    if result.keypress:
        changed = _keypress(session, settings, row, result.keypress, now) or changed
    return changed


def _keypress(
    session: Session, settings: Settings, row: OutboxMessage, digits: str, now: datetime
) -> bool:
    """Put a keypress on the case's timeline, once per call; 1 acknowledges the case."""
    escalation_id = escalation_of_key(row.idempotency_key)
    if escalation_id is None:
        log.warning("keypress for call %s, which is not an escalation call", row.provider_sid)
        return False
    seen = session.scalar(
        select(EscalationEvent.id).where(
            EscalationEvent.escalation_id == escalation_id,
            EscalationEvent.kind == EventKind.KEYPRESS,
            EscalationEvent.recipient == row.to_phone,
            EscalationEvent.at >= (row.sent_at or row.created_at),
        )
    )
    if seen is not None:
        return False
    escalation = record_keypress(session, escalation_id, row.to_phone, digits, now)
    if escalation is None or digits[:1] != ACKNOWLEDGE_KEY:
        return True
    acked = acknowledge_by_call(session, settings, row.to_phone, escalation.code, now)
    if isinstance(acked, AckRefused):
        log.info(
            "keypress 1 from %s did not acknowledge %s: %s",
            mask_phone(row.to_phone),
            escalation.code,
            acked,
        )
    return True


# --- the providers' pushes ---


def receive_aliyun_report(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    """Aliyun `VoiceReport`: a JSON array of call records, status and keys together."""
    items = items_of(payload)
    valid = [
        _valid(AliyunVoiceReportSchema(), item, "aliyun voice report", index)
        for index, item in enumerate(items)
    ]
    results = [
        CallResult(
            call_id=v["call_id"],
            phone=v.get("callee") or "",
            outbox_id=v.get("out_id") or None,
            outcome=aliyun_outcome(v["status_code"]),
            keypress=(v.get("dtmf") or "").strip() or None,
        )
        for v in valid
        if v
    ]
    outcome = apply_call_results(database, settings, results, now)
    outcome.rejected += sum(1 for v in valid if v is None)
    return outcome


def _tencent_results(payload: Any, kinds: tuple[str, ...], label: str) -> tuple[list[Any], int]:
    results: list[CallResult] = []
    rejected = 0
    for index, (kind, item) in enumerate(_unwrapped(payload, kinds)):
        v = _valid(TENCENT_WRAPPERS[kind](), item, label, index)
        if v is None:
            rejected += 1
            continue
        phone = "+" + _digits(v["nationcode"] or "86") + _digits(v["mobile"])[-11:]
        if kind == "voiceprompt_callback":
            outcome: str | None = TENCENT_RESULTS[v["result"]]
            results.append(CallResult(v["callid"], phone, None, outcome))
        elif kind == "voice_failure_callback":
            outcome = f"failed:{v['failure_code']}"
            results.append(CallResult(v["callid"], phone, None, outcome))
        else:
            results.append(CallResult(v["callid"], phone, None, None, v["keypress"].strip()))
    return results, rejected


def receive_tencent_status(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    """Tencent `voiceprompt_callback` (answered or not) and `voice_failure_callback`."""
    results, rejected = _tencent_results(
        payload, ("voiceprompt_callback", "voice_failure_callback"), "tencent voice status"
    )
    outcome = apply_call_results(database, settings, results, now)
    outcome.rejected += rejected
    return outcome


def receive_tencent_keypress(
    database: Database, settings: Settings, payload: Any, now: datetime
) -> PushResult:
    """Tencent `voicekey_callback`: the key the callee pressed."""
    results, rejected = _tencent_results(payload, ("voicekey_callback",), "tencent keypress")
    outcome = apply_call_results(database, settings, results, now)
    outcome.rejected += rejected
    return outcome
