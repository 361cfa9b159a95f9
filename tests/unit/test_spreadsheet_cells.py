"""The one rule of export cells: text a spreadsheet would run as a formula stays text."""

from __future__ import annotations

from typing import Any

import pytest

from grids.core.spreadsheet_cells import csv_row, looks_like_formula, write_xlsx_row


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_are_marked_in_csv(text: str) -> None:
    assert looks_like_formula(text)
    assert csv_row([text]) == ["'" + text]


def test_plain_text_numbers_and_none_pass_through() -> None:
    assert csv_row(["张秀英", "a=b", 5, -3, None, 0.5]) == ["张秀英", "a=b", 5, -3, "", 0.5]


class _Sheet:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        self.calls.append(("string", string))
        return 0

    def write_number(self, row: int, col: int, number: float, cell_format: Any = None) -> int:
        self.calls.append(("number", number))
        return 0

    def write_boolean(self, row: int, col: int, boolean: bool, cell_format: Any = None) -> int:
        self.calls.append(("boolean", boolean))
        return 0

    def write_blank(self, row: int, col: int, blank: Any, cell_format: Any = None) -> int:
        self.calls.append(("blank", None))
        return 0


def test_xlsx_rows_write_every_text_as_a_string() -> None:
    sheet = _Sheet()
    write_xlsx_row(sheet, 0, ["=HYPERLINK(1)", 3, None, True, "RD1"])
    assert sheet.calls == [
        ("string", "=HYPERLINK(1)"),
        ("number", 3),
        ("blank", None),
        ("boolean", True),
        ("string", "RD1"),
    ]
