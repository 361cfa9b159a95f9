"""Escalation figures: the hierarchy graph of a province, one grid's ladder, one big tick.

    .venv/bin/python -m bench.escalation [--members 1000000] [--escalations 10000] [--url URL]

1. Builds the `Hierarchy` (networkx) for `--members` members in grids of 20 under
   doctors of 15 grids, clinics, townships and counties, from plain rows (what
   `load_hierarchy` does after its queries): time and resident memory. Floor: < 10 s.
2. Builds the ladder of one grid, for many grids: time per ladder. Floor: < 1 ms.
3. On PostgreSQL (database `huzhu_bench_escalation_<pid>`, created and dropped), opens
   `--escalations` escalations whose doctor step timed out, and times one
   `run_escalation_tick` that advances them all to the next step (events, outbox rows,
   exactly once). Floor: < 2 s.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select

from config.settings import Settings
from grids.escalation.hierarchy import DoctorInfo, FacilityInfo, GridInfo, Hierarchy
from grids.escalation.keys import step_key
from grids.escalation.ladder import build_ladder
from grids.escalation.models import Escalation, EscalationEvent
from grids.storage import migrate
from grids.storage.database import Database
from notifications.escalation.tick import run_escalation_tick
from notifications.models import OutboxMessage
from tests.support.postgres import create_postgres_database, drop_postgres_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_escalation_{os.getpid()}"
REPLAY_NAME = f"{DATABASE_NAME}_replay"
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
GRID_SIZE = 20
GRIDS_PER_DOCTOR = 15
DOCTORS_PER_CLINIC = 3
CLINICS_PER_TOWNSHIP = 20
TOWNSHIPS_PER_COUNTY = 14


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def province(members: int) -> tuple[list[FacilityInfo], list[DoctorInfo], list[GridInfo]]:
    grids_count = members // GRID_SIZE
    doctors_count = -(-grids_count // GRIDS_PER_DOCTOR)
    clinics_count = -(-doctors_count // DOCTORS_PER_CLINIC)
    townships_count = -(-clinics_count // CLINICS_PER_TOWNSHIP)
    counties_count = -(-townships_count // TOWNSHIPS_PER_COUNTY)
    facilities: list[FacilityInfo] = []
    next_id = 1
    counties = []
    for n in range(counties_count):
        facilities.append(
            FacilityInfo(next_id, f"C{n}", f"县医院{n}", "county_hospital", f"+8613{next_id:09d}")
        )
        counties.append(next_id)
        next_id += 1
    townships = []
    for n in range(townships_count):
        parent = counties[n // TOWNSHIPS_PER_COUNTY]
        facilities.append(
            FacilityInfo(
                next_id, f"T{n}", f"卫生院{n}", "township_center", f"+8613{next_id:09d}", parent
            )
        )
        townships.append(next_id)
        next_id += 1
    clinics = []
    for n in range(clinics_count):
        parent = townships[n // CLINICS_PER_TOWNSHIP]
        facilities.append(
            FacilityInfo(
                next_id, f"V{n}", f"卫生室{n}", "village_clinic", f"+8613{next_id:09d}", parent
            )
        )
        clinics.append(next_id)
        next_id += 1
    doctors = [
        DoctorInfo(n + 1, f"D{n}", f"医生{n}", f"+8615{n:09d}", clinics[n // DOCTORS_PER_CLINIC])
        for n in range(doctors_count)
    ]
    grids = [
        GridInfo(
            n + 1,
            f"G{n}",
            doctors[n // GRIDS_PER_DOCTOR].facility_id,
            n // GRIDS_PER_DOCTOR + 1,
            n * GRID_SIZE + 1,
        )
        for n in range(grids_count)
    ]
    return facilities, doctors, grids


def bench_graph(members: int) -> Hierarchy:
    facilities, doctors, grids = province(members)
    memberships = [
        (grid.id, grid.id * GRID_SIZE + seat) for grid in grids for seat in range(GRID_SIZE)
    ]
    gc.collect()
    before = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    hierarchy = Hierarchy.build(facilities, doctors, grids, memberships)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    del memberships
    gc.collect()
    grown = rss_mib() - before
    print(
        f"hierarchy graph: {members:,} members, {len(grids):,} grids, {len(doctors):,} doctors, "
        f"{len(facilities):,} facilities, {len(hierarchy):,} nodes: built in {elapsed:.2f} s "
        f"({cpu:.2f} s CPU; floor 10 s), {grown:,.0f} MiB resident"
    )
    return hierarchy


def bench_ladder(hierarchy: Hierarchy, grids: int, samples: int = 5000) -> None:
    ids = random.Random(7).sample(range(1, grids + 1), min(samples, grids))
    started = time.perf_counter()
    for grid_id in ids:
        build_ladder(hierarchy, grid_id=grid_id, red_flag=True, county_duty_phone="+8613700001111")
    per = (time.perf_counter() - started) / len(ids)
    print(f"one grid's ladder: {per * 1000:.3f} ms (mean of {len(ids):,}; floor 1 ms)")


@dataclass
class Statement:
    sql: str
    parameters: Any
    executemany: bool
    seconds: float = 0.0
    """Client-side wall time from sending the statement to its result."""


@dataclass
class StatementLog:
    """Every statement an engine sends, with its parameters and wall time, and its
    commits (`None` entries), from a SQLAlchemy `before_cursor_execute` event on."""

    engine: Engine
    entries: list[Statement | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "commit", self._commit)

    def _before(
        self, _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        statement = Statement(sql, parameters, many)
        self.entries.append(statement)
        # Per connection: the tick writes one batch while it reads the next.
        _conn.info["bench_statement"] = (statement, time.perf_counter())

    def _after(self, conn: Any, *_args: Any) -> None:
        statement, started = conn.info.pop("bench_statement")
        statement.seconds = time.perf_counter() - started

    def _commit(self, _conn: Any) -> None:
        self.entries.append(None)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "commit", self._commit)

    @property
    def statements(self) -> list[Statement]:
        return [entry for entry in self.entries if entry is not None]

    def __str__(self) -> str:
        many = [entry for entry in self.statements if entry.executemany]
        sets = sum(len(entry.parameters) for entry in many)
        waited = sum(entry.seconds for entry in self.statements)
        return (
            f"{len(self.statements):,} SQL statements ({len(many):,} executemany with "
            f"{sets:,} parameter sets), {waited:.2f} s waiting for them"
        )


def family(sql: str) -> str:
    """`SELECT escalations`, `INSERT outbox`, `UPDATE escalations`: what a statement does."""
    words = sql.split()
    verb = words[0].upper()
    if verb == "SELECT":
        table = words[words.index("FROM") + 1] if "FROM" in words else "?"
    else:
        table = words[2] if verb in {"INSERT", "DELETE"} else words[1]
    return f"{verb} {table}"


def replay_on_server(url: str, log: StatementLog) -> None:
    """Run the tick's statements again, in order and with the same parameters, on a copy
    of the database as it was before the tick, under `EXPLAIN ANALYZE`: the time the
    server spent on them (planning and execution), by kind, and its commits."""
    engine = create_engine(url)
    per_family: dict[str, list[float]] = {}
    triggers: dict[str, float] = {}
    """Foreign-key checks (row triggers), part of the execution time."""
    commits = 0.0
    try:
        connection = engine.raw_connection()
        cursor = connection.cursor()
        for entry in log.entries:
            if entry is None:
                started = time.perf_counter()
                connection.commit()
                commits += time.perf_counter() - started
                continue
            if entry.executemany:
                raise RuntimeError(f"executemany cannot be replayed: {entry.sql[:60]}")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + entry.sql, entry.parameters)
            row = cursor.fetchone()
            assert row is not None
            [plan] = row[0]
            spent = (plan["Planning Time"] + plan["Execution Time"]) / 1000
            per_family.setdefault(family(entry.sql), []).append(spent)
            checks = sum(trigger["Time"] for trigger in plan.get("Triggers", [])) / 1000
            if checks:
                triggers[family(entry.sql)] = triggers.get(family(entry.sql), 0.0) + checks
        connection.commit()
        connection.close()
    finally:
        engine.dispose()
    total = sum(sum(times) for times in per_family.values()) + commits
    parts = ", ".join(
        f"{name} {len(times)}x {sum(times):.2f} s"
        + (f" (foreign-key checks {triggers[name]:.2f} s)" if name in triggers else "")
        for name, times in sorted(per_family.items(), key=lambda item: -sum(item[1]))
    )
    print(
        f"  server side (EXPLAIN ANALYZE of the same statements on a copy): {total:.2f} s = "
        f"{parts}, commits {commits:.2f} s"
    )


def seed(database: Database, escalations: int) -> None:
    """`escalations` open cases whose doctor SMS was sent at T0 (step timed out at T0+10)."""
    facilities, doctors, _grids = province(GRID_SIZE * GRIDS_PER_DOCTOR)
    ladder = build_ladder(
        Hierarchy.build(facilities, doctors, [GridInfo(1, "G0", facilities[-1].id, 1, 1)]),
        grid_id=1,
    ).as_json()
    doctor_phone = ladder["steps"][0]["contacts"][0]["phone"]
    params = {
        "grid": "G0",
        "seat": "5",
        "name": "张桂兰",
        "text": "头晕",
        "code": "K7Q",
        "phone": "+8613900000001",
        "reporter": "王芳",
    }
    with database.engine.begin() as connection:
        connection.execute(
            insert(Escalation.__table__),
            [
                {
                    "id": n,
                    "code": f"B{n}",
                    "state": "open",
                    "text": "头晕",
                    "red_flag": False,
                    "params": params,
                    "ladder": ladder,
                    "step": 0,
                    "round": 1,
                    "step_started_at": T0,
                    "next_step_at": T0 + timedelta(minutes=10),
                    "token": 1,
                    "called": True,
                    "duty_alerted_round": 0,
                    "deliveries": {},
                    "opened_at": T0,
                    "updated_at": T0,
                }
                for n in range(1, escalations + 1)
            ],
        )
        connection.execute(
            insert(OutboxMessage.__table__),
            [
                {
                    "idempotency_key": step_key(n, 0, 1, doctor_phone, "sms"),
                    "to_phone": doctor_phone,
                    "template": "sms.urgent.doctor",
                    "params": params,
                    "language": "zh_CN",
                    "body": "【急】",
                    "urgent": True,
                    "channel": "sms",
                    "status": "sent",
                    "attempts": 1,
                    "next_attempt_at": T0,
                    "provider": "memory",
                    "provider_sid": f"SM{n:032x}",
                    "created_at": T0,
                    "sent_at": T0,
                    "updated_at": T0,
                }
                for n in range(1, escalations + 1)
            ],
        )
        connection.exec_driver_sql("ANALYZE")


def bench_tick(url: str, escalations: int, *, profile: bool = False, server: bool = True) -> None:
    database_url = create_postgres_database(url, DATABASE_NAME)
    replay_url = None
    try:
        migrate.upgrade(database_url)
        database = Database(database_url)
        seed(database, escalations)
        if server:
            database.dispose()  # nobody may be connected to the database copied
            replay_url = create_postgres_database(url, REPLAY_NAME, copy_of=DATABASE_NAME)
        profiler = cProfile.Profile() if profile else None
        log = StatementLog(database.engine)
        started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        advanced = run_escalation_tick(database, Settings(), T0 + timedelta(minutes=11))
        if profiler is not None:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        log.close()
        with database.unit_of_work() as session:
            moved = session.scalar(
                select(func.count()).select_from(Escalation).where(Escalation.step == 1)
            )
            events = session.scalar(select(func.count()).select_from(EscalationEvent))
            queued = session.scalar(select(func.count()).select_from(OutboxMessage))
        again = run_escalation_tick(database, Settings(), T0 + timedelta(minutes=11))
        print(
            f"escalation tick on PostgreSQL: {advanced:,} of {escalations:,} open escalations "
            f"advanced in {elapsed:.2f} s wall ({cpu:.2f} s CPU in Python; floor 2 s); "
            f"{moved:,} at the next step, {events:,} events, "
            f"{(queued or 0) - escalations:,} messages queued; "
            f"a second tick at the same time advanced {again}\n  {log}"
        )
        database.dispose()
        if replay_url is not None:
            replay_on_server(replay_url, log)
        if profiler is not None:
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative"))
            stats.print_stats(30)
    finally:
        drop_postgres_database(url, DATABASE_NAME)
        drop_postgres_database(url, REPLAY_NAME)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--escalations", type=int, default=10_000)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--tick-only", action="store_true", help="only the tick")
    parser.add_argument(
        "--profile", action="store_true", help="print the tick's cProfile (slows it down)"
    )
    parser.add_argument(
        "--no-server-time",
        action="store_true",
        help="skip replaying the tick's statements under EXPLAIN ANALYZE",
    )
    args = parser.parse_args(argv)
    if not args.tick_only:
        hierarchy = bench_graph(args.members)
        bench_ladder(hierarchy, args.members // GRID_SIZE)
        del hierarchy
        gc.collect()
    bench_tick(args.url, args.escalations, profile=args.profile, server=not args.no_server_time)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
