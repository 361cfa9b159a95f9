"""CSV and XLSX of a rollup table (one row per subject), headers in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grids.core.spreadsheet_cells import csv_file, xlsx_file
from grids.rollups.indicators import INDICATOR_FIELDS
from i18n import translate


def headers(language: str) -> list[str]:
    return [
        translate("rollups.column.level", language),
        translate("rollups.column.code", language),
        translate("rollups.column.name", language),
        translate("rollups.column.week", language),
        *(translate(f"rollups.field.{name}", language) for name in INDICATOR_FIELDS),
    ]


def _cell(value: Any) -> Any:
    """A count as itself; the `outcomes` object as `home=1 referred=2 …`."""
    if isinstance(value, Mapping):
        return " ".join(f"{key}={count}" for key, count in value.items())
    return value


def rows(
    level: str, week: str, subjects: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[list[Any]]:
    """(code, name, indicators) per subject -> table rows, in the order of `headers`."""
    return [
        [level, code, name, week, *(_cell(values.get(field)) for field in INDICATOR_FIELDS)]
        for code, name, values in subjects
    ]


def to_csv(header: Sequence[str], table: Sequence[Sequence[Any]]) -> bytes:
    return csv_file(header, table)


def to_xlsx(header: Sequence[str], table: Sequence[Sequence[Any]], sheet: str) -> bytes:
    return xlsx_file(header, table, sheet)
