"""A recorded follow-up as JSON (the API's answer and the CLI's `--format json`)."""

from __future__ import annotations

from typing import Any

from grids.followups.service import Recorded


def followup_document(recorded: Recorded) -> dict[str, Any]:
    followup = recorded.followup
    return {
        "id": followup.id,
        "member_code": followup.patient.code,
        "date": followup.visit_date.isoformat(),
        "method": followup.method,
        "bmi": None if followup.bmi is None else str(followup.bmi),
        "classification": followup.classification,
        "next_due": followup.next_due.isoformat(),
        "next_due_reason": followup.next_due_reason,
        "critical_cases": [case.escalation.code for case in recorded.critical.cases],
    }
