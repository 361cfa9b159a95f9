"""Cells of every CSV and XLSX export: text a spreadsheet would run as a formula stays text.

A name typed into a roster as `=HYPERLINK(...)` must not become a live formula in the
bureau's spreadsheet (CSV injection, OWASP). In CSV such a cell gets a leading `'`,
which spreadsheet programs show as text; in XLSX it is written as a string cell. The
roster import warns about such text with `looks_like_formula`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import xlsxwriter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet program takes as the start of a formula (or strips before one)."""

CSV_TEXT_MARK = "'"


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell: empty for None, text that looks like a formula marked."""
    if value is None:
        return ""
    if isinstance(value, str) and looks_like_formula(value):
        return CSV_TEXT_MARK + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(value) for value in values]


class Worksheet(Protocol):
    """The part of `xlsxwriter.worksheet.Worksheet` the exports use."""

    def write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int: ...

    def write_number(self, row: int, col: int, number: float, cell_format: Any = None) -> int: ...

    def write_boolean(self, row: int, col: int, boolean: bool, cell_format: Any = None) -> int: ...

    def write_blank(self, row: int, col: int, blank: Any, cell_format: Any = None) -> int: ...


def write_xlsx_row(
    worksheet: Worksheet, row: int, values: Sequence[Any], cell_format: Any = None
) -> None:
    """One row from column 0: numbers as numbers, every text as a string cell (never a formula)."""
    for col, value in enumerate(values):
        if value is None:
            worksheet.write_blank(row, col, None, cell_format)
        elif isinstance(value, bool):
            worksheet.write_boolean(row, col, value, cell_format)
        elif isinstance(value, int | float):
            worksheet.write_number(row, col, value, cell_format)
        else:
            worksheet.write_string(row, col, str(value), cell_format)


def csv_file(header: Sequence[str], table: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM, so spreadsheet programs open Chinese headers correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(csv_row(header))
    for row in table:
        writer.writerow(csv_row(row))
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_file(header: Sequence[str], table: Iterable[Sequence[Any]], sheet: str) -> bytes:
    """One sheet, the header bold and frozen with the first three columns."""
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
