"""The hierarchy built from the database, once, and again only when the roster changes.

`current_hierarchy(session)` keeps one `Hierarchy` per database engine in this process,
keyed on a roster fingerprint: one aggregate query over facilities, doctors and grids
(counts and latest changes) and the newest audit entry. An import, a formation or a
reassignment changes the fingerprint and the next caller rebuilds the graph; every
other caller reuses it. The escalation path needs facilities, doctors and grids;
`load_hierarchy(..., members=True)` adds the members too (`grids check`, benchmarks).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grids.core.vocabulary import DoctorStatus
from grids.escalation.hierarchy import DoctorInfo, FacilityInfo, GridInfo, Hierarchy
from grids.models import AuditEntry, Doctor, Facility, Grid, Membership

_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Any, Hierarchy] = weakref.WeakKeyDictionary()
"""Per engine: each application's database has its own."""


def roster_fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever a facility, doctor or grid is added, removed or changed."""
    parts = (
        func.count(Facility.id),
        func.max(Facility.updated_at),
        func.count(Doctor.id),
        func.max(Doctor.updated_at),
        func.count(Grid.id),
        func.max(Grid.updated_at),
        func.sum(Grid.version),
        func.max(AuditEntry.id),
    )
    row = session.execute(select(*(select(part).scalar_subquery() for part in parts))).one()
    return tuple(row)


def load_hierarchy(session: Session, *, members: bool = False, version: object = None) -> Hierarchy:
    facilities = [
        FacilityInfo(row.id, row.code, row.name, str(row.level.value), row.phone, row.parent_id)
        for row in session.execute(
            select(
                Facility.id,
                Facility.code,
                Facility.name,
                Facility.level,
                Facility.phone,
                Facility.parent_id,
            )
        )
    ]
    doctors = [
        DoctorInfo(
            row.id,
            row.code,
            row.name,
            row.phone,
            row.facility_id,
            row.language,
            row.status == DoctorStatus.ACTIVE,
        )
        for row in session.execute(
            select(
                Doctor.id,
                Doctor.code,
                Doctor.name,
                Doctor.phone,
                Doctor.facility_id,
                Doctor.language,
                Doctor.status,
            )
        )
    ]
    grids = [
        GridInfo(*row)
        for row in session.execute(
            select(Grid.id, Grid.code, Grid.facility_id, Grid.doctor_id, Grid.coordinator_id)
        )
    ]
    pairs: Any = ()
    if members:
        pairs = session.execute(
            select(Membership.grid_id, Membership.patient_id).where(Membership.left_at.is_(None))
        ).tuples()
    return Hierarchy.build(facilities, doctors, grids, pairs, version=version)


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
