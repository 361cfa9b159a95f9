"""Silences noticed, so each is told once and the rollup can mark the grid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grids.storage.database import Base, UTCDateTime


class ReportSilence(Base):
    """A grid with no weekly report since `since_week` (inclusive), two weeks or more.

    `ended_week` is the week a report came again; while it is NULL the grid is
    silent and the rollup marks it. The doctor was told at `doctor_told_at`.
    """

    __tablename__ = "report_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    since_week: Mapped[str] = mapped_column(String(8))
    doctor_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_week: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (UniqueConstraint("grid_id", "since_week"),)


class MemberSilence(Base):
    """A member without news (reading or event) since `last_news_at`, named to the
    coordinator at `named_at`; one row per silence."""

    __tablename__ = "member_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    last_news_at: Mapped[datetime] = mapped_column(UTCDateTime())
    named_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("patient_id", "last_news_at"),)
