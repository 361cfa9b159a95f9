"""Where each grid sits in the facility tree: its doctor, township centre and county."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from grids.core.vocabulary import FacilityLevel
from grids.models import Doctor, Facility, Grid
from grids.rollups.indicators import GridPlace

TOWNSHIP_LEVELS = (FacilityLevel.TOWNSHIP_CENTER, FacilityLevel.COMMUNITY_CENTER)


def grid_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Grid)) or 0)


def grid_places(
    session: Session, subjects: Collection[tuple[str, str]] | None = None
) -> list[GridPlace]:
    """Every grid with its doctor, township centre and county (the root of its facility tree).

    With `subjects` that are all grids and doctors ((level, code) pairs), only the
    grids they consist of: a doctor's page does not read the whole county's grids."""
    grid_filter: list[ColumnElement[bool]] = []
    if subjects is not None and all(level in ("grid", "doctor") for level, _ in subjects):
        grid_codes = [code for level, code in subjects if level == "grid"]
        doctor_codes = [code for level, code in subjects if level == "doctor"]
        grid_filter.append(or_(Grid.code.in_(grid_codes), Doctor.code.in_(doctor_codes)))
    rows = session.execute(
        select(Grid.id, Grid.code, Grid.facility_id, Doctor.code)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
        .where(*grid_filter)
        .order_by(Grid.code)
    ).all()
    ancestry = _ancestry(_facility_tree(session, {row[2] for row in rows} if grid_filter else None))
    places = []
    for grid_id, grid_code, facility_id, doctor_code in rows:
        township, county = ancestry(facility_id)
        places.append(GridPlace(grid_id, grid_code, doctor_code, township, county))
    return places


def area_doctors(session: Session, under: str) -> list[tuple[str | None, str | None, str]]:
    """(doctor code, township code, county code) of the doctors with grids at or below the
    facility `under`: the township and county pages list their doctors and townships
    without reading the province's every grid."""
    top = select(Facility.id).where(Facility.code == under).cte("subtree", recursive=True)
    subtree_query = top.union_all(select(Facility.id).where(Facility.parent_id == top.c.id))
    subtree = set(session.scalars(select(subtree_query.c.id)))
    if not subtree:
        return []
    rows = session.execute(
        select(Grid.facility_id, Doctor.code)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
        .where(Grid.facility_id.in_(select(subtree_query.c.id)))
        .distinct()
    ).all()
    facilities = _facility_tree(session, {facility_id for facility_id, _ in rows})
    ancestry = _ancestry(facilities)
    return [(doctor_code, *ancestry(facility_id)) for facility_id, doctor_code in rows]


def _ancestry(facilities: dict[int, Any]) -> Any:
    """facility id -> (its township centre's code or None, its root's code), memoised."""
    cache: dict[int, tuple[str | None, str]] = {}

    def ancestry(facility_id: int) -> tuple[str | None, str]:
        if facility_id in cache:
            return cache[facility_id]
        township: str | None = None
        current = facilities[facility_id]
        seen = set()
        while True:
            if township is None and current.level in TOWNSHIP_LEVELS:
                township = current.code
            if current.parent_id is None or current.parent_id in seen:
                cache[facility_id] = (township, current.code)
                return township, current.code
            seen.add(current.id)
            current = facilities[current.parent_id]

    return ancestry


def _facility_tree(session: Session, wanted: set[int] | None) -> dict[int, Any]:
    """Facilities by id: all of them, or only `wanted` and their ancestors (a few
    lookups up the tree, for a page about a few grids)."""
    columns = (Facility.id, Facility.code, Facility.level, Facility.parent_id)
    if wanted is None:
        return {row.id: row for row in session.execute(select(*columns))}
    found: dict[int, Any] = {}
    missing = set(wanted)
    while missing:
        rows = session.execute(select(*columns).where(Facility.id.in_(sorted(missing)))).all()
        found.update((row.id, row) for row in rows)
        missing = {row.parent_id for row in rows if row.parent_id is not None} - set(found)
    return found
