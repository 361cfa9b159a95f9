"""An escalation's state as the ladder's rules see it, apart from how it is stored.

The rules (`grids.escalation.climb`) read a `CaseRow`, a plain copy of an escalation,
and return a changed copy with the notices and timeline entries the change makes. The
tick reads a batch of `CaseRow`s with one query and writes them back with one
statement; the services copy an `Escalation` row in (`CaseRow.of`) and back (`copy_to`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class EscalationState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class CaseKind(StrEnum):
    URGENT = "urgent"
    CRITICAL = "critical"


class CaseOutcome(StrEnum):
    """How a case ended, closed by whoever may acknowledge it."""

    HOME = "home"
    REFERRED = "referred"
    ADMITTED = "admitted"
    DIED = "died"
    FALSE = "false"


FOLLOWED_UP = frozenset({CaseOutcome.REFERRED, CaseOutcome.ADMITTED})
"""Outcomes whose member is followed up 14 days after the close."""


class FollowupResult(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    ADMITTED = "admitted"
    DIED = "died"


class EventKind(StrEnum):
    OPENED = "opened"
    NOTIFIED = "notified"
    DELIVERED = "delivered"
    FAILED = "failed"
    CALLED = "called"
    KEYPRESS = "keypress"
    ACKNOWLEDGED = "acknowledged"
    MERGED = "merged"
    ESCALATED = "escalated"
    CLOSED = "closed"
    REMINDED = "reminded"
    FOLLOWUP_DUE = "followup_due"
    FOLLOWED_UP = "followed_up"


class Case(Protocol):
    """What the ladder's rules read and change on an escalation (the row satisfies it)."""

    id: int
    state: str
    patient_id: int | None
    params: dict[str, Any]
    step: int
    round: int
    step_started_at: datetime
    next_step_at: datetime | None
    called: bool
    duty_alerted_round: int
    deliveries: dict[str, Any]
    updated_at: datetime
    token: int


STATE_FIELDS = (
    "step",
    "round",
    "step_started_at",
    "next_step_at",
    "called",
    "duty_alerted_round",
    "deliveries",
    "updated_at",
)
"""What taking a step may change (the tick writes these back)."""


@dataclass(slots=True)
class CaseRow:
    """An open escalation read as a plain row; `token` is its version when read."""

    id: int
    state: str
    patient_id: int | None
    params: dict[str, Any]
    step: int
    round: int
    step_started_at: datetime
    next_step_at: datetime | None
    called: bool
    duty_alerted_round: int
    deliveries: dict[str, Any]
    updated_at: datetime
    token: int

    @classmethod
    def of(cls, case: Case) -> CaseRow:
        """A plain copy of `case` (an `Escalation` row)."""
        return cls(
            id=case.id,
            state=case.state,
            patient_id=case.patient_id,
            params=dict(case.params or {}),
            step=case.step,
            round=case.round,
            step_started_at=case.step_started_at,
            next_step_at=case.next_step_at,
            called=bool(case.called),
            duty_alerted_round=case.duty_alerted_round or 0,
            deliveries=dict(case.deliveries or {}),
            updated_at=case.updated_at,
            token=case.token,
        )

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in STATE_FIELDS)

    def copy_to(self, case: Case) -> None:
        """Write the state fields that differ back onto `case` (an `Escalation` row)."""
        for name in STATE_FIELDS:
            value = getattr(self, name)
            if getattr(case, name) != value:
                setattr(case, name, value)
