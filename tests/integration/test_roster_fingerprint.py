"""The hierarchy an urgent case climbs is rebuilt when the roster it is made of changes,
however the change was made, and not for a grid's moved exchange."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

from sqlalchemy import Column, text
from sqlalchemy.sql.visitors import iterate

from grids.escalation import roster_graph
from grids.escalation.roster_graph import current_hierarchy
from grids.models import Grid
from grids.storage.database import Database
from tests.support import factories
from tests.support.escalation import first_doctor_phone

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_a_grid_given_another_doctor_by_hand_sends_the_next_case_to_that_doctor(
    db: Database,
) -> None:
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=6)
        other = factories.doctor(session, tree["clinic_a"], code="DOTHER")
        session.commit()
        assert grid.doctor is not None
        grid_id, other_id, other_phone = grid.grid.id, other.id, other.phone
        third = grid.members[3].id
        assert first_doctor_phone(session, grid_id, grid.members[2].id, 2, NOW) == grid.doctor.phone

    # As a county's DBA would: SQL by hand, which no ORM hook or timestamp sees.
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE grids SET doctor_id = :doctor WHERE id = :grid"),
            {"doctor": other_id, "grid": grid_id},
        )

    with db.unit_of_work() as session:
        assert first_doctor_phone(session, grid_id, third, 3, NOW) == other_phone


def test_a_moved_exchange_keeps_the_hierarchy_and_a_new_phone_rebuilds_it(
    db: Database,
) -> None:
    with db.unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=6)
        session.commit()
        built = current_hierarchy(session)

        session.get_one(Grid, grid.grid.id).exchange_time = time(15, 30)
        session.commit()
        assert current_hierarchy(session) is built  # a coordinator's `改` changes no ladder

        assert grid.doctor is not None
        grid.doctor.phone = "+8613900009999"
        session.commit()
        rebuilt = current_hierarchy(session)
        assert rebuilt is not built
        assert rebuilt.doctor(grid.doctor.id).phone == "+8613900009999"


def trigger_definitions(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        if db.is_postgresql:
            query = "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT sql FROM sqlite_master WHERE type = 'trigger'"
        return list(connection.scalars(text(query)))


def test_every_column_the_hierarchy_reads_is_watched_by_a_trigger(db: Database) -> None:
    """A column added to the hierarchy's queries and to no trigger would leave urgent
    cases climbing a ladder built from a roster that has since changed."""
    watched: dict[str, set[str]] = {}
    events: dict[str, set[str]] = {}
    for definition in trigger_definitions(db):
        found = re.search(r"AFTER (.+?) ON (?:public\.)?(\w+)", definition)
        if found is None or "roster_change" not in definition:
            continue
        when, table = found.groups()
        columns = re.search(r"UPDATE OF ([\w, ]+?)(?: OR |$)", when)
        if columns:
            watched.setdefault(table, set()).update(
                name.strip() for name in columns.group(1).split(",")
            )
        events.setdefault(table, set()).update(re.findall(r"INSERT|DELETE", when))
    queries = (
        roster_graph._FACILITY_COLUMNS,
        roster_graph._DOCTOR_COLUMNS,
        roster_graph._GRID_COLUMNS,
    )
    read = [
        element
        for query in queries
        for selected in query.selected_columns
        for element in iterate(selected)
        if isinstance(element, Column)
    ]
    assert {column.table.name for column in read} == {"facilities", "doctors", "grids"}
    for column in read:
        table = column.table.name
        assert events.get(table) == {"INSERT", "DELETE"}, table
        if not column.primary_key:
            assert column.name in watched[table], f"{table}.{column.name} is watched by no trigger"
