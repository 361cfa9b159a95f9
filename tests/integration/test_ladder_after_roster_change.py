"""Right after a roster change an urgent case climbs a ladder read from the few rows it
needs, the same ladder the whole hierarchy gives, and the whole hierarchy is rebuilt off
the case's path."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from grids.core.vocabulary import DoctorStatus, FacilityLevel
from grids.escalation import roster_graph
from grids.escalation.ladder import build_ladder
from grids.escalation.roster_graph import (
    current_hierarchy,
    load_hierarchy,
    load_ladder_hierarchy,
    rebuild_in_background,
    wait_for_rebuilds,
)
from grids.models import Facility
from grids.storage.database import Database
from tests.support import factories
from tests.support.escalation import first_doctor_phone

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def varied_roster(session: Session) -> None:
    """Two counties' worth of the cases a ladder meets: clinics with one doctor, several
    or none active, a grid whose doctor works at another clinic, a grid with no doctor,
    a township without a phone and a clinic straight under the county hospital."""
    first = factories.facility_tree(session, prefix="A")
    second = factories.facility_tree(session, prefix="B")
    second["township"].phone = None
    factories.grid_with_members(session, first["clinic_a"], size=3)
    factories.grid_with_members(session, first["clinic_a"], size=3)
    factories.doctor(session, first["clinic_a"], code="ACOLLEAGUE")
    lone = factories.grid_with_members(session, first["clinic_b"], size=3)
    assert lone.doctor is not None
    lone.doctor.status = DoctorStatus.SUSPENDED
    factories.grid_with_members(session, second["clinic_a"], size=3, with_doctor=False)
    visiting = factories.grid_with_members(session, second["clinic_b"], size=3)
    assert visiting.doctor is not None
    visiting.doctor.facility_id = first["clinic_b"].id
    direct = Facility(
        code="BV9",
        name="城关卫生室",
        level=FacilityLevel.VILLAGE_CLINIC,
        parent_id=second["county"].id,
        phone=factories.phone(),
    )
    session.add(direct)
    session.flush()
    factories.grid_with_members(session, direct, size=3)
    session.commit()


def test_each_ladder_read_from_its_own_rows_is_the_ladder_of_the_whole_hierarchy(
    session: Session,
) -> None:
    varied_roster(session)
    whole = load_hierarchy(session)
    cases: list[dict[str, Any]] = [
        {"grid_id": grid.id, "facility_id": None} for grid in whole.grids()
    ] + [{"grid_id": None, "facility_id": facility.id} for facility in whole.facilities()]
    assert len(cases) == 6 + 9
    for case in cases:
        for red_flag in (False, True):
            options = {"red_flag": red_flag, "county_duty_phone": "+8613500000000", **case}
            expected = build_ladder(whole, **options)
            part = load_ladder_hierarchy(session, **case)
            assert build_ladder(part, **options) == expected, case
            assert len(part) < len(whole)


def test_a_grid_that_does_not_exist_has_no_rows_to_climb(session: Session) -> None:
    varied_roster(session)
    part = load_ladder_hierarchy(session, grid_id=999_999, facility_id=None)
    assert len(part) == 0


@pytest.fixture
def held_rebuilds(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Every load of the whole hierarchy noted with its thread; one made off the test's
    thread waits until the test lets it go, as a province's load takes seconds."""
    real = roster_graph.load_hierarchy
    test_thread = threading.current_thread()
    held: dict[str, Any] = {"threads": [], "release": threading.Event(), "test": test_thread}

    def slow_load(session: Session, **options: Any) -> Any:
        held["threads"].append(threading.current_thread())
        if threading.current_thread() is not test_thread:
            held["release"].wait(10)
        return real(session, **options)

    monkeypatch.setattr(roster_graph, "load_hierarchy", slow_load)
    yield held
    held["release"].set()
    wait_for_rebuilds(10)


def test_an_urgent_case_after_a_reassignment_reaches_the_new_doctor_without_waiting(
    db: Database, held_rebuilds: dict[str, Any]
) -> None:
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=6)
        other = factories.doctor(session, tree["clinic_b"], code="DOTHER")
        session.commit()
        assert grid.doctor is not None
        grid_id, members = grid.grid.id, {seat: m.id for seat, m in grid.members.items()}
        other_id, other_phone, first_phone = other.id, other.phone, grid.doctor.phone
        assert first_doctor_phone(session, grid_id, members[2], 2, NOW) == first_phone
    held_rebuilds["release"].set()
    wait_for_rebuilds(10)
    held_rebuilds["release"].clear()

    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE grids SET doctor_id = :doctor WHERE id = :grid"),
            {"doctor": other_id, "grid": grid_id},
        )
    with db.unit_of_work() as session:
        # The whole hierarchy is being rebuilt and held: the case does not wait for it.
        assert first_doctor_phone(session, grid_id, members[3], 3, NOW) == other_phone
        assert first_doctor_phone(session, grid_id, members[4], 4, NOW) == other_phone
    loads = held_rebuilds["threads"]
    assert loads and held_rebuilds["test"] not in loads
    assert len(loads) == 2  # one rebuild before the change, one after: not one a case

    held_rebuilds["release"].set()
    wait_for_rebuilds(10)
    with db.unit_of_work() as session:
        cached = current_hierarchy(session)
        assert len(loads) == 2  # the rebuilt hierarchy is current: nothing loaded again
        assert cached.grid(grid_id).doctor_id == other_id


def test_a_failed_rebuild_leaves_cases_climbing_their_own_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_session: Session, **_options: Any) -> Any:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(roster_graph, "load_hierarchy", broken)
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=4)
        session.commit()
        assert grid.doctor is not None
        for seat in (2, 3):
            assert first_doctor_phone(session, grid.grid.id, grid.members[seat].id, seat, NOW) == (
                grid.doctor.phone
            )
            wait_for_rebuilds(10)
    assert caplog.text.count("could not rebuild the escalation hierarchy") == 2


def test_a_database_is_disposed_only_once_its_rebuild_has_ended(
    database_url: str, held_rebuilds: dict[str, Any]
) -> None:
    """A rebuild still reading when its database is disposed would race whatever comes
    next (emptying the tables deadlocked with it) and leak its connection."""
    database = Database(database_url)
    rebuild_in_background(database.engine)
    disposer = threading.Thread(target=database.dispose)
    disposer.start()
    disposer.join(0.3)
    assert disposer.is_alive()  # waiting for the held rebuild
    held_rebuilds["release"].set()
    disposer.join(10)
    assert not disposer.is_alive()
    assert not any(t.name == "hierarchy-rebuild" for t in threading.enumerate())


# The rebuild's connection, returned to a pool already disposed, is closed unreported.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_rebuild_that_does_not_end_is_reported_when_disposing(
    database_url: str, held_rebuilds: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(database_url)
    rebuild_in_background(database.engine)
    database.dispose(background_timeout=0.1)
    assert "disposing the database while a background thread still reads it" in caplog.text
    held_rebuilds["release"].set()
    wait_for_rebuilds(10)
    gc.collect()
