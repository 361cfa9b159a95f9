"""Tables of escalations: one row per urgent case climbing its ladder, and its timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from grids.escalation.case import CaseKind, EscalationState, EventKind
from grids.storage.database import Base, UTCDateTime, utcnow

__all__ = ["CaseKind", "Escalation", "EscalationEvent", "EscalationState", "EventKind"]


class Escalation(Base):
    """An urgent case climbing its ladder until someone acknowledges it.

    The ladder is copied here when the case opens (`ladder`, JSON), so a roster change
    mid-incident does not change who is next. `step` indexes the ladder's steps,
    `round` counts passes over the top step; `next_step_at` is when the current step
    times out (None until its message was sent); `token` changes on every advance, so
    a stale or duplicate tick sees the case moved and leaves it.
    """

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default=EscalationState.OPEN)
    kind: Mapped[str] = mapped_column(String(16), default=CaseKind.URGENT, server_default="urgent")
    """`urgent` (a coordinator's 急) or `critical` (a reading at the national thresholds)."""
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    seat: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    red_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The message parameters of the case (grid, seat, name, text, reporter's phone)."""
    ladder: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(SmallInteger, default=0)
    round: Mapped[int] = mapped_column(SmallInteger, default=1)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token: Mapped[int] = mapped_column(Integer, default=1)
    called: Mapped[bool] = mapped_column(Boolean, default=False)
    """The current step's call was placed (doctor step: a call after 3 minutes)."""
    duty_alerted_round: Mapped[int] = mapped_column(SmallInteger, default=0)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Outbox key → the delivery outcome already put on the timeline."""
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_by_kind: Mapped[str | None] = mapped_column(String(16))
    acknowledged_by_id: Mapped[int | None] = mapped_column(Integer)
    acknowledged_by_phone: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    """How the case ended: `home`, `referred`, `admitted`, `died`, `false`."""
    closed_by: Mapped[str | None] = mapped_column(String(120))
    close_reminders: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    """Reminders sent to whoever acknowledged it and has not closed it (up to 3)."""
    followup_due: Mapped[date | None] = mapped_column(Date)
    """A referral or admission is followed up on this day (14 days after the close)."""
    followup_outcome: Mapped[str | None] = mapped_column(String(16))
    followup_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followup_by: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": token}  # noqa: RUF012
    __table_args__ = (
        Index(
            "uq_escalations_open_patient",
            "patient_id",
            unique=True,
            sqlite_where=sql_text("state = 'open' AND patient_id IS NOT NULL"),
            postgresql_where=sql_text("state = 'open' AND patient_id IS NOT NULL"),
        ),
        Index("ix_escalations_state_next", "state", "next_step_at"),
        Index("ix_escalations_code", "code"),
        Index("ix_escalations_followup_due", "followup_due"),
    )


class EscalationEvent(Base):
    """One entry of an escalation's timeline; rows are only ever added."""

    __tablename__ = "escalation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[int | None] = mapped_column(SmallInteger)
    round: Mapped[int | None] = mapped_column(SmallInteger)
    recipient: Mapped[str | None] = mapped_column(String(32))
    recipient_name: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(8))
    detail: Mapped[str | None] = mapped_column(Text)
