"""A province on PostgreSQL: every figure of the scale table at MEMBERS members.

    .venv/bin/python -m bench.province [--members 10000000] [--county-members 100000]
        [--url URL] [--repeat 2] [--page-loads 40] [--verbose] [--keep | --reuse DATABASE]

Builds (not timed in the figures) a province in `huzhu_bench_province_<pid>`: counties
of COUNTY_MEMBERS members, 14 townships each, village doctors of 15 grids of 20, four
weeks of history up to the current week (weekly reports, a BP or glucose reading per
member in those weeks, member reports, attendance, urgent cases), a year of
follow-ups (four a member, `bench.rollups.FOLLOWUPS`) and the doctors' visit rota,
then prints:

1. all rollups of the last closed week, every level at once (`compute_week`), beside
   the floor of bare GROUP BYs over the same rows (`bench.rollups.FLOOR`); target
   under 10 s at 1M and at most 2.5x the floor, under 2 minutes at 10M;
2. `rollups-refresh`: the snapshots of the closed week and the provisional snapshot of
   the current week, in full, then again after a few grids changed (incremental);
3. the township and county pages (`/areas/township/T1`, `/areas/county/C1`) through
   gunicorn with the project's settings, read from those snapshots: p50/p95 over
   PAGE_LOADS loads each (target p95 < 300 ms); the doctor's Monday page (live) and a
   signed Twilio report to the webhook, p50/p95 (unchanged by size);
4. the week of exchange reminders (`exchange-reminders` at 18:00 on seven days, as
   `bench.scheduler` runs it): target under 10 minutes at 10M;
5. one escalation tick advancing 10,000 due cases with the province's rows in place
   (`bench.escalation.seed`): unchanged by size (1.1 s at a county);
6. urgent cases (a coordinator's 急 through `notifications.inbound.receive`): the roster
   fingerprint read on each, a case with the escalation hierarchy loaded cold, cached,
   right after another grid's exchange moved (must not rebuild it) and right after
   another grid got another doctor (rebuilds it).

`--keep` leaves the database for `--reuse NAME` (figures again without the load).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from urllib.parse import urlencode

import requests
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bench.escalation import seed as seed_escalations
from bench.rollups import DEFAULT_URL, FLOOR, FOLLOWUPS, TZ, _admin, floor_params_of, load_sql
from bench.rollups_page import PASSWORD, Gunicorn, logged_in
from bench.scheduler import week_of_reminders
from bench.serving import percentile
from config.clock import now as clock_now
from config.runtime import settings_of
from config.settings import Settings
from grids.accounts.models import User
from grids.accounts.service import create_user
from grids.escalation.roster_graph import (
    forget_hierarchies,
    roster_fingerprint,
    wait_for_rebuilds,
)
from grids.models import Grid, Patient
from grids.rollups.period import WeekPeriod, current_week, last_closed_week, weeks_back
from grids.rollups.refresh import refresh_week
from grids.rollups.service import compute_week, snapshot_week
from grids.storage.database import Database
from grids.storage.session import database_of
from notifications.escalation.tick import run_escalation_tick
from notifications.inbound import IncomingSms, receive
from wsgi import create_app

DATABASE_NAME = f"huzhu_bench_province_{os.getpid()}"
TOWNSHIPS_PER_COUNTY = 14
HISTORY_WEEKS = 4
TICK_CASES = 10_000
CHANGED_GRIDS = 10
TREND_WEEKS = 12
PUBLIC_BASE_URL = "https://huzhu-province.example.org"
AUTH_TOKEN = "bench-province-token"

# :week0 is the Monday (county date) of the current week; history runs HISTORY_WEEKS back.
FILL = """
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
SELECT c, 'C' || c, c || '县人民医院', 'county_hospital', NULL, now(), now()
FROM generate_series(1, :counties) c;
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
SELECT :counties + t, 'T' || t, '乡镇卫生院' || t, 'township_center',
       1 + (t - 1) / :townships_per_county, now(), now()
