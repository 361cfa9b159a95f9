"""The weekly exchange planner: plain data in, plain data out, no database.

`plan` gives every grid without a standing slot a weekday and a start time at
its venue, and the village doctors a visit rota:

- no venue holds two exchanges at overlapping times;
- a coordinator's preferred weekdays are the only days tried when given;
- evenings first (`EVENING`, 19:00); when a venue's evenings are full, earlier
  starts down to `DAY_START`, never inside the quiet hours (an exchange ends
  before they begin);
- each doctor visits each of their grids once in every `ROTA_WEEKS` weeks,
  never two exchanges in the same half-day of the same week.

A grid that cannot be placed is listed with the reason. The same checks serve a
single slot set by an administrator or moved by a coordinator (`slot_problem`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import time
from functools import partial

EVENING = time(19, 0)
DAY_START = time(8, 0)
DEFAULT_MINUTES = 60
ROTA_WEEKS = 4
NOON = 12 * 60


def minute_of(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def half_day(start_minute: int) -> str:
    """`am` before noon, `pm` from noon: a doctor attends one exchange per half-day."""
    return "am" if start_minute < NOON else "pm"


@dataclass(frozen=True)
class QuietWindow:
    """The quiet hours as minutes of the day; `start == end` means none."""

    start: int
    end: int

    @classmethod
    def of(cls, start: time, end: time) -> QuietWindow:
        return cls(minute_of(start), minute_of(end))

    def overlaps(self, begin: int, finish: int) -> bool:
        """Whether [begin, finish) (minutes of one day, finish <= 1440) touches quiet time."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return begin < self.end and self.start < finish
        return finish > self.start or begin < self.end


@dataclass(frozen=True)
class GridToPlace:
    code: str
    venue: str
    """A key naming the place: two grids with the same venue may not overlap."""
    doctor_code: str | None = None
    minutes: int = DEFAULT_MINUTES
    preferred_weekdays: tuple[int, ...] = ()
    weekday: int | None = None
    start: time | None = None
    """A standing slot already held; such a grid only takes part in the rota."""


@dataclass(frozen=True)
class Slot:
    grid_code: str
    weekday: int
    start: str
    minutes: int
    venue: str

    @property
    def start_minute(self) -> int:
        hours, minutes = self.start.split(":")
        return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Visit:
    doctor_code: str
    week: int
    """1 .. ROTA_WEEKS: the week of the rota cycle (see `rota_week`)."""
    grid_code: str


@dataclass(frozen=True)
class Unplaced:
    grid_code: str
    reason: str
    """`no_free_slot`, `preferred_days_full`, `too_long` or `doctor_rota_full`."""


@dataclass
class Plan:
    slots: list[Slot] = field(default_factory=list)
    rota: list[Visit] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)

    def as_json(self) -> dict[str, list[dict[str, object]]]:
        return {
            "slots": [
                {
                    "grid_code": s.grid_code,
                    "weekday": s.weekday,
                    "start": s.start,
                    "minutes": s.minutes,
                    "venue": s.venue,
                }
                for s in self.slots
            ],
            "rota": [
                {"doctor_code": v.doctor_code, "week": v.week, "grid_code": v.grid_code}
                for v in self.rota
            ],
            "unplaced": [{"grid_code": u.grid_code, "reason": u.reason} for u in self.unplaced],
        }


