"""The current week's provisional snapshot, and bringing it up to date (`rollups-refresh`).

Township and county pages read stored rows instead of counting a county per load.
A refresh counts only the grids whose rows changed since the last one
(`grids.rollups.changes`), plus those with an unacknowledged urgent case (their
figures move with the clock), and adds the difference up to their doctor, township
and county from the sums stored with each row (`parts`). Everything is recounted
when no provisional snapshot exists yet, when grids moved (the layout digest
differs), when many grids changed, or after `FULL_EVERY` (a change that slipped
past the marks is never kept for long). Closing the week turns the provisional
rows into its snapshot (`grids.rollups.service.snapshot_week`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from grids.core.collector import collector_paused
from grids.rollups.changes import changed_grids, current_marks, open_case_grids
from grids.rollups.indicators import (
    COUNT_FIELDS,
    DOCTOR_ACK_TIMEOUT_S,
    HIDDEN_SUMS,
    GridPlace,
    Totals,
    UrgentCase,
    indicators,
)
from grids.rollups.models import RollupRefresh, RollupSnapshot
from grids.rollups.period import WeekPeriod, current_week, last_closed_week
from grids.rollups.places import grid_places
from grids.rollups.service import snapshot_week, subject_keys, week_totals

FULL_EVERY = timedelta(hours=6)
"""A full recount at least this often, whatever the marks say."""
FULL_SHARE = 0.2
FULL_ABOVE = 50
"""More changed grids than FULL_SHARE of all of them (and more than FULL_ABOVE): recount
every grid in one statement, quicker than scoping each part of it to that many."""
SUMS = COUNT_FIELDS + HIDDEN_SUMS


@dataclass(frozen=True)
class RefreshOutcome:
    week: str
    full: bool
    grids: int
    """Grids counted by this refresh."""
    written: int
    """Stored rows created or rewritten."""


def layout_of(places: Sequence[GridPlace]) -> str:
    """A digest of where every grid sits: any move, new or retired grid changes it."""
    digest = hashlib.sha256()
    for place in sorted(places, key=lambda p: p.grid_id):
        line = (
            f"{place.grid_id}|{place.grid_code}|{place.doctor_code or ''}|"
            f"{place.township_code or ''}|{place.county_code}\n"
        )
        digest.update(line.encode())
    return digest.hexdigest()


# --- the stored sums ----------------------------------------------------------


def encode(totals: Totals) -> dict[str, Any]:
    """A subject's sums as stored in `parts` (zero counts left out)."""
    return {
        "counts": {name: value for name, value in totals.counts.items() if value},
        "urgent": [
            [
                case.grid_id,
                case.received_at.isoformat(),
                case.acknowledged_at.isoformat() if case.acknowledged_at else None,
                case.acknowledged_by_grid_doctor,
                case.kind,
            ]
            for case in totals.urgent
        ],
    }


def decode(parts: Mapping[str, Any]) -> Totals:
    totals = Totals()
    totals.add(
        parts.get("counts", {}),
        [
            UrgentCase(
                grid_id=int(grid_id),
                received_at=datetime.fromisoformat(received),
                acknowledged_at=datetime.fromisoformat(acknowledged) if acknowledged else None,
                acknowledged_by_grid_doctor=bool(by_doctor),
                kind=kind,
            )
            for grid_id, received, acknowledged, by_doctor, kind in parts.get("urgent", [])
        ],
    )
    return totals


# --- refreshing ---------------------------------------------------------------


def refresh_week(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
    full: bool = False,
) -> RefreshOutcome | None:
    """Bring the provisional snapshot of an open week up to `now`; None for a week that
    is closed or not begun (closed weeks have real snapshots)."""
    if period.closed_at(now) or period.start > now:
        return None
    state = session.scalar(select(RollupRefresh).where(RollupRefresh.week == period.week))
    marks = current_marks(session)  # before counting: what changes meanwhile is seen next time
    places = grid_places(session)
    layout = layout_of(places)
    changed: set[int] | None = None
    if (
        not full
        and state is not None
        and state.layout == layout
        and state.computed_at <= now < state.full_at + FULL_EVERY
    ):
        changed = changed_grids(session, period, state.marks) | open_case_grids(session, period)
        if len(changed) > max(FULL_ABOVE, FULL_SHARE * len(places)):
            changed = None
    outcome = None
    if changed is not None:
        outcome = _incremental(session, period, now, places, changed, doctor_timeout_s)
    if outcome is None:
        outcome = _full(session, period, now, places, doctor_timeout_s)
    if state is None:
        session.add(
            RollupRefresh(
                week=period.week,
                computed_at=now,
                full_at=now,
                layout=layout,
                marks=marks,
                grids=outcome.grids,
            )
        )
    else:
        state.computed_at = now
        state.layout = layout
        state.marks = marks
        state.grids = outcome.grids
        if outcome.full:
            state.full_at = now
    session.flush()
    return outcome


def refresh_rollups(
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
    full: bool = False,
) -> RefreshOutcome | None:
    """The job's work: close last week's provisional snapshot if it is still open, then
    refresh the current week's."""
    last = WeekPeriod(last_closed_week(now, tz), tz)
    if has_provisional(session, last.week):
        snapshot_week(session, last, now, doctor_timeout_s=doctor_timeout_s)
    period = WeekPeriod(current_week(now, tz), tz)
    return refresh_week(session, period, now, doctor_timeout_s=doctor_timeout_s, full=full)


