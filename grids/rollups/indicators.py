"""The weekly indicators: every definition's thresholds and the rollup arithmetic, in one place.

Plain data and functions (no Flask, no SQLAlchemy). The SQL in `queries.py`
counts members per grid with the constants below; this module adds grid
counts up to doctors, townships and the county, and builds the document of
DESIGN §5. docs/indicators.md explains each definition with a worked example.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

# --- definitions -------------------------------------------------------------

HYPERTENSION = "hypertension"
DIABETES = "diabetes"
CONTROL_WINDOW_WEEKS = 13
"""'3 months': the 13 ISO weeks ending with the week (W-12 .. W)."""
NO_NEWS_WEEKS = 2
"""No news for 2+ weeks: nothing heard of the member in the week and the week before."""
LOST_TO_FOLLOW_UP_WEEKS = 52
"""Lost to follow-up: nothing heard of the member in the 52 weeks ending with the week."""
RED_URGENT_WEEKS = 4
"""Red: an urgent report about the member in the 4 weeks ending with the week."""
BP_CONTROLLED_BELOW = (140, 90)
"""Controlled: systolic below 140 and diastolic below 90 (140/85 and 135/90 are not)."""
BP_CRISIS_AT = (180, 110)
"""Red: systolic at or above 180, or diastolic at or above 110."""
GLUCOSE_CONTROLLED_BELOW = 7.0
"""mmol/L, fasting (a glucose value in a coordinator's report is taken as fasting)."""
GLUCOSE_CRISIS_AT = 16.7
"""mmol/L: red at or above."""
DOCTOR_ACK_TIMEOUT_S = 600
"""Past the village doctor: not acknowledged by the grid's doctor within the ladder's
first step. Callers pass the county's ESCALATION_TIMEOUTS doctor= minutes
(`grids.rollups.service.doctor_timeout_of`); this is the setting's default, 10 minutes."""
OUTCOME_WEEKS = 52
"""Deaths and the average age at death cover the 52 weeks ending with the week."""

LEVELS = ("grid", "doctor", "township", "county")

# Per-member 0/1 columns, summed by SQL per grid (grids.rollups.queries.member_status).
REPORT_COUNTS = ("members_stable", "members_with_reading", "members_flagged", "members_no_news_2w")
CONTROL_COUNTS = (
    "htn_denominator",
    "bp_controlled",
    "bp_uncontrolled",
    "bp_missed",
    "lost_to_follow_up",
    "dm_denominator",
    "glucose_controlled",
    "glucose_uncontrolled",
    "glucose_missed",
)
COLOUR_COUNTS = ("red", "yellow", "green")
MEMBER_COUNTS = REPORT_COUNTS + CONTROL_COUNTS + COLOUR_COUNTS

GRID_COUNTS = ("members", "grids", "grids_reported")
EXCHANGE_COUNTS = ("exchanges_held", "attendance")
OUTCOME_COUNTS = ("hospitalisations", "deaths")
URGENT_FIELDS = (
    "urgent",
    "urgent_ack_median_s",
    "urgent_ack_max_s",
    "urgent_past_doctor",
    "urgent_open",
)

CRITICAL_FIELDS = ("critical", "critical_ack_median_s")
CASE_OUTCOMES = ("home", "referred", "admitted", "died", "false")
"""How a case ended (`outcomes` counts the cases closed in the week by these)."""
FOLLOWUP_COUNTS = ("referral_followups_due", "referral_followups_done")
"""Referral follow-ups whose day (14 days after the close) falls in the week, and those
recorded in the week."""
NATIONAL_FOLLOWUP_COUNTS = (
    "followups_done",
    "followups_overdue",
    "standard_managed",
    "standard_managed_denominator",
    "followup_bp_controlled",
    "followup_glucose_controlled",
)
"""The national basic public-health follow-ups (grids.followups; docs/indicators.md)."""

# Counts summed from grids up to every level, in the document's order.
COUNT_FIELDS: tuple[str, ...] = (
    *GRID_COUNTS,
    *REPORT_COUNTS,
    *CONTROL_COUNTS,
    *EXCHANGE_COUNTS,
    *COLOUR_COUNTS,
    *OUTCOME_COUNTS,
    *FOLLOWUP_COUNTS,
    *NATIONAL_FOLLOWUP_COUNTS,
)
OUTCOME_SUMS = tuple(f"outcome_{outcome}" for outcome in CASE_OUTCOMES)
# Internal sums behind the averages and the `outcomes` object; not in the document.
HIDDEN_SUMS = ("death_age_sum", "deaths_with_age", *OUTCOME_SUMS)

# The document's fields, in DESIGN's order.
INDICATOR_FIELDS: tuple[str, ...] = (
    *GRID_COUNTS,
    *REPORT_COUNTS,
    *CONTROL_COUNTS,
    *EXCHANGE_COUNTS,
    *URGENT_FIELDS,
    *COLOUR_COUNTS,
    *OUTCOME_COUNTS,
    "avg_age_at_death",
    *CRITICAL_FIELDS,
    "outcomes",
    *FOLLOWUP_COUNTS,
    *NATIONAL_FOLLOWUP_COUNTS,
)


@dataclass(frozen=True)
class UrgentCase:
    """One urgent report received in the week, with when (if ever) it was acknowledged."""

    grid_id: int
    received_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_grid_doctor: bool
    kind: str = "urgent"
    """`urgent` (急) or `critical` (a reading at the national thresholds)."""

    def ack_seconds(self) -> int | None:
        if self.acknowledged_at is None:
            return None
        return max(0, int((self.acknowledged_at - self.received_at).total_seconds()))

    def open_at(self, moment: datetime) -> bool:
        return self.acknowledged_at is None or self.acknowledged_at > moment

    def past_doctor(self, doctor_timeout_s: int, moment: datetime) -> bool:
        """Climbed past the village doctor: not acknowledged by the grid's doctor in time."""
        seconds = self.ack_seconds()
        if seconds is None:
            return (moment - self.received_at).total_seconds() > doctor_timeout_s
        return seconds > doctor_timeout_s or not self.acknowledged_by_grid_doctor


@dataclass
class Totals:
    """Additive counts of a set of grids, plus their urgent cases."""

    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(COUNT_FIELDS + HIDDEN_SUMS, 0)
    )
    urgent: list[UrgentCase] = field(default_factory=list)

    def add(self, counts: Mapping[str, int], urgent: Iterable[UrgentCase] = ()) -> None:
        for name in COUNT_FIELDS + HIDDEN_SUMS:
            self.counts[name] += int(counts.get(name) or 0)
        self.urgent.extend(urgent)

    def merge(self, other: Totals) -> None:
        self.add(other.counts, other.urgent)


