"""The whole population's members' statement in slices of patients, each slice on a
connection of its own, at once.

One statement over a province's members keeps one PostgreSQL backend (one core)
busy for minutes while the others idle. Cut by patient id, the slices share no
member, so each grid's counts are the sums of its slices' rows. Each slice is one
statement, as consistent as the one statement was; the slices may read a moment
apart, as the other statements of a rollup always have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from grids.models import Membership

SLICES = 2
"""Slices of a whole-population statement on PostgreSQL: one per core the database
can give a rollup (the province benchmark's server has two)."""

SLICE_ABOVE = 50_000
"""Patient ids a database spans before its rollups are sliced: below, one statement
takes about a second and a second connection would cost more than it saves."""


SLICE_SETTINGS = (
    "SET LOCAL jit = on",
    "SET LOCAL jit_inline_above_cost = -1",
    "SET LOCAL jit_optimize_above_cost = -1",
    "SET LOCAL max_parallel_workers_per_gather = 0",
)
"""A slice of a large population runs for seconds. Its expressions are compiled to
machine code (JIT), but not inlined or optimised: one slice of 1,000,000 members
took 9.5-10.2 s against 10.4 s without JIT and 12-13 s with all of it (two
slices at once, since: 9.0-9.2 s either way). The slices already keep the cores
busy, so a slice starts no parallel workers of its own: two slices of 1,000,000
members at once took 11.0 s without them, 12.8 s with."""


def slice_bounds(
    session: Session, slices: int | None = None, above: int | None = None
) -> list[tuple[int, int]]:
    """Half-open ranges of patient ids `[from, to)` covering every membership, `slices`
    of them of equal width; one range (no slicing) on SQLite, outside an engine's own
    connections, or for a span of ids up to `above`."""
    low, high = session.execute(
        select(func.min(Membership.patient_id), func.max(Membership.patient_id))
    ).one()
    if low is None:
        return []
    slices = SLICES if slices is None else slices
    above = SLICE_ABOVE if above is None else above
    span = high - low + 1
    bind = session.get_bind()
    sliceable = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
    if slices < 2 or span <= above or not sliceable:
        return [(low, high + 1)]
    width = -(-span // slices)
    return [(start, min(start + width, high + 1)) for start in range(low, high + 1, width)]


def start_sliced(
    session: Session, statement: Any, bounds: Sequence[tuple[int, int]]
) -> Callable[[], list[Any]]:
    """Start `statement` (built with `sliced=True`) for every slice of `bounds`, each
    on a connection of its own, all at once; the returned function waits for their
    rows. The session stays free for the rest of the rollup meanwhile."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)

    def one_slice(bound: tuple[int, int]) -> list[Any]:
        with engine.connect() as connection:
            for setting in SLICE_SETTINGS:
                connection.execute(text(setting))
            rows = connection.execute(statement, {"slice_from": bound[0], "slice_to": bound[1]})
            return list(rows)

    pool = ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix="rollup-slice")
    pending = [pool.submit(one_slice, bound) for bound in bounds]
    pool.shutdown(wait=False)  # its threads end with their slices

    def rows() -> list[Any]:
        return [row for future in pending for row in future.result()]

    return rows
