"""Roster import of a synthetic county into a fresh PostgreSQL database.

    .venv/bin/python -m bench.roster_import [--patients 100000] [--url URL]

Prints the wall time of reading and validating the CSV files, of the whole
import (validation, comparison with the database, bulk writes, commit), rows
per second, and of a re-import of the same files (nothing changes). Target:
100,000 patients in under 30 s. The database `huzhu_bench_roster_<pid>` is created,
migrated and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from grids.demo.synthetic import generate_county, write_csv_files
from grids.models import Patient
from grids.roster.importing import ImportReport, import_roster
from grids.roster.reading import read_roster
from grids.roster.records import RosterFiles
from grids.roster.references import ExistingRoster, validate_roster
from grids.storage import migrate
from grids.storage.database import Database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_roster_{os.getpid()}"
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _admin(url: str, statement: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _import(database: Database, files: RosterFiles) -> ImportReport:
    with database.unit_of_work() as session:
        now = datetime.now(UTC)
        report = import_roster(session, files, default_language="zh_CN", now=now, today=now.date())
        if report.applied:
            session.commit()
    return report


def _line(report: ImportReport) -> str:
    return ", ".join(
        f"{kind} {f.read} read/{f.created} created/{f.updated} updated/"
        f"{f.unchanged} unchanged/{f.bad} bad"
        for kind, f in report.files.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--url", default=DEFAULT_URL, help="any database on the server")
    args = parser.parse_args()

    county, generated = timed(lambda: generate_county(patients=args.patients))
    print(
        f"synthetic county: {len(county.facilities)} facilities, {len(county.doctors)} doctors, "
        f"{len(county.patients)} patients ({generated:.1f} s to generate)"
    )
    url = make_url(args.url).set(database=DATABASE_NAME).render_as_string(hide_password=False)
    _admin(args.url, f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
    _admin(args.url, f'CREATE DATABASE "{DATABASE_NAME}"')
    database: Database | None = None
    try:
        migrate.upgrade(url)
        database = Database(url)
        with tempfile.TemporaryDirectory() as directory:
            paths = write_csv_files(county, Path(directory))
            files = RosterFiles(paths["facilities"], paths["doctors"], paths["patients"])
            size = sum(path.stat().st_size for path in paths.values()) / 1e6
            print(f"CSV files: {size:.1f} MB")

            validated, validation = timed(
                lambda: validate_roster(read_roster(files, today=date.today()), ExistingRoster())
            )
            assert not validated.errors, validated.errors[:5]
            rows = sum(parsed.rows_read for parsed in validated.files.values())
            report, first = timed(lambda: _import(database, files))
            assert report.applied and not report.errors
            again, second = timed(lambda: _import(database, files))
            assert not again.written
            with database.unit_of_work() as session:
                stored = session.scalar(select(func.count()).select_from(Patient))
            assert stored == len(county.patients)

        print(f"read + validate (pure):  {validation:6.2f} s  {rows / validation:9,.0f} rows/s")
        print(f"import into PostgreSQL:  {first:6.2f} s  {rows / first:9,.0f} rows/s")
        print(f"  {_line(report)}")
        print(f"re-import (no change):   {second:6.2f} s  {rows / second:9,.0f} rows/s")
        print(f"  {_line(again)}")
        verdict = "met" if first < 30 else "MISSED"
        print(f"target: {args.patients:,} patients under 30 s: {verdict}")
    finally:
        if database is not None:
            database.dispose()
        _admin(args.url, f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
