"""Per-number SMS state: opted out (STOP, 退订, Twilio 21610) or not a valid mobile.

The dispatcher suppresses every message to a number that is opted out or
flagged invalid; the administrator lists them with `flask --app wsgi sms numbers`.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from notifications.models import ERROR_CODE_LENGTH, SmsContact


def _upsert(session: Session, phone: str, now: datetime, **values: Any) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SmsContact).values(phone=phone, updated_at=now, **values)
    statement = statement.on_conflict_do_update(
        index_elements=["phone"], set_={"updated_at": now, **values}
    )
    session.execute(statement)
    loaded = session.identity_map.get(session.identity_key(SmsContact, phone))
    if loaded is not None:
        session.expire(loaded)


UNSUBSCRIBED_CODES = frozenset(
    {"21610", "FailedOperation.PhoneNumberInBlacklist", "isv.BLACK_LIST_CONTROL"}
)
"""Provider error codes saying the recipient unsubscribed (Twilio 21610, Tencent's
blacklist, Aliyun's blacklist control)."""
INVALID_NUMBER_CODES = frozenset(
    {
        "21211",
        "21614",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberParseFail",
    }
)
"""Provider error codes saying the number cannot get SMS (Twilio 21211, 21614; Aliyun and
Tencent's invalid-number codes)."""


def record_provider_error(session: Session, phone: str, code: str, now: datetime) -> None:
    """What a provider's error code says about `phone`: opted out, invalid, or nothing."""
    if code in UNSUBSCRIBED_CODES:
        opt_out(session, phone, f"provider:{code}", now)
    elif code in INVALID_NUMBER_CODES:
        mark_invalid(session, phone, code, now)


def opt_out(session: Session, phone: str, keyword: str, now: datetime) -> None:
    """Record that `phone` asked for no more SMS (the keyword it sent, or a provider code)."""
    _upsert(session, phone, now, opted_out_at=now, opt_out_keyword=keyword[:24])


def opt_in(session: Session, phone: str, now: datetime) -> None:
    """`phone` sent START / 开始: messages to it go out again."""
    _upsert(session, phone, now, opted_out_at=None, opt_out_keyword=None)


def mark_invalid(session: Session, phone: str, code: str, now: datetime) -> None:
    """The provider said `phone` cannot get SMS (21211 invalid, 21614 not a mobile)."""
    _upsert(session, phone, now, invalid_at=now, invalid_code=str(code)[:ERROR_CODE_LENGTH])


def clear_invalid(session: Session, phone: str, now: datetime) -> None:
    """The administrator checked the number: try sending to it again."""
    _upsert(session, phone, now, invalid_at=None, invalid_code=None)


def is_opted_out(session: Session, phone: str) -> bool:
    opted_out_at = session.scalar(select(SmsContact.opted_out_at).where(SmsContact.phone == phone))
    return opted_out_at is not None


def is_invalid(session: Session, phone: str) -> bool:
    invalid_at = session.scalar(select(SmsContact.invalid_at).where(SmsContact.phone == phone))
    return invalid_at is not None


def unreachable_numbers(session: Session, phones: Iterable[str]) -> dict[str, str]:
    """Of `phones`, those we must not send to, with why: `opted_out` or `invalid`."""
    wanted = sorted(set(phones))
    if not wanted:
        return {}
    result: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(SmsContact.phone, SmsContact.opted_out_at, SmsContact.invalid_at).where(
                SmsContact.phone.in_(wanted[start : start + 500]),
                or_(SmsContact.opted_out_at.is_not(None), SmsContact.invalid_at.is_not(None)),
            )
        )
        for phone, opted_out_at, _invalid_at in rows:
            result[phone] = "opted_out" if opted_out_at is not None else "invalid"
    return result


def flagged_numbers(session: Session) -> list[SmsContact]:
    """Numbers that get no SMS: opted out or flagged invalid, most recent change first."""
    return list(
        session.scalars(
            select(SmsContact)
            .where(or_(SmsContact.opted_out_at.is_not(None), SmsContact.invalid_at.is_not(None)))
            .order_by(SmsContact.updated_at.desc(), SmsContact.phone)
        )
    )