FROM generate_series(1, :townships) t;
INSERT INTO facilities (id, code, name, level, parent_id, created_at, updated_at)
SELECT :counties + :townships + v, 'V' || v, '村卫生室' || v, 'village_clinic',
       :counties + 1 + ((v - 1)::bigint * :townships) / :doctors, now(), now()
FROM generate_series(1, :doctors) v;
INSERT INTO doctors (id, code, name, phone, facility_id, language, status, created_at, updated_at)
SELECT d, 'D' || d, '医生' || d, '+86137' || lpad(d::text, 8, '0'),
       :counties + :townships + d, 'zh_CN', 'active', now(), now()
FROM generate_series(1, :doctors) d;
INSERT INTO patients (id, code, name, phone, facility_id, primary_condition, conditions,
                      birth_year, sex, volunteer, status, language, created_at, updated_at)
SELECT p, 'P' || p, '患者' || p, '+86138' || lpad(p::text, 8, '0'),
       :counties + :townships + 1 + (p - 1) / 300,
       CASE WHEN p % 4 = 0 THEN 'diabetes' ELSE 'hypertension' END,
       CASE WHEN p % 4 = 0 THEN '["diabetes"]'::json WHEN p % 9 = 0
            THEN '["hypertension", "diabetes"]'::json ELSE '["hypertension"]'::json END,
       1940 + p % 30, 'F', (p - 1) % 20 = 0,
       CASE WHEN p % 997 = 0 THEN 'deceased' ELSE 'active' END, 'zh_CN', now(), now()
FROM generate_series(1, :members) p;
UPDATE patients SET died_on = DATE ':week0' - 200 + (id % 150) WHERE status = 'deceased';
INSERT INTO grids (id, code, facility_id, condition, doctor_id, coordinator_id,
                   exchange_weekday, exchange_time, exchange_minutes, version,
                   created_at, updated_at)
SELECT g, 'G' || g, :counties + :townships + 1 + (g - 1) / 15, 'hypertension',
       1 + (g - 1) / 15, (g - 1) * 20 + 1, (g - 1) % 7, '19:00', 60, 1,
       TIMESTAMPTZ '2025-01-01', TIMESTAMPTZ '2025-01-01'
FROM generate_series(1, :grids) g;
INSERT INTO doctor_visits (grid_id, doctor_id, rota_week)
SELECT g, 1 + (g - 1) / 15, 1 + g % 4 FROM generate_series(1, :grids) g;
INSERT INTO memberships (grid_id, patient_id, seat, joined_at, left_at)
SELECT 1 + (p - 1) / 20, p, 1 + (p - 1) % 20,
       TIMESTAMPTZ '2025-01-01' + (p % 300) * INTERVAL '1 day', NULL
FROM generate_series(1, :members) p;
CREATE TEMP TABLE weeks AS
SELECT n, to_char(DATE ':week0' - n * 7, 'IYYY-"W"IW') AS week,
       (DATE ':week0' - n * 7)::timestamp AT TIME ZONE 'Asia/Shanghai'
           + INTERVAL '2 days 10 hours' AS at
FROM generate_series(0, :history) n;
INSERT INTO weekly_reports (grid_id, week, coordinator_id, all_stable, first_received_at,
                            last_received_at, revisions)
SELECT g, w.week, (g - 1) * 20 + 1, (g + n) % 3 <> 0, w.at, w.at, 1
FROM generate_series(1, :grids) g CROSS JOIN weeks w
WHERE (g * 7 + n) % 10 <> 0 AND n > 0;
INSERT INTO readings (patient_id, grid_id, week, kind, systolic, diastolic, glucose_mmol,
                      reported_at)
