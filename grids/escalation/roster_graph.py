"""The hierarchy built from the database, once, and again only when the roster changes.

`current_hierarchy(session)` keeps one `Hierarchy` per database engine in this process,
keyed on a roster fingerprint: the count and newest id of `roster_changes`, which
database triggers fill on every change to what the hierarchy reads. An import, a
formation or a reassignment changes the fingerprint and the next caller rebuilds the
graph; every other caller reuses it, and a grid's moved exchange rebuilds nothing.
The escalation path needs facilities, doctors and grids;
`load_hierarchy(..., members=True)` adds the members too (`grids check`, benchmarks).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.vocabulary import DoctorStatus
from grids.escalation.hierarchy import DoctorInfo, FacilityInfo, GridInfo, Hierarchy
from grids.models import Doctor, Facility, Grid, Membership, RosterChange

_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Any, Hierarchy] = weakref.WeakKeyDictionary()
"""Per engine: each application's database has its own."""


# A change's row becomes visible when its transaction commits, not in the order of the
# ids: a later id can commit first, so the count says what the newest id alone cannot.
_FINGERPRINT = select(func.count(), func.max(RosterChange.id)).select_from(RosterChange)


def roster_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever a facility or doctor is added, removed or changed, or a grid is
    added, removed, closed or given another clinic, doctor, coordinator or deputy
    (`RosterChange`, written by triggers); not when a grid's exchange moves."""
    return tuple(session.execute(_FINGERPRINT).one())


_FACILITY_COLUMNS = select(
    Facility.id, Facility.code, Facility.name, Facility.level, Facility.phone, Facility.parent_id
)
_GRID_COLUMNS = select(
    Grid.id,
    Grid.code,
    Grid.facility_id,
    Grid.doctor_id,
    Grid.coordinator_id,
    Grid.closed_at.is_not(None),
    Grid.deputy_id,
)
_DOCTOR_COLUMNS = select(
    Doctor.id,
    Doctor.code,
    Doctor.name,
    Doctor.phone,
    Doctor.facility_id,
    Doctor.language,
    Doctor.status,
)


def _facility_info(row: Any) -> FacilityInfo:
    return FacilityInfo(row.id, row.code, row.name, str(row.level.value), row.phone, row.parent_id)


def _doctor_info(row: Any) -> DoctorInfo:
    return DoctorInfo(
        row.id,
        row.code,
        row.name,
        row.phone,
        row.facility_id,
        row.language,
        row.status == DoctorStatus.ACTIVE,
    )


def load_hierarchy(session: Session, *, members: bool = False, version: object = None) -> Hierarchy:
    facilities = [_facility_info(row) for row in session.execute(_FACILITY_COLUMNS)]
    doctors = [_doctor_info(row) for row in session.execute(_DOCTOR_COLUMNS)]
    grids = [GridInfo(*row) for row in session.execute(_GRID_COLUMNS)]
    pairs: Any = ()
    if members:
        pairs = session.execute(
            select(Membership.grid_id, Membership.patient_id).where(Membership.left_at.is_(None))
        ).tuples()
    return Hierarchy.build(facilities, doctors, grids, pairs, version=version)


def load_hierarchy_around(
    session: Session, *, grid_ids: Collection[int], doctor_ids: Collection[int]
) -> Hierarchy:
    """The part of the hierarchy that a change to these grids and doctors can alter:
    the grids with their members, the doctors with all their grids, every doctor of
    the clinics involved, and the facilities above them. `check_hierarchy` finds in it
    the same problems of these grids, doctors and clinics as in the whole county, in a
    few small queries instead of a million members."""
    grid_ids, doctor_ids = list(grid_ids), list(doctor_ids)
    grid_rows = session.execute(
        _GRID_COLUMNS.where(Grid.id.in_(grid_ids) | Grid.doctor_id.in_(doctor_ids))
    ).all()
    clinics = {row[2] for row in grid_rows}
    clinics |= set(
        session.scalars(select(Doctor.facility_id).where(Doctor.id.in_(doctor_ids))).all()
    )
    doctor_rows = session.execute(
        _DOCTOR_COLUMNS.where(Doctor.id.in_(doctor_ids) | Doctor.facility_id.in_(clinics))
    ).all()
    facilities: list[FacilityInfo] = []
    wanted = clinics | {row.facility_id for row in doctor_rows}
    frontier = set(wanted)
    while frontier:  # one level up at a time: a handful of small queries
        rows = session.execute(_FACILITY_COLUMNS.where(Facility.id.in_(frontier))).all()
        facilities += [_facility_info(row) for row in rows]
        frontier = {row.parent_id for row in rows if row.parent_id is not None} - wanted
        wanted |= frontier
    doctors = [_doctor_info(row) for row in doctor_rows]
    pairs = session.execute(
        select(Membership.grid_id, Membership.patient_id).where(
            Membership.grid_id.in_(grid_ids), Membership.left_at.is_(None)
        )
    ).tuples()
    return Hierarchy.build(facilities, doctors, [GridInfo(*row) for row in grid_rows], pairs)


def current_hierarchy(session: Session) -> Hierarchy:
    """The cached hierarchy of this database, rebuilt when the roster changed."""
    key = session.get_bind().engine
    fingerprint = roster_fingerprint(session)
    cached = _cache.get(key)
    if cached is not None and cached.version == fingerprint:
        return cached
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.version == fingerprint:
            return cached
        built = load_hierarchy(session, version=fingerprint)
        _cache[key] = built
        return built


def forget_hierarchies() -> None:
    """Drop every cached hierarchy."""
    with _lock:
        _cache.clear()
