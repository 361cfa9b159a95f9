"""The hierarchy built from the database, once, and again only when the roster changes.

`current_hierarchy(session)` keeps one `Hierarchy` per database engine in this process,
keyed on a roster fingerprint: the count and newest id of `roster_changes`, which
database triggers fill on every change to what the hierarchy reads. An import, a
formation or a reassignment changes the fingerprint and the graph is rebuilt; a grid's
moved exchange rebuilds nothing. The escalation path needs facilities, doctors and
grids; `load_hierarchy(..., members=True)` adds the members too (`grids check`,
benchmarks).

An urgent case never waits for the rebuild, which takes seconds for a province:
`hierarchy_for_ladder` gives it the cached graph when that is current, and otherwise
the few rows its ladder reads, while a thread of this process rebuilds the whole graph.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from grids.core.collector import collector_paused
from grids.core.vocabulary import DoctorStatus
from grids.escalation.hierarchy import DoctorInfo, FacilityInfo, GridInfo, Hierarchy
from grids.models import Doctor, Facility, Grid, Membership, RosterChange
from grids.storage.background import start_once, wait_for_background

log = logging.getLogger(__name__)

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
    # The collector would otherwise run full collections over the growing heap while the
    # rows arrive, each one holding up every thread of the process (the requests beside
    # a rebuild) for a tenth of a second or more at a province's scale.
    with collector_paused():
        facilities = [_facility_info(row) for row in session.execute(_FACILITY_COLUMNS)]
        doctors = [_doctor_info(row) for row in session.execute(_DOCTOR_COLUMNS)]
        grids = [GridInfo(*row) for row in session.execute(_GRID_COLUMNS)]
        pairs: Any = ()
        if members:
            pairs = session.execute(
                select(Membership.grid_id, Membership.patient_id).where(
                    Membership.left_at.is_(None)
                )
            ).tuples()
        return Hierarchy.build(facilities, doctors, grids, pairs, version=version)


def _facilities_and_above(session: Session, facility_ids: Collection[int]) -> list[FacilityInfo]:
    """These facilities and every facility above them, in one query (UNION stops at a
    cycle, which building the hierarchy then refuses)."""
    start = select(Facility.id, Facility.parent_id).where(Facility.id.in_(list(facility_ids)))
    chain = start.cte("chain", recursive=True)
    chain = chain.union(
        select(Facility.id, Facility.parent_id).join(chain, Facility.id == chain.c.parent_id)
    )
    up = _FACILITY_COLUMNS.where(Facility.id.in_(select(chain.c.id)))
    return [_facility_info(row) for row in session.execute(up)]


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
    facilities = _facilities_and_above(session, clinics | {row.facility_id for row in doctor_rows})
    doctors = [_doctor_info(row) for row in doctor_rows]
    pairs = session.execute(
        select(Membership.grid_id, Membership.patient_id).where(
            Membership.grid_id.in_(grid_ids), Membership.left_at.is_(None)
        )
    ).tuples()
    return Hierarchy.build(facilities, doctors, [GridInfo(*row) for row in grid_rows], pairs)


def load_ladder_hierarchy(
    session: Session, *, grid_id: int | None, facility_id: int | None
) -> Hierarchy:
    """What `build_ladder` reads for one grid (or, for a patient in no grid, one
    facility): the grid, its doctor, every doctor of the clinic and the facilities above
    it. Four small queries, whatever the size of the roster."""
    grids = (
        [GridInfo(*row) for row in session.execute(_GRID_COLUMNS.where(Grid.id == grid_id))]
        if grid_id is not None
        else []
    )
    doctors: list[DoctorInfo] = []
    clinic_id = facility_id
    if grids:
        clinic_id = grids[0].facility_id
        if grids[0].doctor_id is not None:
            own = _DOCTOR_COLUMNS.where(Doctor.id == grids[0].doctor_id)
            doctors = [_doctor_info(row) for row in session.execute(own)]
            clinic_id = doctors[0].facility_id if doctors else clinic_id
    facilities: list[FacilityInfo] = []
    if clinic_id is not None:
        colleagues = _DOCTOR_COLUMNS.where(
            Doctor.facility_id == clinic_id, Doctor.id.not_in([doctor.id for doctor in doctors])
        )
        doctors += [_doctor_info(row) for row in session.execute(colleagues)]
        facilities = _facilities_and_above(session, {clinic_id})
    return Hierarchy.build(facilities, doctors, grids)


def _cached(session: Session) -> tuple[Engine, tuple[Any, ...], Hierarchy | None]:
    """The session's engine, the roster's fingerprint, and the engine's cached hierarchy
    if it was built from that roster."""
    engine = session.get_bind().engine
    fingerprint = roster_fingerprint(session)
    cached = _cache.get(engine)
    current = cached is not None and cached.version == fingerprint
    return engine, fingerprint, cached if current else None


def hierarchy_for_ladder(
    session: Session, *, grid_id: int | None, facility_id: int | None
) -> Hierarchy:
    """The hierarchy to build the ladder of `grid_id` (or `facility_id`) from: the cached
    one while the roster is unchanged since it was built; otherwise the part that ladder
    reads (`load_ladder_hierarchy`), and the whole graph is rebuilt by a thread of this
    process once the session's transaction ends, off the path of the message that
    asked."""
    engine, _fingerprint, cached = _cached(session)
    if cached is not None:
        return cached
    _rebuild_when_transaction_ends(session, engine)
    return load_ladder_hierarchy(session, grid_id=grid_id, facility_id=facility_id)


_PENDING = "hierarchy_rebuilds"
_REBUILD_THREAD = "hierarchy-rebuild"


def _rebuild_when_transaction_ends(session: Session, engine: Engine) -> None:
    """A rebuild running beside the case would hold the interpreter's lock while the case
    waits on each of its statements, making it several times slower."""
    if not session.in_transaction():
        rebuild_in_background(engine)
        return
    if _PENDING not in session.info:
        session.info[_PENDING] = set()
        event.listen(session, "after_transaction_end", _start_pending_rebuilds)
    session.info[_PENDING].add(engine)


def _start_pending_rebuilds(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint
        return
    pending = session.info.get(_PENDING) or set()
    while pending:
        rebuild_in_background(pending.pop())


def rebuild_in_background(engine: Engine) -> None:
    """Rebuild the cached hierarchy of `engine` in a thread, unless one is at it."""
    start_once(engine, _REBUILD_THREAD, _rebuild)


def _rebuild(engine: Engine) -> None:
    try:
        with Session(engine) as session:
            current_hierarchy(session)
    except Exception:
        # Ladders keep reading their few rows from the roster; the next case retries.
        log.warning("could not rebuild the escalation hierarchy", exc_info=True)


def wait_for_rebuilds(timeout: float | None = None) -> None:
    """Wait until no hierarchy is being rebuilt (tests, benchmarks)."""
    wait_for_background(None, timeout)


def current_hierarchy(session: Session) -> Hierarchy:
    """The cached hierarchy of this database, rebuilt here and now when the roster
    changed."""
    key, fingerprint, cached = _cached(session)
    if cached is not None:
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
