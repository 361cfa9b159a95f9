"""CSV and XLSX of a rollup table (one row per subject), headers in the reader's language."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

import xlsxwriter

from grids.core.spreadsheet_cells import csv_row, write_xlsx_row
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
    """UTF-8 with a BOM, so spreadsheet programs open Chinese headers correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_row(header))
    for row in table:
        writer.writerow(csv_row(row))
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(header: Sequence[str], table: Sequence[Sequence[Any]], sheet: str) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    write_xlsx_row(worksheet, 0, header, bold)
    for index, row in enumerate(table, start=1):
        write_xlsx_row(worksheet, index, row)
    worksheet.freeze_panes(1, 3)
    worksheet.set_column(0, len(header) - 1, 12)
    workbook.close()
    return buffer.getvalue()
