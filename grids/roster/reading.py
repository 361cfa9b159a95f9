"""Reading roster files: decoding, finding and mapping the header, splitting records, and
checking each row (`grids.roster.row_checks`). Pure: no database, no Flask.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from config.logging import mask_phone
from grids.core.spreadsheet_cells import looks_like_formula
from grids.core.vocabulary import (
    fold,
)
from grids.roster.records import (
    COLUMNS,
    DELIMITERS,
    HEADER_ALIASES,
    HEADER_SEARCH_LINES,
    Entry,
    FacilityRow,
    ParsedFile,
    RosterFiles,
    RosterNotice,
    RowError,
    Track,
    accepted_headers,
    clean,
)
from grids.roster.row_checks import ROW_PARSERS, RowContext
from grids.roster.row_checks import _is_mobile as is_mobile_number

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters no cell should hold (tab and line breaks are the CSV's own)."""

# --- reading a file ------------------------------------------------------------------------


class _FileProblem(Exception):
    def __init__(self, key: str, line: int | None = None, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.line = line
        self.params = params


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was in: UTF-8 (BOM or not), else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileProblem("roster.error.utf16")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as error:
        utf8_error = error
    if not data[: utf8_error.start].isascii():
        # Non-ASCII text that is valid UTF-8 up to the bad byte: a UTF-8 file with one
        # broken spot, not a GB18030 file (whose first Chinese name would fail UTF-8).
        raise _undecodable(data, utf8_error.start)
    try:
        return data.decode("gb18030").lstrip("\ufeff"), "gb18030"
    except UnicodeDecodeError as error:
        # A problem of the whole file (its encoding), reported where it shows first.
        raise _undecodable(data, error.start) from None


def _undecodable(data: bytes, position: int) -> _FileProblem:
    problem = _FileProblem("roster.error.undecodable")
    problem.params = {"line": data.count(b"\n", 0, position) + 1}
    return problem


def _find_header(kind: str, text: str) -> tuple[str, int]:
    """The delimiter and the physical line of the header.

    The header is the first of the top lines in which, split by one of `DELIMITERS`,
    at least two cells are column names of `kind`; lines above it are titles. A file
    where no line qualifies is read with commas from its first line, so that the
    missing columns are reported.
    """
    aliases = HEADER_ALIASES[kind]
    top = itertools.islice(io.StringIO(text), HEADER_SEARCH_LINES)
    for number, line in enumerate(top, start=1):
        for delimiter in DELIMITERS:
            if delimiter not in line:
                continue
            cells = next(csv.reader([line], delimiter=delimiter), [])
            if sum(fold(clean(cell)) in aliases for cell in cells) >= 2:
                return delimiter, number
    return ",", 1


def _records(text: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, cleaned fields); blank records skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = 0
    try:
        for fields in reader:
            line = previous + 1
            previous = reader.line_num
            cleaned = [clean(value) for value in fields]
            if any(cleaned):
                yield line, cleaned
    except csv.Error as error:
        raise _FileProblem(
            "roster.error.malformed_csv", line=previous + 1, detail=str(error)
        ) from None


def _map_header(kind: str, parsed: ParsedFile, header: list[str], line: int) -> dict[int, str]:
    """Column index -> canonical column; records notices and file errors on `parsed`."""
    aliases = HEADER_ALIASES[kind]
    positions: dict[int, str] = {}
    seen: dict[str, list[str]] = defaultdict(list)
    ignored: list[str] = []
    for index, text in enumerate(header):
        if not text:
            continue
        column = aliases.get(fold(text))
        if column is None:
            ignored.append(text)
            continue
        positions[index] = column
        seen[column].append(text)
        parsed.headers.setdefault(column, text)
    for column, texts in seen.items():
        if len(texts) > 1:
            parsed.errors.append(
                RowError(
                    kind,
                    line,
                    column,
                    "roster.error.duplicate_column",
                    {"column": column, "headers": ", ".join(texts)},
                )
            )
    for expected in COLUMNS[kind]:
        if expected.required and expected.name not in seen:
            parsed.errors.append(
                RowError(
                    kind,
                    line,
                    expected.name,
                    "roster.error.missing_column",
                    {"column": expected.name, "accepted": accepted_headers(kind, expected.name)},
                )
            )
    if ignored:
        parsed.notices.append(
            RosterNotice(kind, "roster.notice.ignored_columns", {"columns": ", ".join(ignored)})
        )
    parsed.columns = frozenset(seen)
    return positions


def read_roster_file(
    path: Path,
    kind: str,
    *,
    today: date,
    track: Track | None = None,
) -> ParsedFile:
    """Read one file and check each row on its own (values, formats, duplicates in the file).

    References between rows and to the database are checked by `validate_roster`.
    """
    parsed = ParsedFile(kind=kind, path=Path(path))
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        parsed.errors.append(
            RowError(kind, None, None, "roster.error.unreadable", {"detail": error.strerror or ""})
        )
        return parsed
    try:
        text, parsed.encoding = decode(data)
        if parsed.encoding == "gb18030":
            parsed.notices.append(RosterNotice(kind, "roster.notice.gb18030"))
        delimiter, header_at = _find_header(kind, text)
        records = _records(text, delimiter)
        titles: list[int] = []
        first = next(records, None)
        while first is not None and first[0] < header_at:
            titles.append(first[0])
            first = next(records, None)
        if first is None:
            raise _FileProblem("roster.error.no_header")
        if titles:
            lines = f"{titles[0]}-{titles[-1]}" if len(titles) > 1 else str(titles[0])
            parsed.notices.append(RosterNotice(kind, "roster.notice.title_rows", {"lines": lines}))
        header_line, header = first
        positions = _map_header(kind, parsed, header, header_line)
        if parsed.has_file_error:
            return parsed
        width = max((index + 1 for index, cell in enumerate(header) if cell), default=0)
        code_at = next((i for i, column in positions.items() if column == "code"), None)
        parse_row = ROW_PARSERS[kind]
        context = RowContext(kind, parsed.headers, today)
        rows: Iterable[tuple[int, list[str]]] = records
        if track is not None:
            rows = track(records, text.count("\n"), kind)
        for line, fields in rows:
            if any(fields[width:]):
                # A value with an unquoted comma shifts every later column: one clear
                # error beats a confusing one for each shifted value.
                count = max(i + 1 for i, value in enumerate(fields) if value)
                parsed.errors.append(
                    RowError(
                        kind,
                        line,
                        None,
                        "roster.error.too_many_values",
                        {"count": count, "columns": width},
                    )
                )
                code = fields[code_at] if code_at is not None else None
                parsed.entries.append(Entry(line, code or None, None))
                continue
            values = {column: fields[i] for i, column in positions.items() if i < len(fields)}
            controlled = [column for column, value in values.items() if _CONTROL.search(value)]
            if controlled:
                # A NUL or other control character: no database column can hold it.
                for column in controlled:
                    parsed.errors.append(
                        RowError(
                            kind,
                            line,
                            column,
                            "roster.error.control_character",
                            {},
                            parsed.headers.get(column),
                        )
                    )
                parsed.entries.append(Entry(line, values.get("code") or None, None))
                continue
            entry = parse_row(context, line, values, parsed.errors)
            parsed.entries.append(entry)
            formulas = [
                parsed.headers.get(column) or column
                for column, value in values.items()
                if column != "phone" and looks_like_formula(value)
            ]
            if formulas:
                # Imported as typed; every export writes it as text, but someone typed it.
                parsed.notices.append(
                    RosterNotice(
                        kind,
                        "roster.notice.formula_text",
                        {"line": line, "columns": ", ".join(formulas)},
                    )
                )
            duty = entry.row.phone if isinstance(entry.row, FacilityRow) else None
            if duty and not is_mobile_number(duty):
                # Urgent alerts go to a facility's duty phone by SMS: a landline never
                # gets them. The row is imported; the administrator is told.
                parsed.notices.append(
                    RosterNotice(
                        kind,
                        "roster.notice.duty_phone_landline",
                        {"line": line, "phone": mask_phone(duty)},
                    )
                )
    except _FileProblem as problem:
        parsed.errors.append(RowError(kind, problem.line, None, problem.key, problem.params))
        return parsed
    _check_duplicate_codes(parsed)
    return parsed


def read_roster(
    files: RosterFiles, *, today: date, track: Track | None = None
) -> dict[str, ParsedFile]:
    return {
        kind: read_roster_file(path, kind, today=today, track=track) for kind, path in files.given()
    }


def _check_duplicate_codes(parsed: ParsedFile) -> None:
    lines_by_code: dict[str, list[int]] = defaultdict(list)
    for entry in parsed.entries:
        if entry.code:
            lines_by_code[entry.code].append(entry.line)
    duplicated = {code: lines for code, lines in lines_by_code.items() if len(lines) > 1}
    if not duplicated:
        return
    for index, entry in enumerate(parsed.entries):
        lines = duplicated.get(entry.code or "")
        if lines:
            others = ", ".join(str(line) for line in lines if line != entry.line)
            parsed.errors.append(
                RowError(
                    parsed.kind,
                    entry.line,
                    "code",
                    "roster.error.duplicate_code",
                    {"code": entry.code, "lines": others},
                    parsed.headers.get("code"),
                )
            )
            parsed.entries[index] = Entry(entry.line, entry.code, None, entry.facility_code)