SELECT p, 1 + (p - 1) / 20, w.week,
       CASE WHEN p % 4 = 0 THEN 'glucose' ELSE 'bp' END,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 110 + (p * 7 + n) % 80 END,
       CASE WHEN p % 4 = 0 THEN NULL ELSE 65 + (p * 3 + n) % 50 END,
       CASE WHEN p % 4 = 0 THEN 5 + ((p + n) % 120) / 10.0 ELSE NULL END,
       w.at
FROM generate_series(1, :members) p CROSS JOIN weeks w
WHERE (p + n) % 4 = 0 AND n > 0;
INSERT INTO member_reports (weekly_report_id, patient_id, week, seat, hospitalised, discharged,
                            missed_medication, died, updated_at)
SELECT r.id, (r.grid_id - 1) * 20 + 1 + (r.id % 20), r.week, 1 + (r.id % 20),
       r.id % 53 = 0, false, r.id % 7 = 0, false, r.first_received_at
FROM weekly_reports r WHERE NOT r.all_stable;
INSERT INTO exchange_attendance (grid_id, week, headcount, reported_at)
SELECT g, w.week, 10 + (g + n) % 10, w.at
FROM generate_series(1, :grids) g CROSS JOIN weeks w WHERE (g + n) % 5 <> 0 AND n > 0;
INSERT INTO urgent_reports (code, grid_id, patient_id, seat, text, red_flag, received_at,
                            acknowledged_at, acknowledged_by_id)
SELECT 'U' || u, 1 + u % :grids, 1 + (u * 37) % :members, 1, '胸痛', false,
       DATE ':week0'::timestamp AT TIME ZONE 'Asia/Shanghai' - (1 + u % 27) * INTERVAL '1 day',
       DATE ':week0'::timestamp AT TIME ZONE 'Asia/Shanghai' - (1 + u % 27) * INTERVAL '1 day'
           + (60 + u % 1800) * INTERVAL '1 second',
       1 + (u % :grids) / 15
