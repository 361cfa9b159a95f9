"""An escalation's state as the ladder's rules see it, apart from how it is stored.

The rules (`grids.escalation.climb`) read a `CaseRow`, a plain copy of an escalation,
and return a changed copy with the notices and timeline entries the change makes. The
tick reads a batch of `CaseRow`s with one query and writes them back with one
statement; the services copy an `Escalation` row in (`CaseRow.of`) and back (`copy_to`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


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
    def of(cls, case: object) -> CaseRow:
        """A plain copy of `case`: an `Escalation` row, which has every field of a `CaseRow`."""
        row = cls(**{field.name: getattr(case, field.name) for field in fields(cls)})
        row.params = dict(row.params or {})
        row.called = bool(row.called)
        row.duty_alerted_round = row.duty_alerted_round or 0
        row.deliveries = dict(row.deliveries or {})
        return row

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in STATE_FIELDS)

    def copy_to(self, case: object) -> None:
        """Write the state fields that differ back onto `case` (an `Escalation` row)."""
        for name in STATE_FIELDS:
            value = getattr(self, name)
            if getattr(case, name) != value:
                setattr(case, name, value)
