"""What the periodic outreach services share (exchange reminders, report prompts,
silence nudges): when to write, to whom one may write, and what they return.

A service takes a session, the county's timing, the window it covers and `now`,
and returns an `Outreach`: the `Notice`s to send and what it left out. It never
enqueues: the caller hands the notices to the channel in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import InstrumentedAttribute

from config.settings import QuietHours, Settings
from grids.core.notices import Notice


@dataclass(frozen=True)
class Timing:
    """The settings a service needs about time: the county's zone and quiet hours."""

    tz: ZoneInfo
    quiet_hours: QuietHours

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(settings.tz, settings.quiet_hours)


@dataclass(frozen=True)
class NumberStates:
    """The channel's record of numbers that may not be written to, handed in by the
    caller (`grids` does not import the channel): a mapped class whose `phone` row
    with `opted_out_at` or `invalid_at` set blocks the number."""

    entity: Any
    phone: InstrumentedAttribute[str]
    opted_out_at: InstrumentedAttribute[Any]
    invalid_at: InstrumentedAttribute[Any]


@dataclass
class Outreach:
    notices: list[Notice] = field(default_factory=list)
    missed: int = 0
    """Messages due while nothing ran and no longer useful: not sent."""
    skipped: int = 0
    """Recipients left out: opted out, number invalid, no phone, gone."""
