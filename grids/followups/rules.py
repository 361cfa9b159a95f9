"""The national follow-up rules (国家基本公共卫生服务规范, 第三版), as plain functions.

- The next follow-up: `controlled` → 3 months; `uncontrolled` or `adverse` → 14 days;
  `complication` or a referral → 14 days; a date the doctor sets wins.
- Standard management (规范管理): at least 4 face-to-face follow-ups in the 12 months,
  counted for members under management the whole 12 months. A follow-up at the grid's
  exchange is face to face; one by phone is not.
- Listed to the township: due and not seen 30 days past the due date.

No Flask, no SQLAlchemy.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from grids.exchanges.planner import ROTA_WEEKS


class Method(StrEnum):
    CLINIC = "clinic"
    HOME = "home"
    PHONE = "phone"
    EXCHANGE = "exchange"


class Classification(StrEnum):
    CONTROLLED = "controlled"
    UNCONTROLLED = "uncontrolled"
    ADVERSE = "adverse"
    COMPLICATION = "complication"


class Adherence(StrEnum):
    REGULAR = "regular"
    INTERMITTENT = "intermittent"
    NONE = "none"


class Hypoglycaemia(StrEnum):
    NONE = "none"
    OCCASIONAL = "occasional"
    FREQUENT = "frequent"


class Salt(StrEnum):
    LIGHT = "light"
    MODERATE = "moderate"
    HEAVY = "heavy"


FACE_TO_FACE = frozenset({Method.CLINIC, Method.HOME, Method.EXCHANGE})
ROUTINE_MONTHS = 3
"""Controlled (or not classified): the next follow-up 3 months on."""
RECHECK_DAYS = 14
"""Uncontrolled, adverse reaction, complication or referral: within 2 weeks."""
STANDARD_A_YEAR = 4
"""Face-to-face follow-ups in 12 months for standard management."""
YEAR_MONTHS = 12
TOWNSHIP_AFTER_DAYS = 30
"""Due and not seen this many days past the due date: the township is told."""
SOON_DAYS = 6
"""A due list covers the follow-ups due by the end of the coming week (today + 6 days)."""
SYMPTOMS = (
    "none",
    "headache",
    "nausea",
    "tinnitus",
    "dyspnoea",
    "palpitation",
    "nosebleed",
    "numbness",
    "oedema",
    "thirst",
    "polyuria",
    "weight_loss",
    "blurred_vision",
    "infection",
)
"""The tick list of the national records (高血压 and 2型糖尿病随访服务记录表)."""


class Reason(StrEnum):
    """Why a member is due: the rule behind the due date."""

    FIRST = "first"
    ROUTINE = "routine"
    RECHECK = "recheck"
    REFERRAL = "referral"
    SET = "set"


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clipped to the month's last day (30 Nov + 3 → 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rule_reason(classification: Classification | None, referred: bool) -> Reason:
    if referred:
        return Reason.REFERRAL
    if classification in (
        Classification.UNCONTROLLED,
        Classification.ADVERSE,
        Classification.COMPLICATION,
    ):
        return Reason.RECHECK
    return Reason.ROUTINE


def next_due(visit: date, classification: Classification | None, *, referred: bool) -> date:
    """The next follow-up by the national rule."""
    if rule_reason(classification, referred) is Reason.ROUTINE:
        return add_months(visit, ROUTINE_MONTHS)
    return visit + timedelta(days=RECHECK_DAYS)


def first_due(joined: date) -> date:
    """A member never followed up: due 3 months after joining."""
    return add_months(joined, ROUTINE_MONTHS)


def bmi(weight_kg: Decimal | None, height_cm: Decimal | None) -> Decimal | None:
    """kg/m², one decimal; None unless both are known."""
    if weight_kg is None or not height_cm:
        return None
    metres = height_cm / 100
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def is_face_to_face(method: str) -> bool:
    return method in FACE_TO_FACE


@dataclass(frozen=True)
class Visit:
    day: date
    method: str


def year_window(end: date) -> tuple[date, date]:
    """The 12 months ending with `end`: (first day, last day), both included."""
    return add_months(end, -YEAR_MONTHS) + timedelta(days=1), end


def face_to_face_count(visits: Iterable[Visit], start: date, end: date) -> int:
    return sum(1 for v in visits if start <= v.day <= end and is_face_to_face(v.method))


def managed_whole_year(joined: date, end: date) -> bool:
    """Under management the whole 12 months ending with `end`."""
    return joined <= year_window(end)[0]


def standard_managed(visits: Iterable[Visit], joined: date, end: date) -> bool | None:
    """At least 4 face-to-face follow-ups in the 12 months ending with `end`; None when
    the member is not in the denominator (joined within the 12 months)."""
    if not managed_whole_year(joined, end):
        return None
    start, end = year_window(end)
    return face_to_face_count(visits, start, end) >= STANDARD_A_YEAR


def days_overdue(due: date, today: date) -> int:
    """Days past the due date; negative: days still to go."""
    return (today - due).days


def in_due_list(due: date, today: date) -> bool:
    return due <= today + timedelta(days=SOON_DAYS)


def for_township(due: date, today: date) -> bool:
    return days_overdue(due, today) >= TOWNSHIP_AFTER_DAYS


COLOUR_ORDER = {"red": 0, "yellow": 1, "green": 2}


def rank_key(colour: str, overdue: int, code: str) -> tuple[int, int, str]:
    """Red first, then the most days overdue, then the member code."""
    return COLOUR_ORDER.get(colour, 3), -overdue, code


_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


def quarter_bounds(raw: str) -> tuple[date, date]:
    """`2027-Q1` → (2027-01-01, 2027-03-31); ValueError otherwise."""
    match = _QUARTER.fullmatch(raw.strip())
    if not match:
        raise ValueError(raw)
    year, quarter = int(match[1]), int(match[2])
    start = date(year, 3 * quarter - 2, 1)
    return start, add_months(start, 3) - timedelta(days=1)


def quarter_of(day: date) -> str:
    """`2027-Q1` for any day of January to March 2027."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


_BP = re.compile(r"\s*(\d{2,3})\s*/\s*(\d{2,3})\s*")


def parse_bp(raw: str) -> tuple[int, int]:
    """`150/95` → (150, 95); ValueError unless systolic > diastolic, both plausible."""
    match = _BP.fullmatch(raw)
    if not match:
        raise ValueError(raw)
    systolic, diastolic = int(match[1]), int(match[2])
    if not (60 <= systolic <= 300 and 30 <= diastolic <= 200 and systolic > diastolic):
        raise ValueError(raw)
    return systolic, diastolic


def before_next_visit(due: date, visit_day: date) -> bool:
    """Due before the doctor's next rota visit to the grid (ROTA_WEEKS on): seen at this one."""
    return due < visit_day + timedelta(weeks=ROTA_WEEKS)


def seat_list(seats: Iterable[int], room: int, *, separator: str = "、", more: str = "等") -> str:
    """`3、5、8` in at most `room` characters; seats that do not fit end in `more`."""
    ordered = [str(seat) for seat in sorted(seats)]
    text = separator.join(ordered)
    while len(text) > room and ordered:
        ordered.pop()
        text = separator.join(ordered) + more
    return text
