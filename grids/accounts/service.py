"""Creating accounts, checking passwords and tokens, and the login rate limit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from grids.accounts.login_limit import give_back
from grids.accounts.models import ROLES, LoginAttempt, User
from grids.core.errors import CatalogueError
from grids.core.vocabulary import FacilityLevel
from grids.models import Doctor, Facility

TOWNSHIP_SCOPES = frozenset({FacilityLevel.TOWNSHIP_CENTER, FacilityLevel.COMMUNITY_CENTER})
"""The facilities a township account may be scoped to."""

MIN_PASSWORD_LENGTH = 10
# A dummy hash, so a login for an unknown username costs the same as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(CatalogueError, ValueError):
    """A request about accounts that cannot be done; `key` and `params` name the catalogue text."""


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    scope: str | None
    disabled: bool
    has_token: bool
    last_login_at: datetime | None


def hash_token(token: str) -> str:
    """API tokens are long random strings: a SHA-256 digest is enough to store them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    *,
    doctor_code: str | None = None,
    facility_code: str | None = None,
    language: str | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise AccountError("users.error.bad_username", username=username)
    if role not in ROLES:
        raise AccountError("users.error.bad_role", role=role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("users.error.short_password", length=str(MIN_PASSWORD_LENGTH))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError("users.error.exists", username=username)
    doctor_id = facility_id = None
    if role == "doctor":
        if not doctor_code or facility_code:
            raise AccountError("users.error.doctor_scope")
        doctor_id = session.scalar(select(Doctor.id).where(Doctor.code == doctor_code))
        if doctor_id is None:
            raise AccountError("users.error.no_doctor", code=doctor_code)
    elif role == "township":
        if not facility_code or doctor_code:
            raise AccountError("users.error.township_scope")
        facility = session.scalar(select(Facility).where(Facility.code == facility_code))
        if facility is None:
            raise AccountError("users.error.no_facility", code=facility_code)
        if facility.level not in TOWNSHIP_SCOPES:
            # A county hospital would see the whole county, a village clinic one doctor's
            # grids: neither is what a township account is for.
            raise AccountError("users.error.not_a_township", code=facility_code)
        facility_id = facility.id
    elif doctor_code or facility_code:
        raise AccountError("users.error.admin_scope")
    user = User(
        username=username,
        role=role,
        password_hash=generate_password_hash(password),
        doctor_id=doctor_id,
        facility_id=facility_id,
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError("users.error.unknown", username=username)
    return user


def revoke_sessions(user: User) -> None:
    """Every session cookie issued to the user so far stops working."""
    user.session_version = (user.session_version or 0) + 1


def disable_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    user.disabled = True
    user.token_hash = None
    revoke_sessions(user)
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """A new password; the user's sessions are signed out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("users.error.short_password", length=str(MIN_PASSWORD_LENGTH))
    user = find_user(session, username)
    user.password_hash = generate_password_hash(password)
    revoke_sessions(user)
    return user


def issue_token(session: Session, username: str) -> str:
    """A new API token for the user; the previous one stops working. Only its hash is kept."""
    user = find_user(session, username)
    if user.disabled:
        raise AccountError("users.error.disabled", username=username)
    token = secrets.token_urlsafe(32)
    user.token_hash = hash_token(token)
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token:
        return None
    user = session.scalar(select(User).where(User.token_hash == hash_token(token)))
    if user is None or user.disabled:
        return None
    return user


def list_users(session: Session) -> list[UserRow]:
    rows = session.execute(
        select(User, Doctor.code, Facility.code)
        .outerjoin(Doctor, Doctor.id == User.doctor_id)
        .outerjoin(Facility, Facility.id == User.facility_id)
        .order_by(User.username)
    )
    return [
        UserRow(
            username=user.username,
            role=user.role,
            scope=doctor_code or facility_code,
            disabled=user.disabled,
            has_token=user.token_hash is not None,
            last_login_at=user.last_login_at,
        )
        for user, doctor_code, facility_code in rows
    ]


def authenticate(
    session: Session, username: str, password: str, remote_addr: str, now: datetime
) -> User | None:
    """The user when the password is right and the account enabled; every try is recorded.

    The caller has taken (and committed) the check with `login_limit.take_check`.
    """
    user = session.scalar(select(User).where(User.username == username))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    ok = ok and user is not None and not user.disabled
    session.add(
        LoginAttempt(username=username[:80], remote_addr=remote_addr[:64], at=now, succeeded=ok)
    )
    if ok and user is not None:
        give_back(session, username, remote_addr)
        user.last_login_at = now
        return user
    return None