class VenueBook:
    """What each venue holds: per weekday, sorted (begin, end, grid) minute intervals."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, int], list[tuple[int, int, str]]] = defaultdict(list)

    def add(self, venue: str, weekday: int, begin: int, minutes: int, grid_code: str) -> None:
        self._held[(venue, weekday)].append((begin, begin + minutes, grid_code))

    def clash(
        self, venue: str, weekday: int, begin: int, minutes: int, *, ignore: str | None = None
    ) -> str | None:
        """The grid already at `venue` overlapping [begin, begin+minutes), if any."""
        finish = begin + minutes
        for held_begin, held_end, code in self._held.get((venue, weekday), ()):
            if code != ignore and held_begin < finish and begin < held_end:
                return code
        return None


def slot_problem(
    *,
    weekday: int,
    begin: int,
    minutes: int,
    quiet: QuietWindow,
    venue_clash: str | None,
) -> str | None:
    """Why a slot cannot be held (`bad_weekday`, `quiet_hours`, `venue_taken`), or None."""
    if not 0 <= weekday <= 6:
        return "bad_weekday"
    if begin + minutes > 24 * 60 or quiet.overlaps(begin, begin + minutes):
        return "quiet_hours"
    if venue_clash is not None:
        return "venue_taken"
    return None


def _start_times(minutes: int, quiet: QuietWindow) -> list[int]:
    """Evening first, then earlier starts on the hour down to DAY_START, all outside quiet."""
    evening, earliest = minute_of(EVENING), minute_of(DAY_START)
    candidates = [evening, *range(evening - 60, earliest - 1, -60)]
    return [
        begin
        for begin in candidates
        if begin + minutes <= 24 * 60 and not quiet.overlaps(begin, begin + minutes)
    ]


def _visits_key(load: dict[int, int], weekday: int) -> tuple[int, int]:
    return (load[weekday], weekday)


def place_grids(
    grids: Sequence[GridToPlace], quiet: QuietWindow
) -> tuple[list[Slot], list[Unplaced], list[Slot]]:
    """Slots for the grids that have none; returns (new slots, unplaced, every slot)."""
    book = VenueBook()
    held: list[Slot] = []
    doctor_days: dict[str | None, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for grid in grids:
        if grid.weekday is not None and grid.start is not None:
            begin = minute_of(grid.start)
            book.add(grid.venue, grid.weekday, begin, grid.minutes, grid.code)
            held.append(Slot(grid.code, grid.weekday, clock(begin), grid.minutes, grid.venue))
            doctor_days[grid.doctor_code][grid.weekday] += 1

    new: list[Slot] = []
    unplaced: list[Unplaced] = []
    times_of: dict[int, list[int]] = {}
    # Bookings only grow: a start found full for a venue, length and set of days stays
    # full, so the next grid with the same ones resumes the search where this one ended.
    resume: dict[tuple[str, int, frozenset[int]], int] = {}
    for grid in sorted(grids, key=lambda g: (not g.preferred_weekdays, g.venue, g.code)):
        if grid.weekday is not None and grid.start is not None:
            continue
        times = times_of.setdefault(grid.minutes, _start_times(grid.minutes, quiet))
        if not times or grid.minutes <= 0:
            unplaced.append(Unplaced(grid.code, "too_long"))
            continue
        allowed = frozenset(set(grid.preferred_weekdays) & set(range(7)) or range(7))
        days = sorted(allowed, key=partial(_visits_key, doctor_days[grid.doctor_code]))
        search = (grid.venue, grid.minutes, allowed)
        found: tuple[int, int] | None = None
        for index in range(resume.get(search, 0), len(times)):
            begin = times[index]  # the latest start that any allowed day still has free
            for day in days:
                if book.clash(grid.venue, day, begin, grid.minutes) is None:
                    found = (day, begin)
                    break
            if found:
                resume[search] = index
                break
        if found is None:
            resume[search] = len(times)
            reason = "preferred_days_full" if grid.preferred_weekdays else "no_free_slot"
            unplaced.append(Unplaced(grid.code, reason))
            continue
        day, begin = found
        book.add(grid.venue, day, begin, grid.minutes, grid.code)
        slot = Slot(grid.code, day, clock(begin), grid.minutes, grid.venue)
        new.append(slot)
        held.append(slot)
        doctor_days[grid.doctor_code][day] += 1
    return new, unplaced, held


def plan_rota(
    slots: Iterable[Slot], doctor_of: dict[str, str | None]
) -> tuple[list[Visit], list[Unplaced]]:
    """Each doctor visits each grid once per ROTA_WEEKS weeks, one exchange per half-day."""
    by_doctor: dict[str, list[Slot]] = defaultdict(list)
    for slot in slots:
        doctor = doctor_of.get(slot.grid_code)
        if doctor is not None:
            by_doctor[doctor].append(slot)
    visits: list[Visit] = []
    unvisited: list[Unplaced] = []
    for doctor in sorted(by_doctor):
        taken: set[tuple[int, int, str]] = set()
        load = [0] * ROTA_WEEKS
        # The most crowded half-days first, so they get spread over the weeks.
        crowd: dict[tuple[int, str], int] = defaultdict(int)
        for slot in by_doctor[doctor]:
            crowd[(slot.weekday, half_day(slot.start_minute))] += 1
        ordered = sorted(
            by_doctor[doctor],
            key=lambda s: (-crowd[(s.weekday, half_day(s.start_minute))], s.weekday, s.grid_code),
        )
        for slot in ordered:
            part = half_day(slot.start_minute)
            weeks = sorted(range(ROTA_WEEKS), key=lambda w: (load[w], w))
            week = next((w for w in weeks if (w, slot.weekday, part) not in taken), None)
            if week is None:
                unvisited.append(Unplaced(slot.grid_code, "doctor_rota_full"))
                continue
            taken.add((week, slot.weekday, part))
            load[week] += 1
            visits.append(Visit(doctor, week + 1, slot.grid_code))
    visits.sort(key=lambda v: (v.doctor_code, v.week, v.grid_code))
    return visits, unvisited


def plan(grids: Sequence[GridToPlace], quiet: QuietWindow) -> Plan:
    """Slots for grids without one, and the doctors' visit rota over every slot."""
    new, unplaced, held = place_grids(grids, quiet)
    doctor_of = {grid.code: grid.doctor_code for grid in grids}
    rota, unvisited = plan_rota(held, doctor_of)
    return Plan(
        slots=sorted(new, key=lambda s: s.grid_code),
        rota=rota,
        unplaced=sorted([*unplaced, *unvisited], key=lambda u: u.grid_code),
    )


ROTA_EPOCH_ORDINAL = 738_886
"""Monday 2024-01-01 as a proleptic ordinal: rota weeks count from it, across years."""


def rota_week(monday_ordinal: int) -> int:
    """The rota week (1 .. ROTA_WEEKS) of the week starting on the Monday given."""
    return (monday_ordinal - ROTA_EPOCH_ORDINAL) // 7 % ROTA_WEEKS + 1