def has_provisional(session: Session, week: str) -> bool:
    return (
        session.scalar(select(RollupRefresh.id).where(RollupRefresh.week == week)) is not None
        or session.scalar(
            select(RollupSnapshot.id)
            .where(RollupSnapshot.week == week, RollupSnapshot.provisional.is_(True))
            .limit(1)
        )
        is not None
    )


def refreshed_at(session: Session, week: str) -> datetime | None:
    """When the provisional snapshot of `week` was last brought up to date."""
    return session.scalar(select(RollupRefresh.computed_at).where(RollupRefresh.week == week))


def _full(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    places: list[GridPlace],
    doctor_timeout_s: int,
) -> RefreshOutcome:
    with collector_paused():  # a province's rollup is a million small records
        _, totals = week_totals(session, period, places)
        written = _write(session, period, now, totals, doctor_timeout_s, complete=True)
    return RefreshOutcome(period.week, True, len(places), written)


def _incremental(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    places: list[GridPlace],
    changed: Collection[int],
    doctor_timeout_s: int,
) -> RefreshOutcome | None:
    """Recount the changed grids and add the difference up; None when the stored sums
    are not there to add to (then the caller recounts everything)."""
    moved = [place for place in places if place.grid_id in changed]
    if not moved:
        return RefreshOutcome(period.week, False, 0, 0)
    ids = [place.grid_id for place in moved]
    _, fresh = week_totals(session, period, moved, ids)
    affected = {key for place in moved for key in subject_keys(place)}
    stored = _stored_parts(session, period.week, affected)
    if set(stored) != affected:
        return None
    totals: dict[tuple[str, str], Totals] = {}
    for key in affected - {("grid", place.grid_code) for place in moved}:
        totals[key] = decode(stored[key])
    changed_ids = set(ids)
    for total in totals.values():
        total.urgent = [case for case in total.urgent if case.grid_id not in changed_ids]
    for place in moved:
        key = ("grid", place.grid_code)
        old, new = decode(stored[key]), fresh[key]
        totals[key] = new
        for ancestor in subject_keys(place)[1:]:
            total = totals[ancestor]
            for name in SUMS:
                total.counts[name] += new.counts[name] - old.counts[name]
            total.urgent.extend(new.urgent)
    written = _write(session, period, now, totals, doctor_timeout_s, complete=False)
    return RefreshOutcome(period.week, False, len(moved), written)


def _stored_parts(
    session: Session, week: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    by_level: dict[str, list[str]] = {}
    for level, code in keys:
        by_level.setdefault(level, []).append(code)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for level, codes in by_level.items():
        rows = session.execute(
            select(RollupSnapshot.code, RollupSnapshot.parts).where(
                RollupSnapshot.week == week,
                RollupSnapshot.level == level,
                RollupSnapshot.code.in_(codes),
                RollupSnapshot.provisional.is_(True),
            )
        )
        for code, parts in rows:
            if parts is not None:
                found[(level, code)] = parts
    return found


def _write(
    session: Session,
    period: WeekPeriod,
    now: datetime,
    totals: Mapping[tuple[str, str], Totals],
    doctor_timeout_s: int,
    *,
    complete: bool,
) -> int:
    """Store these subjects' provisional rows; `complete`: they are all the week has
    (rows of subjects that are gone are removed)."""
    query = select(RollupSnapshot.id, RollupSnapshot.level, RollupSnapshot.code).where(
        RollupSnapshot.week == period.week, RollupSnapshot.provisional.is_(True)
    )
    if not complete:
        levels = {level for level, _ in totals}
        query = query.where(
            RollupSnapshot.level.in_(levels),
            RollupSnapshot.code.in_({code for _, code in totals}),
        )
    existing = {(level, code): row_id for row_id, level, code in session.execute(query)}
    week_end = min(period.end, now)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (level, code), total in totals.items():
        values = indicators(total, week_end=week_end, doctor_timeout_s=doctor_timeout_s)
        row_id = existing.get((level, code))
        if row_id is None:
            inserts.append(
                {
                    "week": period.week,
                    "level": level,
                    "code": code,
                    "indicators": values,
                    "parts": encode(total),
                    "computed_at": now,
                    "first_computed_at": now,
                    "revisions": 1,
                    "provisional": True,
                }
            )
        else:
            updates.append(
                {"id": row_id, "indicators": values, "parts": encode(total), "computed_at": now}
            )
    if complete:
        gone = [row_id for key, row_id in existing.items() if key not in totals]
        if gone:
            session.execute(delete(RollupSnapshot).where(RollupSnapshot.id.in_(gone)))
    if inserts:
        session.execute(insert(RollupSnapshot), inserts)
    if updates:
        session.execute(update(RollupSnapshot), updates)
    return len(inserts) + len(updates)


__all__ = [
    "FULL_EVERY",
    "RefreshOutcome",
    "decode",
    "encode",
    "has_provisional",
    "layout_of",
    "refresh_rollups",
    "refresh_week",
    "refreshed_at",
]
