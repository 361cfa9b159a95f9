"""The roster and the grids: tables of the domain.

Times are aware UTC datetimes (`UTCDateTime`); weeks are ISO week strings in
the county's time zone, e.g. `2026-W48`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grids.core.limits import GRID_CAPACITY
from grids.core.vocabulary import DoctorStatus, FacilityLevel, PatientStatus
from grids.storage.database import Base, UTCDateTime, utcnow


def _enum(enum_class: type, name: str) -> Enum:
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Facility(Timestamped, Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[FacilityLevel] = mapped_column(_enum(FacilityLevel, "facility_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))

    parent: Mapped[Facility | None] = relationship(remote_side=[id])


class Doctor(Timestamped, Base):
    __tablename__ = "doctors"
    recipient_type: ClassVar[str] = "doctor"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")
    status: Mapped[DoctorStatus] = mapped_column(
        _enum(DoctorStatus, "doctor_status"), default=DoctorStatus.ACTIVE
    )

    facility: Mapped[Facility] = relationship()


class Patient(Timestamped, Base):
    __tablename__ = "patients"
    recipient_type: ClassVar[str] = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    primary_condition: Mapped[str] = mapped_column(String(32), index=True)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str | None] = mapped_column(String(1))
    volunteer: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[PatientStatus] = mapped_column(
        _enum(PatientStatus, "patient_status"), default=PatientStatus.ACTIVE, index=True
    )
    died_on: Mapped[date | None] = mapped_column(Date)
    paused_until: Mapped[date | None] = mapped_column(Date)
    """Away (for the winter): no prompts or nudges, neither silent nor lost until then."""
    language: Mapped[str] = mapped_column(String(8), default="zh_CN")

    facility: Mapped[Facility] = relationship()


class Grid(Timestamped, Base):
    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    condition: Mapped[str] = mapped_column(String(32), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    """The deputy (副网格员): a second volunteer member with a mobile, who stands in
    while the coordinator is away (grids.outreach.leaders decides when)."""
    doctor_number: Mapped[int | None] = mapped_column(SmallInteger)
    """Its number among its doctor's grids (`7号格`), kept while it stays with him
    (grids.formation.numbers)."""
    exchange_weekday: Mapped[int | None] = mapped_column(SmallInteger)
    exchange_time: Mapped[time | None] = mapped_column(Time)
    exchange_minutes: Mapped[int] = mapped_column(SmallInteger, default=60)
    exchange_venue: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, default=1)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set when the grid was closed (merged into another); a closed grid has no members,
    takes none, and `grids check` passes it by."""

    facility: Mapped[Facility] = relationship()
    doctor: Mapped[Doctor | None] = relationship()
    coordinator: Mapped[Patient | None] = relationship(foreign_keys=[coordinator_id])
    deputy: Mapped[Patient | None] = relationship(foreign_keys=[deputy_id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            "exchange_weekday IS NULL OR (exchange_weekday BETWEEN 0 AND 6)", name="weekday"
        ),
    )


class Membership(Base):
    """A patient's seat in a grid over a period; `left_at` closes it, history stays."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    seat: Mapped[int] = mapped_column(SmallInteger)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_reason: Mapped[str | None] = mapped_column(String(32))

    grid: Mapped[Grid] = relationship()
    patient: Mapped[Patient] = relationship()

    __table_args__ = (
        CheckConstraint(f"seat BETWEEN 1 AND {GRID_CAPACITY}", name="seat_range"),
        Index(
            "uq_memberships_current_seat",
            "grid_id",
            "seat",
            unique=True,
            sqlite_where=sql_text("left_at IS NULL"),
            postgresql_where=sql_text("left_at IS NULL"),
        ),
        Index(
            "uq_memberships_current_patient",
            "patient_id",
            unique=True,
            sqlite_where=sql_text("left_at IS NULL"),
            postgresql_where=sql_text("left_at IS NULL"),
        ),
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_code: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


class RosterChange(Base):
    """A change to what the escalation hierarchy is built from: written by database
    triggers on facilities, doctors and grids (migration 0009), whatever made it."""

    __tablename__ = "roster_changes"

    id: Mapped[int] = mapped_column(primary_key=True)


class WeeklyReport(Base):
    """A coordinator's report for a grid and an ISO week; later texts amend it."""

    __tablename__ = "weekly_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    week: Mapped[str] = mapped_column(String(8))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    all_stable: Mapped[bool] = mapped_column(Boolean, default=False)
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revisions: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("grid_id", "week"),)


class MemberReport(Base):
    """What the week's report says of one member (flags and a free note)."""

    __tablename__ = "member_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekly_report_id: Mapped[int] = mapped_column(ForeignKey("weekly_reports.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    week: Mapped[str] = mapped_column(String(8))
    seat: Mapped[int] = mapped_column(SmallInteger)
    hospitalised: Mapped[bool] = mapped_column(Boolean, default=False)
    discharged: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_medication: Mapped[bool] = mapped_column(Boolean, default=False)
    died: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("weekly_report_id", "patient_id"),)


class Reading(Base):
    """A blood pressure or glucose reading; one of each kind per member and week."""

    __tablename__ = "readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    week: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))
    systolic: Mapped[int | None] = mapped_column(SmallInteger)
    diastolic: Mapped[int | None] = mapped_column(SmallInteger)
    glucose_mmol: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source_ref: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("patient_id", "week", "kind"),
        CheckConstraint("kind IN ('bp', 'glucose')", name="kind"),
    )


class ExchangeAttendance(Base):
    __tablename__ = "exchange_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    week: Mapped[str] = mapped_column(String(8))
    headcount: Mapped[int] = mapped_column(SmallInteger)
    seats: Mapped[list[int] | None] = mapped_column(JSON)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source_ref: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("grid_id", "week"),)


class ExchangeOverride(Base):
    """This week's exchange moved to another time, or skipped."""

    __tablename__ = "exchange_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    week: Mapped[str] = mapped_column(String(8))
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source_ref: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("grid_id", "week"),)


class UrgentReport(Base):
    """An urgent case reported by SMS, open until someone acknowledges it."""

    __tablename__ = "urgent_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    seat: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)
    red_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="urgent", server_default="urgent")
    """`urgent` (急) or `critical` (a reading at the national urgent-referral thresholds)."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    source_ref: Mapped[str | None] = mapped_column(String(64))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), index=True)
    """The escalation the report opened or was merged into."""

    __table_args__ = (
        Index(
            "uq_urgent_reports_open_code",
            "code",
            unique=True,
            sqlite_where=sql_text("acknowledged_at IS NULL"),
            postgresql_where=sql_text("acknowledged_at IS NULL"),
        ),
    )


class ChangeSet(Base):
    """One administrative change applied as a whole: who, when, why, and every row touched.

    `changes` lists, in the order applied, each row touched with the value it was
    expected to hold and the value it was set to (see `grids.audit`); an undo is a
    change-set of its own that points at the one it reverses.
    """

    __tablename__ = "change_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    operation: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"))
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("change_sets.id"))


# Escalations live with their capability; imported here so `urgent_reports.escalation_id`
# always finds its table.
import grids.escalation.models  # noqa: E402, F401
