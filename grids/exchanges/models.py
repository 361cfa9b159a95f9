"""Tables of the weekly exchange besides the grid's own slot columns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grids.storage.database import Base, UTCDateTime, utcnow


class ExchangePreference(Base):
    """The weekdays a grid's coordinator prefers (0 = Monday); the planner keeps to them."""

    __tablename__ = "exchange_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), unique=True)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)


class DoctorVisit(Base):
    """The doctor's visit rota: the grid's exchange is visited in rota week 1-4."""

    __tablename__ = "doctor_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), unique=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    rota_week: Mapped[int] = mapped_column(SmallInteger)


class ExchangeConfirmation(Base):
    """A member replied `1` / `去` to the reminder of the exchange of `week`."""

    __tablename__ = "exchange_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"))
    week: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("grid_id", "week", "patient_id"),)
