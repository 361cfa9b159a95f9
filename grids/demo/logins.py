"""Logins for the demo county: a village doctor, their township centre, the county bureau."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.models import User
from grids.accounts.service import create_user
from grids.models import Doctor, Facility, Grid

DEMO_PASSWORD = "huzhu-demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    scope: str | None


def demo_doctor(session: Session, grid_ids: list[int]) -> Doctor | None:
    """The doctor of the first grid with history (the history script puts theirs first)."""
    if not grid_ids:
        return None
    doctor_id = session.scalar(select(Grid.doctor_id).where(Grid.id == grid_ids[0]))
    return session.get(Doctor, doctor_id) if doctor_id else None


def ensure_demo_logins(
    session: Session, doctor: Doctor | None, township: Facility | None
) -> list[DemoLogin]:
    """Create the demo accounts once; a second run finds them and changes nothing."""
    wanted = [DemoLogin("admin", "admin", None)]
    if township is not None:
        wanted.append(DemoLogin("township", "township", township.code))
    if doctor is not None:
        wanted.append(DemoLogin("doctor", "doctor", doctor.code))
    for login in wanted:
        if session.scalar(select(User.id).where(User.username == login.username)) is not None:
            continue
        create_user(
            session,
            login.username,
            login.role,
            DEMO_PASSWORD,
            doctor_code=login.scope if login.role == "doctor" else None,
            facility_code=login.scope if login.role == "township" else None,
        )
    return wanted
