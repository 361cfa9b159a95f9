"""Which rows the members' statement reads: every grid's, or a few grids' (a page, a
refresh of the grids that changed)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Integer, and_, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from grids.models import Membership
from grids.storage.id_lists import written_in

Scope = Collection[int] | None
"""Grid ids to count, or None for every grid (the whole population at once)."""


def in_grids(column: Any, grid_ids: Collection[int]) -> ColumnElement[bool]:
    """`column IN (ids)` with the ids written into the SQL: a township's thousands of
    grids, repeated in each part of a statement, would pass the drivers' limit on
    bound parameters."""
    return written_in(column, grid_ids, "scope_grid_ids")


Patients = tuple[int, ...] | None
"""The patients of a few grids' memberships, written into the SQL (`scope_patients`), or
None to find them with a subquery."""

LISTED_PATIENTS_UP_TO = 5_000
"""A page's scope (a doctor's grids, a township's listed members) names its patients:
PostgreSQL then estimates each part from the patients' own rows and reads them through
their indexes, where a subquery made it expect a handful and rescan its parts."""


def scope_patients(session: Session, grid_ids: Collection[int]) -> Patients:
    """Every patient with a membership of `grid_ids` (as `scoped` finds them without a list), or
    None when there are more than LISTED_PATIENTS_UP_TO."""
    patients = session.scalars(
        select(Membership.patient_id)
        .where(in_grids(Membership.grid_id, grid_ids))
        .distinct()
        .limit(LISTED_PATIENTS_UP_TO + 1)
    ).all()
    return None if len(patients) > LISTED_PATIENTS_UP_TO else tuple(sorted(patients))


def in_patients(column: Any, patients: tuple[int, ...]) -> ColumnElement[bool]:
    """`column IN (ids)` with the patient ids written into the SQL, like `in_grids`."""
    return written_in(column, patients, "scope_patient_ids")


def in_slice(patient_column: Any) -> ColumnElement[bool]:
    """`:slice_from <= patient_column < :slice_to`: one slice of the whole population
    (`grids.rollups.slices`), its bounds given when the statement runs."""
    return and_(
        patient_column >= bindparam("slice_from", type_=Integer),
        patient_column < bindparam("slice_to", type_=Integer),
    )


def scoped(
    statement: Any,
    patient_column: Any,
    grid_ids: Scope,
    patients: Patients = None,
    *,
    sliced: bool = False,
) -> Any:
    """`statement` limited to the members of `grid_ids` (all of them: None), named by
    `patients` when given, else found by a subquery; `sliced`, to the patients of one
    slice of the whole population."""
    if sliced:
        statement = statement.where(in_slice(patient_column))
    if grid_ids is None:
        return statement
    if patients is not None:
        return statement.where(in_patients(patient_column, patients))
    members = select(Membership.patient_id).where(in_grids(Membership.grid_id, grid_ids))
    return statement.where(patient_column.in_(members))


def grids_only(statement: Any, grid_column: Any, grid_ids: Scope) -> Any:
    return statement if grid_ids is None else statement.where(in_grids(grid_column, grid_ids))


def part(statement: Any, name: str, grid_ids: Scope, *, shared: bool = False) -> Any:
    """A part of the members' statement. For a few grids (a page), a CTE that
    PostgreSQL computes once: with a handful of members its row estimates run
    low and it would otherwise recompute a part for each member. A `shared` part
    (read twice) is a CTE in any case, computed once."""
    if grid_ids is None and not shared:
        return statement.subquery(name)
    return statement.cte(name).prefix_with("MATERIALIZED", dialect="postgresql")
