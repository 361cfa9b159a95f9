"""The follow-up record: the fields of the national 高血压/2型糖尿病患者随访服务记录表."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grids.models import Doctor, Patient
from grids.storage.database import Base, UTCDateTime, utcnow


class Followup(Base):
    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date, index=True)
    method: Mapped[str] = mapped_column(String(12))
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    symptoms_text: Mapped[str | None] = mapped_column(Text)
    systolic: Mapped[int | None] = mapped_column(SmallInteger)
    diastolic: Mapped[int | None] = mapped_column(SmallInteger)
    heart_rate: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    bmi: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    glucose_mmol: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    hba1c: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    hypoglycaemia: Mapped[str | None] = mapped_column(String(12))
    cigarettes_per_day: Mapped[int | None] = mapped_column(SmallInteger)
    alcohol_liang_per_day: Mapped[int | None] = mapped_column(SmallInteger)
    exercise: Mapped[str | None] = mapped_column(String(60))
    salt: Mapped[str | None] = mapped_column(String(12))
    adherence: Mapped[str | None] = mapped_column(String(16))
    adverse_reaction: Mapped[bool] = mapped_column(Boolean, default=False)
    adverse_text: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[str | None] = mapped_column(String(16))
    medicines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    referral_reason: Mapped[str | None] = mapped_column(Text)
    referral_to: Mapped[str | None] = mapped_column(String(120))
    next_due: Mapped[date] = mapped_column(Date)
    next_due_reason: Mapped[str] = mapped_column(String(12))
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    patient: Mapped[Patient] = relationship()
    doctor: Mapped[Doctor | None] = relationship()

    __table_args__ = (Index("ix_followups_patient_date", "patient_id", "visit_date"),)
