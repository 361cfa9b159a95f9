"""An escalation's state as the ladder's rules see it, apart from how it is stored.

The rules (`service.advance` and the steps it takes) read and change a `Case`: the
`Escalation` row satisfies it, and so does `CaseRow`, the plain copy the tick reads
with one query per batch and writes back with one statement per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Case(Protocol):
    """What the ladder's rules read and change on an escalation."""

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

    def snapshot(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in STATE_FIELDS)
