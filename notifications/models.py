"""Tables of the SMS channel: the outbox, inbound messages, and per-number state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from grids.storage.database import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

# Provider error codes are kept whole: Tencent's run to 40 characters
# ("FailedOperation.PhoneNumberInBlacklist"), Aliyun's to about 30.
ERROR_CODE_LENGTH = 64


class OutboxStatus(StrEnum):
    """Where an outbound SMS is in its life (docs/outbox.md)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class OutboxMessage(Base):
    """One outbound SMS or call: a row first, sent later by the dispatcher."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    to_phone: Mapped[str] = mapped_column(String(20), index=True)
    recipient_type: Mapped[str | None] = mapped_column(String(16))
    recipient_id: Mapped[int | None] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    """`sms`, or `voice`: a call that speaks `body` (escalation calls)."""
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(ERROR_CODE_LENGTH))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the text and number were reduced (`raw-text-retention`, docs/partitions.md)."""

    __table_args__ = (
        Index("ix_outbox_claim", "status", "urgent", "next_attempt_at"),
        Index(
            "ix_outbox_unredacted",
            "created_at",
            sqlite_where=sql_text("redacted_at IS NULL"),
            postgresql_where=sql_text("redacted_at IS NULL"),
        ),
    )


class InboundMessage(Base):
    """Every SMS received, stored before it is parsed; `message_sid` makes retries no-ops."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(32), index=True)
    to_phone: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sender_type: Mapped[str | None] = mapped_column(String(16))
    sender_id: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    command: Mapped[str | None] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(24), default="received")
    reply: Mapped[str | None] = mapped_column(Text)
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the text and number were reduced (`raw-text-retention`, docs/partitions.md)."""

    __table_args__ = (
        Index(
            "ix_inbound_messages_unredacted",
            "received_at",
            sqlite_where=sql_text("redacted_at IS NULL"),
            postgresql_where=sql_text("redacted_at IS NULL"),
        ),
    )


class SmsContact(Base):
    """What we know of a phone number as an SMS endpoint: opted out, or not a valid mobile."""

    __tablename__ = "sms_contacts"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opt_out_keyword: Mapped[str | None] = mapped_column(String(24))
    invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invalid_code: Mapped[str | None] = mapped_column(String(ERROR_CODE_LENGTH))
    unknown_sender_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class EarlyDeliveryStatus(Base):
    """A delivery status that arrived before the dispatcher recorded its SID (the provider
    answered the callback before our UPDATE committed): kept, and applied when the SID is
    recorded, so a failed delivery of an urgent message is never lost."""

    __tablename__ = "early_delivery_statuses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(ERROR_CODE_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