FROM generate_series(1, :urgent) u;
"""


def province_params(members: int, county_members: int, week0: str) -> dict[str, int | str]:
    members -= members % 300
    grids = members // 20
    doctors = grids // 15
    counties = max(1, round(members / county_members))
    return {
        "members": members,
        "grids": grids,
        "doctors": doctors,
        "counties": counties,
        "townships": counties * TOWNSHIPS_PER_COUNTY,
        "townships_per_county": TOWNSHIPS_PER_COUNTY,
        "urgent": max(10, members // 2000),
        "history": HISTORY_WEEKS,
        "week0": week0,
        "followups_until": (date.fromisoformat(week0) - timedelta(days=1)).isoformat(),
        "followup_visits": 4,
    }


def ms(values: list[float]) -> str:
    scaled = [value * 1000 for value in values]
    return f"p50 {percentile(scaled, 50):.0f} ms, p95 {percentile(scaled, 95):.0f} ms"


def timed(seconds: list[float], action: object) -> None:
    started = time.perf_counter()
    response = action()  # type: ignore[operator]
    seconds.append(time.perf_counter() - started)
    if getattr(response, "status_code", 200) != 200:
        raise SystemExit(f"request failed: {response.status_code}")


def rollups_figure(database: Database, period: WeekPeriod, now: datetime, repeat: int) -> None:
    params = floor_params_of(period)
    rollup, floor = [], []
    subjects = 0
    for _ in range(repeat):
        with database.unit_of_work() as session:
            started = time.perf_counter()
            subjects = len(compute_week(session, period, now).values)
            rollup.append(time.perf_counter() - started)
        with database.engine.connect() as connection:
            started = time.perf_counter()
            for statement in FLOOR:
                connection.execute(text(statement), params).all()
            floor.append(time.perf_counter() - started)
    best, bare = min(rollup), min(floor)
    print(
        f"1. all rollups of {period.week}, every level ({subjects:,} subjects): {best:.1f} s; "
        f"floor {bare:.1f} s; ratio {best / bare:.2f}x (best of {repeat})",
        flush=True,
    )


def refresh_figure(database: Database, closed: WeekPeriod, current: WeekPeriod) -> None:
    """The Monday snapshot of the closed week, then the current week's refreshes."""
    now = current.start + timedelta(hours=3)

    def run(label: str, action: object) -> None:
        with database.unit_of_work() as session:
            started = time.perf_counter()
            outcome = action(session)  # type: ignore[operator]
            session.commit()
            took = time.perf_counter() - started
        print(f"2. {label}: {took:.1f} s ({outcome})", flush=True)

    run("snapshot of the closed week", lambda session: snapshot_week(session, closed, now))
    run("rollups-refresh, full", lambda session: refresh_week(session, current, now, full=True))
    with database.engine.begin() as connection:
        connection.execute(
            text(
                # Past the newest change time, even when a run on a reused database
                # left these readings at `:at` already (else no grid would count as
                # changed).
                "UPDATE readings SET systolic = systolic + 1, reported_at = GREATEST(:at, "
                "(SELECT max(reported_at) FROM readings) + interval '1 second') "
                "WHERE grid_id <= :grids AND week = :week"
            ),
            {"at": now + timedelta(minutes=5), "grids": CHANGED_GRIDS, "week": closed.week},
        )
    later = now + timedelta(minutes=15)
    run(
        f"rollups-refresh, incremental ({CHANGED_GRIDS} grids changed)",
        lambda session: refresh_week(session, current, later),
    )
    # The trend's earlier weeks, before the generated history, as copies of the closed
    # week's rows of the areas and of doctor D1 and his grids, the pages measured: a page
    # reads them as it reads any stored week.
    with database.engine.begin() as connection:
        for week in weeks_back(closed.week, TREND_WEEKS)[:-1]:
            connection.execute(
                text(
                    "INSERT INTO rollup_snapshots (week, level, code, indicators, computed_at, "
                    "first_computed_at, revisions, provisional) "
                    "SELECT :week, level, code, indicators, computed_at, first_computed_at, 1, "
                    "false FROM rollup_snapshots WHERE week = :closed "
                    "AND (level IN ('township', 'county') OR (level, code) = ('doctor', 'D1') "
                    "OR (level = 'grid' AND code = ANY(:grids))) ON CONFLICT DO NOTHING"
                ),
                {"week": week, "closed": closed.week, "grids": [f"G{g}" for g in range(1, 16)]},
            )


def users(database: Database) -> None:
    with database.unit_of_work() as session:
        for username, role, doctor, facility in (
            ("bench-admin", "admin", None, None),
            ("bench-t1", "township", None, "T1"),
            ("bench-d1", "doctor", "D1", None),
        ):
            if session.scalar(select(User).where(User.username == username)) is None:
                create_user(
                    session, username, role, PASSWORD, doctor_code=doctor, facility_code=facility
                )
        session.commit()