def indicators(totals: Totals, *, week_end: datetime, doctor_timeout_s: int) -> dict[str, Any]:
    """The `indicators` object of the document: counts, and medians from the cases."""
    counts = totals.counts
    cases = [case for case in totals.urgent if case.kind == "urgent"]
    critical = [case for case in totals.urgent if case.kind == "critical"]
    with_age = counts["deaths_with_age"]
    values: dict[str, Any] = dict(counts)
    values["avg_age_at_death"] = round(counts["death_age_sum"] / with_age, 1) if with_age else None
    if cases:
        seconds = [s for s in (case.ack_seconds() for case in cases) if s is not None]
        values.update(
            urgent=len(cases),
            urgent_ack_median_s=int(median(seconds)) if seconds else None,
            urgent_ack_max_s=max(seconds) if seconds else None,
            urgent_past_doctor=sum(
                1 for case in cases if case.past_doctor(doctor_timeout_s, week_end)
            ),
            urgent_open=sum(1 for case in cases if case.open_at(week_end)),
        )
    else:
        values.update(NO_URGENT)
    critical_seconds = [s for s in (case.ack_seconds() for case in critical) if s is not None]
    values["critical"] = len(critical)
    values["critical_ack_median_s"] = int(median(critical_seconds)) if critical_seconds else None
    values["outcomes"] = {outcome: counts[f"outcome_{outcome}"] for outcome in CASE_OUTCOMES}
    return {name: values[name] for name in INDICATOR_FIELDS}


NO_URGENT: dict[str, Any] = {
    "urgent": 0,
    "urgent_ack_median_s": None,
    "urgent_ack_max_s": None,
    "urgent_past_doctor": 0,
    "urgent_open": 0,
}


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """A percentage for pages (documents hold counts only); None when there is nothing to divide."""
    if not denominator or numerator is None:
        return None
    return round(100.0 * numerator / denominator, 1)


def document(
    level: str,
    code: str,
    week: str,
    *,
    as_of: datetime,
    provisional: bool,
    revised: bool,
    values: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "level": level,
        "code": code,
        "week": week,
        "as_of": as_of.isoformat(),
        "provisional": provisional,
        "revised": revised,
        # A snapshot stored before a field was added has none: null, not a guess.
        "indicators": {name: values.get(name) for name in INDICATOR_FIELDS},
    }


# --- the hierarchy ------------------------------------------------------------


@dataclass(frozen=True)
class GridPlace:
    """Where a grid sits: its doctor, township centre and county (codes)."""

    grid_id: int
    grid_code: str
    doctor_code: str | None
    township_code: str | None
    county_code: str


def roll_up(
    places: Sequence[GridPlace],
    grid_counts: Mapping[int, Mapping[str, int]],
    urgent: Iterable[UrgentCase],
) -> dict[tuple[str, str], Totals]:
    """Totals for every (level, code): grids, doctors, townships, counties; every
    subject of `places` has one, with zeros when it has nothing to count.

    Each grid's counts become one row of numbers; each subject's totals are the
    column sums of its grids' rows (tens of thousands of grids in a county)."""
    names = COUNT_FIELDS + HIDDEN_SUMS
    cases: dict[int, list[UrgentCase]] = {}
    for case in urgent:
        cases.setdefault(case.grid_id, []).append(case)
    rows: dict[tuple[str, str], list[tuple[int, ...]]] = {}
    subject_cases: dict[tuple[str, str], list[UrgentCase]] = {}
    zeros = (0,) * len(names)
    for place in places:
        counts = grid_counts.get(place.grid_id)
        # A grid's counts are ints (`queries.grid_counts`); a name it lacks counts 0.
        row = tuple(map(counts.get, names, zeros)) if counts else zeros
        grid_cases = cases.get(place.grid_id, ())
        keys = [("grid", place.grid_code), ("county", place.county_code)]
        if place.doctor_code:
            keys.append(("doctor", place.doctor_code))
        if place.township_code:
            keys.append(("township", place.township_code))
        for key in keys:
            rows.setdefault(key, []).append(row)
            if grid_cases:
                subject_cases.setdefault(key, []).extend(grid_cases)
    return {
        key: Totals(
            # A grid's totals are its own row (most subjects are grids).
            counts=dict(
                zip(
                    names,
                    grid_rows[0]
                    if len(grid_rows) == 1
                    else [sum(column) for column in zip(*grid_rows, strict=True)],
                    strict=True,
                )
            ),
            urgent=subject_cases.get(key, []),
        )
        for key, grid_rows in rows.items()
    }
