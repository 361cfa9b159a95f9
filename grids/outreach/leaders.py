"""Who leads a grid this week: its coordinator, or the deputy (副网格员) standing in.

The deputy stands in while the coordinator is hospitalised, has opted out of SMS, or
has sent nothing (no report, urgent text or exchange change) for two weeks; silence
is counted from his last text, or from the later of the grid's creation and his own
record's last change (a discharge) when that is later. And for a grid that has a
deputy but no coordinator. Report prompts, exchange reminders and the coordinator's share of
notices go to whoever leads (`leads`); the doctor's page shows why (`standing_in`).
The coordinator leads again as soon as none of this holds (a discharge, a text, `开始`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import func, null, select
from sqlalchemy.orm import Session

from grids.core.vocabulary import PatientStatus
from grids.models import ExchangeOverride, Patient, UrgentReport, WeeklyReport
from grids.outreach import NumberStates, people
from grids.storage.id_lists import among, id_batches

SILENT_AFTER = timedelta(weeks=2)


class StandIn(StrEnum):
    """Why the deputy leads (the catalogue has `leaders.stand_in.<value>`)."""

    HOSPITALISED = "hospitalised"
    OPTED_OUT = "opted_out"
    SILENT = "silent"
    NO_COORDINATOR = "no_coordinator"


class GridLeaders(NamedTuple):
    grid_id: int
    coordinator_id: int | None
    deputy_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class CoordinatorState:
    status: str
    opted_out: bool
    last_heard: datetime | None
    changed_at: datetime | None = None
    """When his record last changed (a status change such as a discharge)."""


@dataclass(frozen=True)
class Lead:
    person: people.Person
    stand_in: StandIn | None = None
    """Set when the deputy leads in the coordinator's place."""


def stand_in_reason(
    coordinator: CoordinatorState | None, grid_created: datetime, now: datetime
) -> StandIn | None:
    """Why the deputy should lead now, or None while the coordinator can. Pure."""
    if coordinator is None:
        return StandIn.NO_COORDINATOR
    if coordinator.status == PatientStatus.HOSPITALISED:
        return StandIn.HOSPITALISED
    if coordinator.opted_out:
        return StandIn.OPTED_OUT
    heard = max(
        moment
        for moment in (coordinator.last_heard, coordinator.changed_at, grid_created)
        if moment is not None
    )
    if heard <= now - SILENT_AFTER:
        return StandIn.SILENT
    return None


def _last_heard(session: Session, ids: list[int]) -> dict[int, datetime]:
    heard: dict[int, datetime] = {}
    for part in id_batches(session, ids):
        sources: tuple[tuple[Any, Any], ...] = (
            (WeeklyReport.coordinator_id, WeeklyReport.last_received_at),
            (UrgentReport.reporter_id, UrgentReport.received_at),
            (ExchangeOverride.requested_by_id, ExchangeOverride.created_at),
        )
        for column, when in sources:
            rows = session.execute(
                select(column, func.max(when)).where(among(session, column, part)).group_by(column)
            ).tuples()
            for person_id, at in rows:
                if person_id is not None and at is not None:
                    heard[person_id] = max(heard.get(person_id, at), at)
    return heard


def coordinator_states(
    session: Session, states: NumberStates | None, ids: Iterable[int]
) -> dict[int, CoordinatorState]:
    """What `stand_in_reason` reads of each coordinator; opted out is known only with
    the channel's number `states`."""
    wanted = sorted(set(ids))
    heard = _last_heard(session, wanted)
    found: dict[int, CoordinatorState] = {}
    for part in id_batches(session, wanted):
        if states is None:
            rows = session.execute(
                select(Patient.id, Patient.status, null(), Patient.updated_at).where(
                    among(session, Patient.id, part)
                )
            ).tuples()
        else:
            rows = session.execute(
                select(Patient.id, Patient.status, states.opted_out_at, Patient.updated_at)
                .outerjoin(states.entity, states.phone == Patient.phone)
                .where(among(session, Patient.id, part))
            ).tuples()
        for person_id, status, opted_out, changed in rows:
            found[person_id] = CoordinatorState(
                str(status), opted_out is not None, heard.get(person_id), changed
            )
    return found


def standing_in(
    session: Session,
    grids: Sequence[GridLeaders],
    now: datetime,
    states: NumberStates | None = None,
) -> dict[int, StandIn]:
    """The grids whose deputy leads now, and why (grids without a deputy are left out)."""
    with_deputy = [grid for grid in grids if grid.deputy_id is not None]
    coordinators = coordinator_states(
        session, states, [g.coordinator_id for g in with_deputy if g.coordinator_id]
    )
    found: dict[int, StandIn] = {}
    for grid in with_deputy:
        state = coordinators.get(grid.coordinator_id) if grid.coordinator_id else None
        reason = stand_in_reason(state, grid.created_at, now)
        if reason is not None:
            found[grid.grid_id] = reason
    return found


def leads(
    session: Session,
    states: NumberStates,
    grids: Sequence[GridLeaders],
    now: datetime,
    today: date | None = None,
) -> dict[int, Lead]:
    """Who each grid's coordinator messages go to now: the deputy standing in when he
    can be written to, else the coordinator when he can; with the county's `today`, a
    member paused on that day is not written to. A grid nobody reachable leads is left
    out (the caller counts it as skipped)."""
    reasons = standing_in(session, grids, now, states)
    reachable = people.patients(
        session,
        states,
        [pid for g in grids for pid in (g.coordinator_id, g.deputy_id) if pid is not None],
        today,
    )
    found: dict[int, Lead] = {}
    for grid in grids:
        reason = reasons.get(grid.grid_id)
        deputy = reachable.get(grid.deputy_id) if grid.deputy_id is not None else None
        coordinator = reachable.get(grid.coordinator_id) if grid.coordinator_id else None
        if reason is not None and deputy is not None:
            found[grid.grid_id] = Lead(deputy, reason)
        elif coordinator is not None:
            found[grid.grid_id] = Lead(coordinator)
    return found
