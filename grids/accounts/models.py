"""Accounts of the people who use the web pages and the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
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
    # Part of the session cookie: bumping it signs out every session of the user.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
        return session_id(self.id, self.session_version)


def session_id(user_id: int, version: int) -> str:
    """What the session cookie holds: the user and the generation of their sessions."""
    return f"{user_id}.{version}"


def parse_session_id(value: str) -> tuple[int, int] | None:
    user_id, dot, version = value.partition(".")
    if not dot or not user_id.isdigit() or not version.isdigit():
        return None
    return int(user_id), int(version)


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


class LoginCounter(Base):
    """Failed logins in the current window for one username or one address.

    A check of a password first takes one of the window's allowed failures here with
    a conditional UPDATE, so guesses sent together cannot all read a count below the limit.
    """

    __tablename__ = "login_counters"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("scope IN ('username', 'address')", name="scope"),)
