"""Current memberships as a flat table, for Excel and for other tools.

One row per current membership, ordered by grid code then seat; the columns are a
contract (`EXPORT_COLUMNS`). CSV written to a file starts with a UTF-8 byte order
mark, so Excel opens the Chinese text correctly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO, cast

from sqlalchemy import select
from sqlalchemy.engine import TupleResult
from sqlalchemy.orm import Session, aliased

from grids.core.spreadsheet_cells import csv_row
from grids.models import Doctor, Facility, Grid, Membership, Patient

EXPORT_COLUMNS = (
    "grid_code",
    "facility_code",
    "condition",
    "doctor_code",
    "coordinator_code",
    "member_code",
    "seat",
    "deputy_code",
)
FORMATS = ("csv", "json")
UTF8_BOM = "\ufeff"
_FETCH = 5_000

ExportRow = tuple[str, str, str, str | None, str | None, str, int, str | None]


def membership_rows(session: Session) -> TupleResult[ExportRow]:
    """Every current membership, by grid code then seat, streamed; close it when done.

    The query runs now, not at the first row: a database error comes before any output.
    """
    coordinator = aliased(Patient)
    deputy = aliased(Patient)
    member = aliased(Patient)
    query = (
        select(
            Grid.code,
            Facility.code,
            Grid.condition,
            Doctor.code,
            coordinator.code,
            member.code,
            Membership.seat,
            deputy.code,
        )
        .select_from(Membership)
        .join(Grid, Grid.id == Membership.grid_id)
        .join(Facility, Facility.id == Grid.facility_id)
        .join(member, member.id == Membership.patient_id)
        .outerjoin(Doctor, Doctor.id == Grid.doctor_id)
        .outerjoin(coordinator, coordinator.id == Grid.coordinator_id)
        .outerjoin(deputy, deputy.id == Grid.deputy_id)
        .where(Membership.left_at.is_(None))
        .order_by(Grid.code, Membership.seat)
        .execution_options(yield_per=_FETCH)
    )
    # Doctor, coordinator and deputy come from outer joins: None where the grid has none.
    return cast("TupleResult[ExportRow]", session.execute(query).tuples())


def write_csv(rows: Iterable[ExportRow], stream: TextIO, *, bom: bool = False) -> int:
    """Write a header and the rows; empty cells for no doctor, coordinator or deputy."""
    if bom:
        stream.write(UTF8_BOM)
    writer = csv.writer(stream)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count


def write_json(rows: Iterable[ExportRow], stream: TextIO) -> int:
    """`{"items": [{...}, ...]}` with the seat as a number and null for no doctor."""
    stream.write('{"items": [')
    count = 0
    for row in rows:
        stream.write(",\n  " if count else "\n  ")
        stream.write(json.dumps(dict(zip(EXPORT_COLUMNS, row, strict=True)), ensure_ascii=False))
        count += 1
    stream.write("\n]}\n" if count else "]}\n")
    return count
