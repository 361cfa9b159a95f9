"""Twelve weeks of history for the rest of the demo county, written as rows.

One township's history is played through the SMS handler (`grids.demo.history`), so
its pages show the messages themselves. Playing the whole county that way would take
minutes; the other grids get what those messages would have stored (weekly reports,
readings, exchange attendance) in a few bulk inserts, with the same rates, so every
township, doctor and the county page show twelve weeks of work.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from grids.core.weeks import week_monday
from grids.demo.history import (
    ATTENDANCE_RATE,
    HISTORY_WEEKS,
    LATE_GRID_REPORT_RATE,
    READINGS_PER_REPORT,
    REPORT_RATE,
)
from grids.models import ExchangeAttendance, Grid, Membership, Patient, Reading, WeeklyReport
from grids.rollups.period import weeks_back

_BATCH = 5_000


def write_county_history(
    session: Session, played: Collection[int], now: datetime, tz: ZoneInfo, seed: int = 48
) -> int:
    """Write the history of every grid with a coordinator and a doctor, except the
    `played` ones; returns how many grids got it. Nothing is committed."""
    rng = random.Random(seed + 1)
    skip = set(played)
    grids: list[tuple[int, int]] = [
        (grid_id, coordinator_id)
        for grid_id, coordinator_id in session.execute(
            select(Grid.id, Grid.coordinator_id)
            .where(
                Grid.coordinator_id.is_not(None),
                Grid.doctor_id.is_not(None),
                Grid.closed_at.is_(None),
            )
            .order_by(Grid.code)
        ).tuples()
        if grid_id not in skip and coordinator_id is not None
    ]
    members: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
    for grid_id, patient_id, listed in session.execute(
        select(Membership.grid_id, Membership.patient_id, Patient.conditions)
        .join(Patient, Patient.id == Membership.patient_id)
        .where(Membership.left_at.is_(None))
        .order_by(Membership.grid_id, Membership.seat)
    ).tuples():
        if grid_id not in skip:
            members.setdefault(grid_id, []).append((patient_id, tuple(listed or ())))
    current = now.astimezone(tz).isocalendar()
    weeks = weeks_back(f"{current[0]}-W{current[1]:02d}", HISTORY_WEEKS)
    late = {grid_id for grid_id, _ in grids[::9]}
    reports: list[dict[str, Any]] = []
    readings: list[dict[str, Any]] = []
    attendance: list[dict[str, Any]] = []

    def moment(week: str, weekday: int, hour: int, minute: int) -> datetime:
        day = week_monday(week) + timedelta(days=weekday)
        return datetime.combine(day, time(hour, minute), tzinfo=tz)

    for week in weeks:
        for grid_id, coordinator_id in grids:
            seated = members.get(grid_id)
            if not seated:
                continue
            rate = LATE_GRID_REPORT_RATE if grid_id in late else REPORT_RATE
            if rng.random() < rate:
                at = moment(week, rng.choice((4, 5, 6)), rng.randint(9, 19), rng.randint(0, 59))
                if at <= now:
                    reports.append(_report(grid_id, week, coordinator_id, at))
                    count = min(len(seated), rng.randint(*READINGS_PER_REPORT))
                    for patient_id, conditions in rng.sample(seated, count):
                        readings.append(_reading(rng, grid_id, week, patient_id, conditions, at))
            if rng.random() < ATTENDANCE_RATE:
                at = moment(week, rng.choice((2, 3)), 15, rng.randint(0, 59))
                if at <= now:
                    present = max(1, int(len(seated) * rng.uniform(0.55, 0.95)))
                    attendance.append(
                        {"grid_id": grid_id, "week": week, "headcount": present, "reported_at": at}
                    )
    for model, rows in (
        (WeeklyReport, reports),
        (Reading, readings),
        (ExchangeAttendance, attendance),
    ):
        for start in range(0, len(rows), _BATCH):
            session.execute(insert(model), rows[start : start + _BATCH])
    return len(grids)


def _report(grid_id: int, week: str, coordinator_id: int, at: datetime) -> dict[str, Any]:
    return {
        "grid_id": grid_id,
        "week": week,
        "coordinator_id": coordinator_id,
        "all_stable": True,
        "first_received_at": at,
        "last_received_at": at,
        "revisions": 1,
    }


def _reading(
    rng: random.Random,
    grid_id: int,
    week: str,
    patient_id: int,
    conditions: tuple[str, ...],
    at: datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "patient_id": patient_id,
        "grid_id": grid_id,
        "week": week,
        "reported_at": at,
        "systolic": None,
        "diastolic": None,
        "glucose_mmol": None,
    }
    if "diabetes" in conditions and rng.random() < 0.6:
        row["kind"] = "glucose"
        row["glucose_mmol"] = Decimal(f"{max(4.0, rng.gauss(6.6, 1.4)):.1f}")
    else:
        systolic = int(max(100, rng.gauss(133, 13)))
        row["kind"] = "bp"
        row["systolic"] = systolic
        row["diastolic"] = int(max(60, min(systolic - 25, rng.gauss(85, 8))))
    return row