def pages_and_webhook(url: str, loads: int) -> None:
    server = Gunicorn(
        {
            "DATABASE_URL": url,
            "SMS_BACKEND": "memory",
            "LOG_LEVEL": "WARNING",
            "HUZHU_ENV": "development",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        }
    )
    try:
        admin = logged_in(server.base, "bench-admin")
        township = logged_in(server.base, "bench-t1")
        doctor = logged_in(server.base, "bench-d1")
        for label, client, path in (
            ("township page /areas/township/T1", township, "/areas/township/T1"),
            ("county page /areas/county/C1", admin, "/areas/county/C1"),
            ("doctor's page /doctors/D1 (live)", doctor, "/doctors/D1"),
        ):
            timed([], lambda c=client, p=path: c.get(server.base + p, timeout=600))  # warm
            seconds: list[float] = []
            for _ in range(loads):
                timed(seconds, lambda c=client, p=path: c.get(server.base + p, timeout=600))
            print(f"3. {label}: {ms(seconds)} over {loads} loads", flush=True)
        validator = RequestValidator(AUTH_TOKEN)
        path = "/sms/twilio/inbound"
        seconds = []
        for n in range(loads):
            form = {
                "MessageSid": f"SM{os.getpid():08x}{n:024x}",
                "AccountSid": "AC" + "0" * 32,
                "From": f"+86138{(n * 20 + 1):08d}",  # coordinator of grid n + 1
                "To": "+15005550006",
                "Body": "好",
            }
            headers = {
                "X-Twilio-Signature": validator.compute_signature(PUBLIC_BASE_URL + path, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            body = urlencode(form)
            timed(
                seconds,
                lambda b=body, h=headers: requests.post(
                    server.base + path, data=b, headers=h, timeout=60
                ),
            )
        print(f"3. webhook, a coordinator's 好: {ms(seconds)} over {loads} requests", flush=True)
    finally:
        server.stop()


def reminders_figure(database: Database) -> None:
    with database.engine.begin() as connection:  # a kept database measured again
        connection.execute(text("DELETE FROM scheduler_runs"))
        tables = "outbox, outbox_keys" if database.is_postgresql else "outbox"
        connection.execute(text(f"TRUNCATE {tables}"))
    timing, queued = week_of_reminders(database)
    print(
        f"4. week of exchange reminders: {timing.wall:.0f} s wall for {queued:,} messages "
        f"({queued / timing.wall:,.0f} rows/s; client CPU {timing.client_cpu:.0f} s)",
        flush=True,
    )


def tick_figure(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM escalation_events"))
        connection.execute(text("DELETE FROM escalations"))
    seed_escalations(database, TICK_CASES)
    t0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    started = time.perf_counter()
    advanced = run_escalation_tick(database, Settings(), t0 + timedelta(minutes=11))
    print(
        f"5. escalation tick: {advanced:,} of {TICK_CASES:,} due cases advanced in "
        f"{time.perf_counter() - started:.2f} s",
        flush=True,
    )


def urgent_figure(url: str, loads: int) -> None:
    """A coordinator's 急 through `notifications.inbound.receive` (no HTTP), each from
    another grid so that each opens a case: the escalation hierarchy not yet loaded,
    then cached, then right after another grid's exchange moved (which must not rebuild
    it), then right after another grid was given another doctor (which must). A case
    that finds the hierarchy out of date reads its ladder's rows and leaves the rebuild
    to a thread; the bench waits for that thread, outside the timed case."""
    app = create_app({"database_url": url, "sms_backend": "memory", "log_level": "WARNING"})
    database, settings = database_of(app), settings_of(app)
    with database.engine.begin() as connection:
        # Cases open from an earlier run (`--reuse`) would take these reports as merges.
        connection.execute(text("DELETE FROM escalation_events"))
        connection.execute(text("UPDATE urgent_reports SET escalation_id = NULL"))
        connection.execute(text("DELETE FROM escalations"))
        # The tick's cases (figure 5) were seeded with their ids.
        for table in ("escalations", "escalation_events", "urgent_reports"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
    with database.unit_of_work() as session:
        fingerprints: list[float] = []
        for _ in range(loads):
            timed(fingerprints, lambda: roster_fingerprint(session))
        rows = session.execute(
            select(Patient.phone, Grid.id, Grid.doctor_id)
            .join(Grid, Grid.coordinator_id == Patient.id)
            .where(Grid.closed_at.is_(None), Patient.phone.is_not(None))
            .order_by(Grid.id.desc())
            # cold, steady, moved (2 each), reassigned (3 each, 3 at most)
            .limit(3 * loads + 10)
        ).all()
    senders = iter(rows)

    def urgent(seconds: list[float]) -> None:
        phone, _grid, _doctor = next(senders)
        sms = IncomingSms.from_form(
            {
                "MessageSid": f"SMu{os.getpid():08x}{len(rows):06d}{time.time_ns():020d}",
                "From": phone,
                "To": "+15005550006",
                "Body": "急 5 胸痛",
            }
        )
        timed(seconds, lambda: receive(database, settings, sms, clock_now()))

    def change(**values: object) -> None:
        _phone, grid_id, _doctor = next(senders)
        with database.engine.begin() as connection:
            connection.execute(update(Grid).where(Grid.id == grid_id).values(**values))

    read = [seconds * 1000 for seconds in fingerprints]
    print(
        f"6. roster fingerprint: p50 {percentile(read, 50):.1f} ms, "
        f"p95 {percentile(read, 95):.1f} ms over {loads} reads",
        flush=True,
    )
    with app.app_context():
        forget_hierarchies()
        cold: list[float] = []
        urgent(cold)
        rebuild: list[float] = []
        timed(rebuild, wait_for_rebuilds)
        steady: list[float] = []
        for _ in range(loads):
            urgent(steady)
        moved: list[float] = []
        for n in range(loads):
            change(exchange_time=dt_time(15, n % 60))
            urgent(moved)
        reassigned: list[float] = []
        during: list[float] = []
        doctors = [doctor for _phone, _grid, doctor in rows if doctor is not None]
        for n in range(min(3, loads)):
            change(doctor_id=doctors[n])
            urgent(reassigned)
            urgent(during)
            timed(rebuild, wait_for_rebuilds)
    database.dispose()
    print(f"6. urgent case, hierarchy not yet loaded: {ms(cold)}", flush=True)
    print(f"6. the whole hierarchy rebuilt, ready after the case answered: {ms(rebuild)}")
    print(f"6. urgent case, hierarchy cached: {ms(steady)} over {loads}", flush=True)
    print(f"6. urgent case after another grid's exchange moved: {ms(moved)} over {loads}")
    print(f"6. urgent case after another grid got another doctor: {ms(reassigned)}", flush=True)
    print(f"6. the next urgent case, while the hierarchy is rebuilt: {ms(during)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--county-members", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--page-loads", type=int, default=40)
    parser.add_argument("--verbose", action="store_true", help="time each load step")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", metavar="DATABASE")
    parser.add_argument(
        "--figures", default="1,2,3,4,5,6", help="which figures to print (comma-separated numbers)"
    )
    args = parser.parse_args()
    now = datetime.now(UTC)
    this_week = WeekPeriod(current_week(now, TZ), TZ)
    closed = WeekPeriod(last_closed_week(now, TZ), TZ)
    name = args.reuse or DATABASE_NAME
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    if not args.reuse:
        _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(args.url, f'CREATE DATABASE "{name}"')
    try:
        if not args.reuse:
            week0 = this_week.start.astimezone(TZ).date().isoformat()
            params = province_params(args.members, args.county_members, week0)
            took = load_sql(url, FILL + FOLLOWUPS, params, verbose=args.verbose)
            print(
                f"province: {params['members']:,} members, {params['grids']:,} grids, "
                f"{params['doctors']:,} doctors, {params['counties']} counties of "
                f"{args.county_members:,}; {HISTORY_WEEKS} weeks of history; "
                f"loaded in {took:.0f} s (not in the figures)",
                flush=True,
            )
        figures = {int(number) for number in args.figures.split(",")}
        database = Database(url)
        users(database)
        if 1 in figures:
            rollups_figure(database, closed, now, args.repeat)
        if 2 in figures:
            refresh_figure(database, closed, this_week)
        if 3 in figures:
            pages_and_webhook(url, args.page_loads)
        if 4 in figures:
            reminders_figure(database)
        if 5 in figures:
            tick_figure(database)
        if 6 in figures:
            urgent_figure(url, args.page_loads)
        database.dispose()
        if args.keep or args.reuse:
            print(f"kept: {url}")
    finally:
        if not (args.keep or args.reuse):
            _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
