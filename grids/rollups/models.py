"""Snapshots of closed weeks: what a rollup said, so later changes never rewrite it silently."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grids.storage.database import Base, UTCDateTime, utcnow


class RollupSnapshot(Base):
    __tablename__ = "rollup_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8), index=True)
    level: Mapped[str] = mapped_column(String(12))
    code: Mapped[str] = mapped_column(String(48))
    indicators: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revisions: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("week", "level", "code"),)
