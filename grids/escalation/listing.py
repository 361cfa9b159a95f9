"""Escalations as plain documents, for `escalations list` and `GET /api/v1/escalations`.

Phone numbers are masked (`+86139****5678`); names of those who acknowledged stay.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.logging import mask_phone
from grids.escalation.models import Escalation, EscalationEvent, EscalationState
from grids.models import Grid

LIST_LIMIT = 500


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def escalation_items(
    session: Session,
    *,
    open_only: bool = False,
    code: str | None = None,
    limit: int = LIST_LIMIT,
) -> list[dict[str, Any]]:
    """Newest first: each escalation with its timeline, oldest event first."""
    query = (
        select(Escalation, Grid.code)
        .outerjoin(Grid, Grid.id == Escalation.grid_id)
        .order_by(Escalation.opened_at.desc(), Escalation.id.desc())
        .limit(limit)
    )
    if open_only:
        query = query.where(Escalation.state == EscalationState.OPEN)
    if code is not None:
        query = query.where(Escalation.code == code)
    cases = session.execute(query).all()
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ids = [case.id for case, _ in cases]
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.escalation_id.in_(ids[start : start + 500]))
            .order_by(EscalationEvent.at, EscalationEvent.id)
        )
        for row in rows:
            events[row.escalation_id].append(
                {
                    "at": _iso(row.at),
                    "kind": row.kind,
                    "step": row.step,
                    "recipient": mask_phone(row.recipient) if row.recipient else None,
                    "channel": row.channel,
                    "detail": row.detail,
                }
            )
    return [
        {
            "code": case.code,
            "grid_code": grid_code,
            "seat": case.seat,
            "opened_at": _iso(case.opened_at),
            "state": case.state,
            "kind": case.kind,
            "acknowledged_by": case.acknowledged_by,
            "acknowledged_at": _iso(case.acknowledged_at),
            "outcome": case.outcome,
            "closed_at": _iso(case.closed_at),
            "followup_due": case.followup_due.isoformat() if case.followup_due else None,
            "followup_outcome": case.followup_outcome,
            "events": events.get(case.id, []),
        }
        for case, grid_code in cases
    ]
