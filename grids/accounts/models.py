"""Accounts of the people who use the web pages and the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grids.models import Doctor, Facility
from grids.storage.database import Base, UTCDateTime, utcnow

ROLES = ("admin", "township", "doctor")


class User(Base):
    """A login. `doctor` accounts are scoped to a doctor, `township` to a facility."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    doctor: Mapped[Doctor | None] = relationship()
    facility: Mapped[Facility | None] = relationship()

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'township', 'doctor')", name="role"),
        CheckConstraint("(role = 'doctor') = (doctor_id IS NOT NULL)", name="doctor_scope"),
        CheckConstraint("(role = 'township') = (facility_id IS NOT NULL)", name="township_scope"),
    )

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return not self.disabled

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class LoginAttempt(Base):
    """One try at the login form; recent failures slow down password guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    remote_addr: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_remote_addr_at", "remote_addr", "at"),
    )
