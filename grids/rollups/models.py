"""Stored rollups: snapshots of closed weeks, and the current week's provisional ones.

A closed week's snapshot records what a rollup said, so later changes never rewrite
it silently. The current week's rows are `provisional`: the `rollups-refresh` job
rewrites them, and `parts` keeps the sums behind each row's indicators so a refresh
can add a few recomputed grids up again without recounting the county. Closing the
week turns the same rows into the snapshot (`parts` dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, deferred, mapped_column

from grids.escalation.models import Escalation
from grids.followups.models import Followup
from grids.models import (
    ExchangeAttendance,
    MemberReport,
    Membership,
    Patient,
    Reading,
    UrgentReport,
    WeeklyReport,
)
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
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The current week's figures, rewritten by `rollups-refresh` until the week closes."""
    parts: Mapped[dict[str, Any] | None] = deferred(mapped_column(JSON, nullable=True))
    """Provisional rows only: the additive sums and urgent cases behind `indicators`."""

    __table_args__ = (UniqueConstraint("week", "level", "code"),)


class RollupRefresh(Base):
    """How far the provisional snapshot of a week has been brought: one row per week."""

    __tablename__ = "rollup_refreshes"

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The data as of: the provisional rows hold everything stored up to this refresh."""
    full_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The last refresh that recounted every grid."""
    layout: Mapped[str] = mapped_column(String(64))
    """A digest of where every grid sits (doctor, township, county): a change means a full
    recount."""
    marks: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The newest change time seen in each source column (`grids.rollups.changes`)."""
    grids: Mapped[int] = mapped_column(Integer, default=0)
    """Grids recounted by the last refresh."""


# The change times the refresh looks for rows after (grids.rollups.changes): indexed,
# so finding the few rows changed in 15 minutes does not read a year of history.
CHANGE_INDEXES = (
    Index("ix_readings_reported_at", Reading.reported_at),
    Index("ix_member_reports_updated_at", MemberReport.updated_at),
    Index("ix_weekly_reports_last_received_at", WeeklyReport.last_received_at),
    Index("ix_exchange_attendance_reported_at", ExchangeAttendance.reported_at),
    Index("ix_urgent_reports_acknowledged_at", UrgentReport.acknowledged_at),
    Index("ix_escalations_updated_at", Escalation.updated_at),
    Index("ix_memberships_joined_at", Membership.joined_at),
    Index("ix_memberships_left_at", Membership.left_at),
    Index("ix_patients_updated_at", Patient.updated_at),
    Index("ix_followups_recorded_at", Followup.recorded_at),
)
