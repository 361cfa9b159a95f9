"""A grid's number for its doctor (`7号格`): kept while the grid stays with him.

A grid that changes doctor (or is new) loses its number and takes the lowest number
free among its new doctor's grids; the other grids keep theirs, so a grid moving in
or out never renumbers the rest. Pages, digests and texts show `Grid.doctor_number`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from grids.models import Grid


def unnumbered(session: Session) -> list[int]:
    """Open grids with a doctor but no number yet (made before numbers were kept)."""
    return list(
        session.scalars(
            select(Grid.id).where(
                Grid.doctor_id.is_not(None),
                Grid.doctor_number.is_(None),
                Grid.closed_at.is_(None),
            )
        )
    )


def clear_numbers(session: Session, grid_ids: list[int]) -> None:
    """Take the numbers of `grid_ids` away (an undo removes the grids a change made as
    they were made: without one)."""
    table = Grid.__table__
    for start in range(0, len(grid_ids), 1000):
        session.execute(
            update(table)
            .where(table.c.id.in_(grid_ids[start : start + 1000]))
            .values(doctor_number=None, updated_at=table.c.updated_at)
        )


def renumber(session: Session, changed: Iterable[int]) -> None:
    """Give `changed` grids (new, or with another doctor now) their new number."""
    grid_ids = sorted(set(changed))
    if not grid_ids:
        return
    clear_numbers(session, grid_ids)
    doctors: set[int] = set()
    for start in range(0, len(grid_ids), 1000):
        doctors |= {
            doctor_id
            for doctor_id in session.scalars(
                select(Grid.doctor_id).where(Grid.id.in_(grid_ids[start : start + 1000]))
            )
            if doctor_id is not None
        }
    if not doctors:
        return
    rows = session.execute(
        select(Grid.id, Grid.doctor_id, Grid.doctor_number)
        .where(Grid.doctor_id.in_(sorted(doctors)), Grid.closed_at.is_(None))
        .order_by(Grid.doctor_id, Grid.code)
    ).all()
    taken: dict[int, set[int]] = {}
    for _, doctor_id, number in rows:
        if number is not None:
            taken.setdefault(doctor_id, set()).add(number)
    updates: list[dict[str, int]] = []
    for grid_id, doctor_id, number in rows:
        if number is not None:
            continue
        used = taken.setdefault(doctor_id, set())
        free = next(n for n in range(1, len(used) + 2) if n not in used)
        used.add(free)
        updates.append({"id": grid_id, "doctor_number": free})
    if updates:
        # Core, not the ORM's bulk update (which wants each grid's version); a number is
        # bookkeeping, not a change of the grid: `updated_at` stays as it was.
        table = Grid.__table__
        session.execute(
            update(table)
            .where(table.c.id == bindparam("grid_id"))
            .values(doctor_number=bindparam("number"), updated_at=table.c.updated_at),
            [{"grid_id": row["id"], "number": row["doctor_number"]} for row in updates],
        )
