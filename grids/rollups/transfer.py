"""Rollup documents that cross a deployment's border: a province's counties, read by a nation.

`export_documents` writes the DESIGN §5 document of every county (or township) of
one closed week; `import_documents` stores such documents, from another
deployment, as snapshots, so `rollups show` and the API answer them like local
ones. Only counts cross: no member, phone or name is in a document. An import
checks every item before it stores any, and never overwrites a subject this
deployment computes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.core.weeks import parse_week
from grids.rollups.indicators import (
    CASE_OUTCOMES,
    COLOUR_COUNTS,
    CONTROL_COUNTS,
    DOCTOR_ACK_TIMEOUT_S,
    EXCHANGE_COUNTS,
    GRID_COUNTS,
    INDICATOR_FIELDS,
    OUTCOME_COUNTS,
    REPORT_COUNTS,
    URGENT_FIELDS,
    document,
)
from grids.rollups.models import RollupSnapshot
from grids.rollups.places import grid_places
from grids.rollups.service import RollupError, compute_week, new_snapshot, parse_period

FORMAT = "huzhu-rollups"
VERSION = 1
TRANSFER_LEVELS = ("county", "township")
CODE_MAX = 48
FRACTIONAL = frozenset({"avg_age_at_death", "urgent_ack_median_s", "critical_ack_median_s"})
"""Indicators that may be fractional (medians and averages); the others are counts."""
REQUIRED_FIELDS: tuple[str, ...] = (
    *GRID_COUNTS,
    *REPORT_COUNTS,
    *CONTROL_COUNTS,
    *EXCHANGE_COUNTS,
    *URGENT_FIELDS,
    *COLOUR_COUNTS,
    *OUTCOME_COUNTS,
    "avg_age_at_death",
)
"""Indicators every document carries (null where unknown): DESIGN §5's first document.
Fields are added, never renamed: one added since (`critical`, `outcomes`, the follow-up
counts, ...) may be missing from a document exported before it, and reads as null."""


class TransferError(RollupError):
    """A file that cannot be imported; `key` and `params` name the catalogue text."""


@dataclass(frozen=True)
class ImportOutcome:
    week_count: int
    created: int
    revised: int
    unchanged: int


def _local_codes(session: Session, level: str) -> set[str]:
    codes: set[str] = set()
    for place in grid_places(session):
        code = place.county_code if level == "county" else place.township_code
        if code:
            codes.add(code)
    return codes


def export_documents(
    session: Session,
    level: str,
    week: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> dict[str, Any]:
    """Every subject of `level` for one closed week: stored snapshots where they exist,
    the others computed in one pass (nothing is written)."""
    if level not in TRANSFER_LEVELS:
        raise TransferError("rollups.export.bad_level", level=level)
    period = parse_period(week, now, tz)
    if not period.closed_at(now):
        raise TransferError("rollups.export.open_week", week=period.week)
    codes = sorted(_local_codes(session, level))
    stored = {
        row.code: row
        for row in session.scalars(
            select(RollupSnapshot).where(
                RollupSnapshot.week == period.week, RollupSnapshot.level == level
            )
        )
    }
    items = [
        document(
            level,
            code,
            period.week,
            as_of=stored[code].computed_at,
            provisional=False,
            revised=stored[code].revisions > 1,
            values=stored[code].indicators,
        )
        for code in codes
        if code in stored
    ]
    missing = [code for code in codes if code not in stored]
    if missing:
        rollup = compute_week(session, period, now, doctor_timeout_s=doctor_timeout_s)
        items += [rollup.document(level, code) for code in missing]
    items.sort(key=lambda item: item["code"])
    return {
        "format": FORMAT,
        "version": VERSION,
        "level": level,
        "week": period.week,
        "exported_at": now.isoformat(),
        "items": items,
    }


def _bad(index: int, field: str, fix: str, value: Any = "") -> TransferError:
    """Item `index` (from 1) has a wrong `field`; `fix` names the catalogue text saying how."""
    return TransferError(f"rollups.import.bad.{fix}", item=index, field=field, value=value)


def _check_value(index: int, name: str, value: Any) -> None:
    if value is None:
        return
    if name == "outcomes":
        if not isinstance(value, dict) or any(
            key not in CASE_OUTCOMES or not _is_count(count) for key, count in value.items()
        ):
            raise _bad(index, f"indicators.{name}", "counts_by_outcome")
        return
    if name in FRACTIONAL:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _bad(index, f"indicators.{name}", "number")
        return
    if not _is_count(value):
        raise _bad(index, f"indicators.{name}", "count")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _checked_item(index: int, item: Any) -> tuple[str, str, str, datetime, dict[str, Any]]:
    if not isinstance(item, dict):
        raise _bad(index, "item", "object")
    level, code, week = item.get("level"), item.get("code"), item.get("week")
    if level not in TRANSFER_LEVELS:
        raise _bad(index, "level", "level")
    if not isinstance(code, str) or not code.strip() or len(code) > CODE_MAX:
        raise _bad(index, "code", "code")
    if not isinstance(week, str):
        raise _bad(index, "week", "week", week)
    try:
        parse_week(week)
    except ValueError:
        raise _bad(index, "week", "week", week) from None
    if item.get("provisional") is not False:
        raise _bad(index, "provisional", "closed_week")
    try:
        as_of = datetime.fromisoformat(str(item.get("as_of")))
    except ValueError:
        raise _bad(index, "as_of", "as_of") from None
    if as_of.tzinfo is None:
        raise _bad(index, "as_of", "as_of")
    values = item.get("indicators")
    if not isinstance(values, dict):
        raise _bad(index, "indicators", "object")
    missing = [f"indicators.{name}" for name in REQUIRED_FIELDS if name not in values]
    if missing:
        raise _bad(index, ", ".join(missing), "missing")
    for name in INDICATOR_FIELDS:
        _check_value(index, name, values.get(name))
    return level, code, week, as_of, values


def import_documents(session: Session, payload: Any) -> ImportOutcome:
    """Store another deployment's documents as snapshots: all of them, or none."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise TransferError("rollups.import.not_export", format=FORMAT)
    if payload.get("version") != VERSION:
        raise TransferError(
            "rollups.import.version", version=payload.get("version"), expected=VERSION
        )
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise TransferError("rollups.import.no_items")
    checked = [_checked_item(index, item) for index, item in enumerate(items, start=1)]
    seen: set[tuple[str, str, str]] = set()
    for index, (level, code, week, _, _) in enumerate(checked, start=1):
        if (level, code, week) in seen:
            raise TransferError("rollups.import.duplicate", item=index, code=code, week=week)
        seen.add((level, code, week))
    for level in {level for level, *_ in checked}:
        local = _local_codes(session, level)
        for index, (item_level, code, *_) in enumerate(checked, start=1):
            if item_level == level and code in local:
                raise TransferError("rollups.import.local_subject", item=index, code=code)
    weeks = {week for _, _, week, _, _ in checked}
    stored = {
        (row.level, row.code, row.week): row
        for row in session.scalars(select(RollupSnapshot).where(RollupSnapshot.week.in_(weeks)))
    }
    created = revised = unchanged = 0
    for level, code, week, as_of, values in checked:
        row = stored.get((level, code, week))
        if row is None:
            snapshot = new_snapshot(week, level, code, values, as_of)
            session.add(snapshot)
            created += 1
        elif row.indicators == values:
            unchanged += 1
        else:
            row.indicators = values
            row.computed_at = as_of
            row.revisions += 1
            revised += 1
    session.flush()
    return ImportOutcome(len(weeks), created, revised, unchanged)


__all__ = ["FORMAT", "ImportOutcome", "TransferError", "export_documents", "import_documents"]
