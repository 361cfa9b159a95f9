"""Grid formation for a million patients: the pure function, and end to end on PostgreSQL.

    .venv/bin/python -m bench.formation [--patients 1000000] [--url URL] [--skip-postgres]

1. The pure function: the synthetic county is generated and turned into formation
   inputs, which are pickled; a fresh child process loads them and runs `form_grids`.
   Printed: wall time, the function's own peak allocations (tracemalloc, in a second
   run), and the child's peak resident set size (`ru_maxrss`: inputs plus formation,
   without the generator's rows).
2. End to end on PostgreSQL: a fresh database (`huzhu_bench_formation_<pid>`) is created,
   migrated, and loaded with the county by COPY (not timed); a child process then
   runs `form_grids_in_database` and commits. Printed: load, form, write and commit
   times, the total, the child's peak RSS, and a second run (nothing changes). The
   database is dropped afterwards.

Targets: each under 10 s and under 2 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from grids.core.vocabulary import condition_code
from grids.demo.synthetic import SyntheticCounty, formation_input, generate_county
from grids.formation.planner import form_grids
from grids.formation.service import form_grids_in_database
from grids.storage import migrate
from grids.storage.database import Database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_formation_{os.getpid()}"
MB = 1024 * 1024


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _child(*args: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.formation", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# --- 1. the pure function -----------------------------------------------------------------


def pure_child(path: Path) -> None:
    with path.open("rb") as handle:
        data = pickle.load(handle)
    gc.collect()
    inputs_rss = _current_rss_bytes()
    started = time.perf_counter()
    plan = form_grids(data)
    seconds = time.perf_counter() - started
    rss = _peak_rss_bytes()
    report = plan.report
    del plan
    gc.collect()
    tracemalloc.start()
    form_grids(data)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss": rss,
                "inputs_rss": inputs_rss,
                "traced_peak": traced_peak,
                "grids": report.grids_created,
                "placed": report.placed,
                "needs_coordinator": len(report.needs_coordinator),
                "unassigned": report.unassigned,
                "figures": report.figures.as_dict(),
            }
        )
    )


def bench_pure(county: SyntheticCounty, directory: Path) -> None:
    data = formation_input(county)
    path = directory / "formation-input.pickle"
    with path.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    del data
    figures = _child("--child-pure", str(path))
    print("1. pure function form_grids()")
    print(f"   patients                 {len(county.patients):>12,}")
    print(f"   grids formed             {figures['grids']:>12,}")
    print(f"   members placed           {figures['placed']:>12,}")
    print(f"   needing a coordinator    {figures['needs_coordinator']:>12,}")
    print(f"   without a doctor         {figures['unassigned']:>12,}")
    shape = figures["figures"]
    ratio = shape["grids"] / shape["min_grids"] if shape["min_grids"] else 0.0
    print(f"   fewest grids possible    {shape['min_grids']:>12,}")
    print(f"   grids / fewest           {ratio:>12.3f}   (target <= 1.15)")
    print(f"   mean members per grid    {shape['mean_size']:>12.2f}   (target >= 16)")
    print(f"   mixed grids              {shape['mixed_grids']:>12,}")
    print(f"   small grids (< 8)        {shape['small_grids']:>12,}")
    print(f"   same-condition share     {shape['same_condition_share']:>12.4f}")
    print(f"   wall time                {figures['seconds']:>12.2f} s   (target < 10 s)")
    print(
        f"   peak RSS, ru_maxrss      {figures['peak_rss'] / MB:>12,.0f} MB  "
        "(child process: unpickling, inputs, formation; target < 2048 MB)"
    )
    print(
        f"   RSS with inputs loaded   {figures['inputs_rss'] / MB:>12,.0f} MB  (before formation)"
    )
    print(
        f"   tracemalloc peak         {figures['traced_peak'] / MB:>12,.0f} MB  (formation alone)"
    )


# --- 2. end to end on PostgreSQL ----------------------------------------------------------


def _admin(url: str, statement: str) -> None:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _e164(number: str) -> str | None:
    if not number:
        return None
    digits = number.replace("-", "")
    return "+86" + (digits[1:] if digits.startswith("0") else digits)


def _person_columns(
    number: int, row: dict[str, str], facility_ids: dict[str, int]
) -> tuple[int, str, str, str | None, int]:
    """The first columns of a doctor or patient row: id, code, name, phone, facility."""
    return (
        number,
        row["code"],
        row["name"],
        _e164(row["phone"]),
        facility_ids[row["facility_code"]],
    )


def load_county(url: str, county: SyntheticCounty) -> None:
    """COPY the county straight into the roster tables (what an import would store)."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        cursor = connection.cursor()
        facility_ids = {row["code"]: n for n, row in enumerate(county.facilities, start=1)}
        with cursor.copy(
            "COPY facilities (id, code, name, level, parent_id, phone, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for row in county.facilities:
                copy.write_row(
                    (
                        facility_ids[row["code"]],
                        row["code"],
                        row["name"],
                        row["level"],
                        facility_ids.get(row["parent_code"]),
                        _e164(row["phone"]),
                        now,
                        now,
                    )
                )
        with cursor.copy(
            "COPY doctors (id, code, name, phone, facility_id, language, status, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for number, row in enumerate(county.doctors, start=1):
                copy.write_row(
                    (
                        *_person_columns(number, row, facility_ids),
                        "zh_CN",
                        "active",
                        now,
                        now,
                    )
                )
        codes: dict[str, tuple[str, str]] = {}

        def coded(chinese: str) -> tuple[str, str]:
            """`高血压;糖尿病` -> (`hypertension`, `["hypertension", "diabetes"]`)."""
            if chinese not in codes:
                words = [condition_code(word) or word for word in chinese.split(";")]
                codes[chinese] = (words[0], json.dumps(words))
            return codes[chinese]

        with cursor.copy(
            "COPY patients (id, code, name, phone, facility_id, primary_condition, conditions, "
            "birth_year, sex, volunteer, status, language, created_at, updated_at) FROM STDIN"
        ) as copy:
            for number, row in enumerate(county.patients, start=1):
                primary, conditions = coded(row["conditions"])
                copy.write_row(
                    (
                        *_person_columns(number, row, facility_ids),
                        primary,
                        conditions,
                        int(row["birth_year"]),
                        row["sex"],
                        row["volunteer"] == "y",
                        "active",
                        "zh_CN",
                        now,
                        now,
                    )
                )
        for table in ("facilities", "doctors", "patients"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        connection.commit()
        cursor.execute("ANALYZE")
        connection.commit()
    finally:
        raw.close()
        engine.dispose()


def end_to_end_child(url: str) -> None:
    database = Database(url)
    runs = []
    for _ in range(2):
        with database.unit_of_work() as session:
            started = time.perf_counter()
            result = form_grids_in_database(session, now=datetime.now(UTC), actor="bench")
            before_commit = time.perf_counter()
            session.commit()
            finished = time.perf_counter()
        runs.append(
            {
                **result.timings,
                "commit": finished - before_commit,
                "total": finished - started,
                "grids": result.plan.report.grids_created,
                "placed": result.plan.report.placed,
                "written": result.written,
            }
        )
    database.dispose()
    print(json.dumps({"runs": runs, "peak_rss": _peak_rss_bytes()}))


def bench_end_to_end(url: str, county: SyntheticCounty) -> None:
    target = make_url(url).set(database=DATABASE_NAME).render_as_string(hide_password=False)
    _admin(url, f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{DATABASE_NAME}"')
    try:
        migrate.upgrade(target)
        started = time.perf_counter()
        load_county(target, county)
        setup = time.perf_counter() - started
        figures = _child("--child-end-to-end", target)
    finally:
        _admin(url, f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
    first, second = figures["runs"]
    print("2. end to end on PostgreSQL: load -> form -> write -> commit")
    print(f"   setup: COPY of the roster {setup:>10.2f} s   (not timed below)")
    print(f"   grids written            {first['grids']:>12,}")
    print(f"   memberships written      {first['placed']:>12,}")
    for phase in ("load", "form", "write", "commit"):
        print(f"   {phase:<24} {first[phase]:>12.2f} s")
    print(f"   total                    {first['total']:>12.2f} s   (target < 10 s)")
    print(
        f"   peak RSS, ru_maxrss      {figures['peak_rss'] / MB:>12,.0f} MB  "
        "(child process, both runs; target < 2048 MB)"
    )
    print(
        f"   second run, no changes   {second['total']:>12.2f} s   "
        f"(load {second['load']:.2f}, form {second['form']:.2f}; "
        f"wrote {'something' if second['written'] else 'nothing'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=48)
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL server (any database)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--child-pure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-end-to-end", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_pure:
        pure_child(args.child_pure)
        return
    if args.child_end_to_end:
        end_to_end_child(args.child_end_to_end)
        return

    started = time.perf_counter()
    county = generate_county(args.patients, args.seed)
    print(
        f"synthetic county: {len(county.patients):,} patients, {len(county.doctors):,} doctors, "
        f"{len(county.facilities):,} facilities, generated in "
        f"{time.perf_counter() - started:.2f} s (seed {args.seed})"
    )
    with tempfile.TemporaryDirectory(prefix="huzhu-bench-") as directory:
        bench_pure(county, Path(directory))
    if not args.skip_postgres:
        bench_end_to_end(args.url, county)


if __name__ == "__main__":
    main()
