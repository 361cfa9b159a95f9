"""Why a report is refused: each error says what was wrong; the SMS channel corrects the sender."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

# --- errors: each says what was wrong; the SMS channel turns it into a correction ---


class ReportRefused(Exception):
    """What was sent cannot be applied; nothing was written."""


class UnknownSeats(ReportRefused):
    def __init__(self, seats: Sequence[int], occupied: Sequence[int]) -> None:
        super().__init__(f"no member in seat(s) {list(seats)}; occupied: {list(occupied)}")
        self.seats = tuple(seats)
        self.occupied = tuple(occupied)


class ImplausibleReading(ReportRefused):
    def __init__(self, seat: int, kind: str, value: str) -> None:
        super().__init__(f"seat {seat}: {kind} {value} is not a plausible reading")
        self.seat = seat
        self.kind = kind
        self.value = value


class HeadcountTooLarge(ReportRefused):
    def __init__(self, headcount: int, members: int) -> None:
        super().__init__(f"headcount {headcount} exceeds the grid's {members} members")
        self.headcount = headcount
        self.members = members


class ExchangeTimeRefused(ReportRefused):
    """`reason` is `past` (the time has gone), `not_this_week`, `quiet_hours` or
    `venue_taken` (`clash` names the grid already there)."""

    def __init__(self, reason: str, starts_at: datetime, clash: str | None = None) -> None:
        super().__init__(
            f"cannot move this week's exchange to {starts_at:%Y-%m-%d %H:%M}: {reason}"
        )
        self.reason = reason
        self.starts_at = starts_at
        self.clash = clash
