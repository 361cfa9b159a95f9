"""The exchange planner: slots, the visit rota, and why a grid is left out."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import time

from hypothesis import given, settings
from hypothesis import strategies as st

from grids.exchanges.planner import (
    ROTA_WEEKS,
    GridToPlace,
    QuietWindow,
    half_day,
    plan,
    rota_week,
    slot_problem,
)

QUIET = QuietWindow.of(time(21), time(8))


def test_evening_first_then_other_days_then_earlier() -> None:
    grids = [GridToPlace(f"G{n:02d}", "clinic", "D1") for n in range(9)]
    result = plan(grids, QUIET)
    starts = sorted((s.start, s.weekday) for s in result.slots)
    assert [start for start, _ in starts].count("19:00") == 7
    assert {start for start, _ in starts} == {"19:00", "18:00"}
    assert result.unplaced == []


def test_preferred_days_are_kept_and_a_full_venue_is_reported() -> None:
    grids = [
        GridToPlace("A", "clinic", preferred_weekdays=(3,)),
        GridToPlace("B", "clinic", preferred_weekdays=(3,)),
    ]
    result = plan(grids, QUIET)
    assert {s.grid_code: (s.weekday, s.start) for s in result.slots} == {
        "A": (3, "19:00"),
        "B": (3, "18:00"),
    }
    # Thursday from 08:00 to 20:00 holds 12 one-hour exchanges; the 13th is refused.
    crowded = [GridToPlace(f"G{n:02d}", "clinic", preferred_weekdays=(3,)) for n in range(13)]
    result = plan(crowded, QUIET)
    assert len(result.slots) == 12
    assert [(u.grid_code, u.reason) for u in result.unplaced] == [("G12", "preferred_days_full")]


def test_an_existing_slot_is_kept_and_avoided() -> None:
    grids = [
        GridToPlace("OLD", "clinic", "D1", weekday=0, start=time(19)),
        *(GridToPlace(f"N{n}", "clinic", "D1") for n in range(6)),
    ]
    result = plan(grids, QUIET)
    assert "OLD" not in {s.grid_code for s in result.slots}
    assert all(not (s.weekday == 0 and s.start == "19:00") for s in result.slots)
    assert {v.grid_code for v in result.rota} == {"OLD", *(f"N{n}" for n in range(6))}


def test_never_in_quiet_hours() -> None:
    late_quiet = QuietWindow.of(time(18), time(9))
    result = plan([GridToPlace("A", "clinic")], late_quiet)
    assert result.slots[0].start == "17:00"
    assert slot_problem(
        weekday=1, begin=20 * 60 + 30, minutes=60, quiet=QUIET, venue_clash=None
    ) == ("quiet_hours")
    assert slot_problem(weekday=1, begin=19 * 60, minutes=60, quiet=QUIET, venue_clash="X") == (
        "venue_taken"
    )


def test_json_shape() -> None:
    result = plan([GridToPlace("A", "clinic", "D1")], QUIET).as_json()
    assert result == {
        "slots": [
            {"grid_code": "A", "weekday": 0, "start": "19:00", "minutes": 60, "venue": "clinic"}
        ],
        "rota": [{"doctor_code": "D1", "week": 1, "grid_code": "A"}],
        "unplaced": [],
    }


def test_rota_weeks_run_across_years() -> None:
    from datetime import date

    weeks = [rota_week(date(2026, 12, 21).toordinal() + 7 * n) for n in range(6)]
    assert sorted(set(weeks)) == list(range(1, ROTA_WEEKS + 1))
    assert weeks[0:4] != weeks[1:5]


grid_lists = st.lists(
    st.tuples(
        st.integers(0, 3),  # venue
        st.integers(0, 4),  # doctor
        st.sampled_from([45, 60, 90, 120]),
        st.lists(st.integers(0, 6), max_size=2),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(grid_lists)
def test_plan_never_double_books_and_visits_every_grid_it_can(specs) -> None:
    grids = [
        GridToPlace(f"G{n:03d}", f"V{venue}", f"D{doctor}", minutes, tuple(days))
        for n, (venue, doctor, minutes, days) in enumerate(specs)
    ]
    result = plan(grids, QUIET)
    minutes_of = {g.code: g.minutes for g in grids}
    by_venue_day = defaultdict(list)
    for slot in result.slots:
        begin = slot.start_minute
        end = begin + slot.minutes
        assert not QUIET.overlaps(begin, end)
        by_venue_day[(slot.venue, slot.weekday)].append((begin, end))
    for intervals in by_venue_day.values():
        intervals.sort()
        for (_, end), (begin, _) in itertools.pairwise(intervals):
            assert end <= begin
    placed = {s.grid_code: s for s in result.slots}
    unplaced = {u.grid_code for u in result.unplaced}
    assert set(placed) | unplaced == set(minutes_of)
    # The rota: one visit per placed grid, never two in a doctor's half-day of a week.
    half_days: defaultdict[str, set[tuple[object, ...]]] = defaultdict(set)
    visited = set()
    for visit in result.rota:
        slot = placed[visit.grid_code]
        key = (visit.doctor_code, visit.week, slot.weekday, half_day(slot.start_minute))
        assert key not in half_days[visit.doctor_code]
        half_days[visit.doctor_code].add(key)
        assert 1 <= visit.week <= ROTA_WEEKS
        visited.add(visit.grid_code)
    # Every grid is visited once in four weeks unless its doctor's half-days are full.
    for code in placed:
        if code not in visited:
            assert any(
                u.grid_code == code and u.reason == "doctor_rota_full" for u in result.unplaced
            )
            slot = placed[code]
            doctor = next(g.doctor_code for g in grids if g.code == code)
            same = [
                v
                for v in result.rota
                if v.doctor_code == doctor
                and placed[v.grid_code].weekday == slot.weekday
                and half_day(placed[v.grid_code].start_minute) == half_day(slot.start_minute)
            ]
            assert len(same) == ROTA_WEEKS
