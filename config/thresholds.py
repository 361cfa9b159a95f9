"""The critical-reading thresholds (national urgent-referral values), apart from how the
settings read them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class CriticalThresholds:
    """Readings at or beyond which a member's case opens at once (the national rule for
    urgent referral): either part of the blood pressure, or glucose at or past either
    bound. `ack_hours` is how long the doctor has to acknowledge before the township."""

    systolic: int = 180
    diastolic: int = 110
    glucose_high: Decimal = Decimal("16.7")
    glucose_low: Decimal = Decimal("3.9")
    ack_hours: int = 24

    def bp_critical(self, systolic: int | None, diastolic: int | None) -> bool:
        return (systolic is not None and systolic >= self.systolic) or (
            diastolic is not None and diastolic >= self.diastolic
        )

    def glucose_critical(self, glucose: Decimal | None) -> bool:
        return glucose is not None and (glucose >= self.glucose_high or glucose <= self.glucose_low)
