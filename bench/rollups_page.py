"""The doctor's Monday page under concurrent load through gunicorn, on PostgreSQL.

    .venv/bin/python -m bench.rollups_page [--members 100000] [--reuse DATABASE]
        [--url URL] [--clients 8] [--duration 20] [--doctors 1] [--rate 2]

What it does:
1. Builds the county of `bench.rollups` (MEMBERS members, a year of weekly
   reports) in `huzhu_bench_rollups_page_<pid>` (dropped at the end), or measures a
   database kept by `python -m bench.rollups --keep` (`--reuse NAME`, left as is).
2. As the Monday job would have, snapshots the closed weeks the page reads (the 11
   weeks of the trend before the current one) for the benchmarked doctors and their
   grids; the current week and the member list are computed live on each request.
3. Starts gunicorn with the project's settings (`-c python:config.gunicorn_conf`:
   gthread, WEB_WORKERS x WEB_THREADS) on 127.0.0.1, logs each client in as a
   doctor through the real login form (CSRF token, session cookie), and has
   CLIENTS threads request that doctor's Monday page (`/doctors/<code>`) back to
   back for DURATION seconds after a short warm-up.
4. Prints p50/p95/p99 latency, req/s, failures, and the CPU time gunicorn's
   workers and this client used (the machine is shared: wall figures include
   other load). Then drives the page open-loop at RATE req/s (default 2: 3,333
   doctors of a 1,000,000-member county opening it within half an hour on
   Monday), latency counted from when each request was due. Target: p95 under
   200 ms.

The page reads the server's clock: the data is the year up to 2026-W48, so run it
in the week after (as dated), or the page shows later, empty weeks.

Then the township and county pages, read from stored rollups (`--areas only` skips
the doctor's page, `--areas no` these):
5. Snapshots the trend's closed weeks (W37-W47) for every subject, as the Monday
   job does, and times a full `rollups-refresh` of the current week W48 (the clock
   is Thursday 26 November 2026, 10:00 in the county) and an incremental one after
   a few grids changed (readings, reports, an acknowledgement in CHANGED grids),
   and one with nothing changed.
6. Starts gunicorn with its clock moved to that Thursday (`tests/dates`, the
   shifter of `make test-dates`), logs in a township account and an
   administrator, and requests the township and county pages (the current week
   from its provisional snapshot, and the last closed week from its snapshot)
   and the county export, one after another: p50/p95 per page. Target: p95
   under 300 ms at 1,000,000 members.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.rollups import DEFAULT_URL, TZ, Scale, _admin, fill
from bench.serving import GUNICORN, free_port, percentile, stop, wait_until_up
from config.settings import PROJECT_ROOT
from grids.accounts.models import User
from grids.accounts.service import create_user
from grids.models import Doctor, Grid
from grids.rollups.models import RollupSnapshot
from grids.rollups.period import WeekPeriod, current_week, weeks_back
from grids.rollups.places import grid_places
from grids.rollups.refresh import refresh_week
from grids.rollups.service import compute_week, new_snapshot, snapshot_week, subject_keys
from grids.storage.database import Database

DATABASE_NAME = f"huzhu_bench_rollups_page_{os.getpid()}"
PASSWORD = "bench doctor password"
TREND_WEEKS = 12


def prepare(url: str, doctors: int, now: datetime) -> list[str]:
    """Users for the first `doctors` doctors; snapshots of the closed weeks they read."""
    database = Database(url)
    codes: list[str] = []
    with database.unit_of_work() as session:
        chosen = session.scalars(
            select(Doctor).where(Doctor.id.in_(select(Grid.doctor_id))).order_by(Doctor.id)
        ).all()[:doctors]
        places = grid_places(session)
        for doctor in chosen:
            username = f"bench-{doctor.code.lower()}"
            if session.scalar(select(User).where(User.username == username)) is None:
                create_user(session, username, "doctor", PASSWORD, doctor_code=doctor.code)
            codes.append(doctor.code)
            mine = [place for place in places if ("doctor", doctor.code) in subject_keys(place)]
            current = current_week(now, TZ)
            for week in weeks_back(current, TREND_WEEKS)[:-1]:
                period = WeekPeriod(week, TZ)
                rollup = compute_week(session, period, now, places=mine)
                stored = {
                    (row.level, row.code)
                    for row in session.scalars(
                        select(RollupSnapshot).where(RollupSnapshot.week == week)
                    )
                }
                for (level, code), values in rollup.values.items():
                    if level in ("doctor", "grid") and (level, code) not in stored:
                        session.add(new_snapshot(week, level, code, values, now))
        session.commit()
    database.dispose()
    return codes


class Gunicorn:
    """gunicorn with the project's config file, on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "-c",
                "python:config.gunicorn_conf",
                "--log-level",
                "warning",
                "--chdir",
                str(PROJECT_ROOT),
                "wsgi:create_app()",
            ],
            env={**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)},
        )
        wait_until_up(self.process, self.base + "/healthz", "gunicorn")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.process.pid or ppid == self.process.pid:
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self) -> None:
        stop(self.process)


def logged_in(base: str, username: str) -> requests.Session:
    """A client session logged in through the login form, CSRF token included."""
    client = requests.Session()
    page = client.get(f"{base}/login", timeout=30).text
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if match is None:
        raise SystemExit("the login page has no CSRF token")
    response = client.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": match.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
        raise SystemExit(f"login as {username} failed: {response.status_code}")
    return client


def load(
    base: str, codes: list[str], clients: int, duration: float, warmup: float
) -> tuple[list[float], int, float]:
    """CLIENTS threads request the Monday page back to back; (latencies, failures, seconds)."""
    sessions = [logged_in(base, f"bench-{codes[i % len(codes)].lower()}") for i in range(clients)]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = time.monotonic() + warmup
    stop = start + duration

    def run(index: int) -> None:
        client = sessions[index]
        url = f"{base}/doctors/{codes[index % len(codes)]}"
        while True:
            began = time.monotonic()
            if began >= stop:
                return
            response = client.get(url, timeout=60)
            ended = time.monotonic()
            ok = response.status_code == 200 and "<svg" in response.text
            if began >= start:
                with lock:
                    if ok:
                        latencies.append(ended - began)
                    else:
                        failures[0] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures[0], duration


def fixed_rate(
    base: str, codes: list[str], clients: int, rate: float, duration: float
) -> tuple[list[float], int]:
    """Open loop: a request every 1/RATE s, each latency counted from when it was due
    (a stalled server is not hidden by clients that wait for it)."""
    sessions = [logged_in(base, f"bench-{codes[i % len(codes)].lower()}") for i in range(clients)]
    free: list[requests.Session] = list(sessions)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Condition()

    def one(due: float, index: int) -> None:
        with lock:
            while not free:
                lock.wait()
            client = free.pop()
        try:
            response = client.get(f"{base}/doctors/{codes[index % len(codes)]}", timeout=60)
            ok = response.status_code == 200 and "<svg" in response.text
        finally:
            with lock:
                free.append(client)
                lock.notify()
        ended = time.monotonic()
        with lock:
            if ok:
                latencies.append(ended - due)
            else:
                failures[0] += 1

    threads = []
    start = time.monotonic() + 0.5
    for index in range(int(rate * duration)):
        due = start + index / rate
        time.sleep(max(0.0, due - time.monotonic()))
        thread = threading.Thread(target=one, args=(due, index))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return latencies, failures[0]


AREA_NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 of W48 in the county
AREA_WEEK = "2026-W48"


def timed(label: str, work: Callable[[Session], object], url: str) -> object:
    database = Database(url)
    with database.unit_of_work() as session:
        started = time.perf_counter()
        result = work(session)
        session.commit()
        took = time.perf_counter() - started
    database.dispose()
    print(f"{label}: {took:.2f} s  {result if result is not None else ''}", flush=True)
    return result


def change_a_few_grids(url: str, grids: int, moment: datetime) -> None:
    """What a quarter of an hour brings: readings, amended reports, an acknowledgement."""
    database = Database(url)
    with database.unit_of_work() as session:
        chosen = session.scalars(select(Grid.id).order_by(Grid.id).offset(7).limit(grids)).all()
        for grid_id in chosen:
            session.execute(
                text(
                    "UPDATE readings SET systolic = systolic + 1, reported_at = :at "
                    "WHERE id IN (SELECT r.id FROM readings r JOIN memberships m "
                    "ON m.patient_id = r.patient_id WHERE m.grid_id = :grid "
                    "AND r.week = :week LIMIT 3)"
                ),
                {"at": moment, "grid": grid_id, "week": AREA_WEEK},
            )
            session.execute(
                text(
                    "UPDATE weekly_reports SET all_stable = NOT all_stable, "
                    "last_received_at = :at WHERE grid_id = :grid AND week = :week"
                ),
                {"at": moment, "grid": grid_id, "week": AREA_WEEK},
            )
        session.commit()
    database.dispose()


def prepare_areas(url: str, changed: int) -> tuple[str, str]:
    """Snapshots of the trend's closed weeks, the refreshes timed; (township, county)."""
    database = Database(url)
    with database.unit_of_work() as session:
        for username, role, facility in (
            ("bench-admin", "admin", None),
            ("bench-township", "township", "T1"),
        ):
            if session.scalar(select(User).where(User.username == username)) is None:
                create_user(session, username, role, PASSWORD, facility_code=facility)
        session.commit()
    database.dispose()
    started = time.perf_counter()
    for week in weeks_back(AREA_WEEK, TREND_WEEKS)[:-1]:
        closed = WeekPeriod(week, TZ)

        def snapshot(session: Session, closed: WeekPeriod = closed) -> object:
            return snapshot_week(session, closed, AREA_NOW)

        timed(f"  snapshot {week}", snapshot, url)
    print(f"snapshots of the 11 closed weeks: {time.perf_counter() - started:.1f} s")
    period = WeekPeriod(AREA_WEEK, TZ)
    timed(
        "rollups-refresh, full (first of the week)",
        lambda session: refresh_week(session, period, AREA_NOW, full=True),
        url,
    )
    change_a_few_grids(url, changed, AREA_NOW + timedelta(minutes=5))
    timed(
        f"rollups-refresh, incremental ({changed} grids changed)",
        lambda session: refresh_week(session, period, AREA_NOW + timedelta(minutes=15)),
        url,
    )
    timed(
        "rollups-refresh, nothing changed",
        lambda session: refresh_week(session, period, AREA_NOW + timedelta(minutes=30)),
        url,
    )
    return "T1", "C"


def area_pages(url: str, requests_each: int, changed: int) -> None:
    township, county = prepare_areas(url, changed)
    shift = (AREA_NOW + timedelta(minutes=40)).timestamp() - time.time()
    dates = str(PROJECT_ROOT / "tests" / "dates")
    server = Gunicorn(
        {
            "DATABASE_URL": url,
            "SMS_BACKEND": "memory",
            "LOG_LEVEL": "WARNING",
            "HUZHU_ENV": "development",
            "PYTHONPATH": os.pathsep.join(filter(None, [dates, os.environ.get("PYTHONPATH")])),
            "HUZHU_CLOCK_SHIFT_SECONDS": str(shift),
        }
    )
    try:
        clients = {
            "township": logged_in(server.base, "bench-township"),
            "admin": logged_in(server.base, "bench-admin"),
        }
        pages = [
            ("township", f"/areas/township/{township}?week={AREA_WEEK}", "township page, W48"),
            ("township", f"/areas/township/{township}", "township page, W47 (closed)"),
            ("admin", f"/areas/county/{county}?week={AREA_WEEK}", "county page, W48"),
            ("admin", f"/areas/county/{county}", "county page, W47 (closed)"),
            ("admin", f"/exports/county/{county}.csv?week={AREA_WEEK}", "county export CSV"),
        ]
        for who, path, label in pages:
            client = clients[who]
            for _ in range(3):  # warm-up
                client.get(server.base + path, timeout=120)
            latencies = []
            for _ in range(requests_each):
                began = time.monotonic()
                response = client.get(server.base + path, timeout=120)
                took = time.monotonic() - began
                if response.status_code != 200 or (
                    "areas" in path and "数据截至" not in response.text
                ):
                    raise SystemExit(f"{label}: {response.status_code}")
                latencies.append(took * 1000)
            print(
                f"{label}: p50 {percentile(latencies, 50):.0f} ms, "
                f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms "
                f"({requests_each} requests one after another; target p95 < 300 ms)",
                flush=True,
            )
    finally:
        server.stop()


def report(label: str, latencies: list[float], failures: int, seconds: float) -> None:
    if not latencies:
        raise SystemExit(f"{label}: no successful request ({failures} failed)")
    ms = [value * 1000 for value in latencies]
    print(
        f"{label}: {len(ms):,} ok, {failures} failed; {len(ms) / seconds:.1f} req/s; "
        f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms, max {max(ms):.0f} ms (target p95 < 200 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--reuse", metavar="DATABASE", help="a database kept by bench.rollups")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--doctors", type=int, default=1, help="doctors the clients log in as")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="then an open loop at this many req/s (0: skip)"
    )
    parser.add_argument(
        "--areas",
        choices=["yes", "no", "only"],
        default="yes",
        help="the township and county pages from stored rollups (only: not the doctor's page)",
    )
    parser.add_argument("--requests", type=int, default=40, help="requests per area page")
    parser.add_argument("--changed", type=int, default=10, help="grids changed before the refresh")
    args = parser.parse_args()
    name = args.reuse or DATABASE_NAME
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    if not args.reuse:
        _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(args.url, f'CREATE DATABASE "{name}"')
    server: Gunicorn | None = None
    try:
        if not args.reuse:
            took = fill(url, Scale.of(args.members))
            print(f"loaded {args.members:,} members in {took:.1f} s", flush=True)
        if args.areas != "no":
            area_pages(url, args.requests, args.changed)
        if args.areas == "only":
            return
        started = time.perf_counter()
        codes = prepare(url, args.doctors, datetime.now(UTC))
        print(
            f"snapshots of the trend's closed weeks for {len(codes)} doctor(s): "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        server = Gunicorn(
            {
                "DATABASE_URL": url,
                "SMS_BACKEND": "memory",
                "LOG_LEVEL": "WARNING",
                "HUZHU_ENV": "development",
            }
        )
        workers = os.environ.get("WEB_WORKERS", "2")
        threads = os.environ.get("WEB_THREADS", "16")
        with Database(url).engine.connect() as connection:
            members = connection.scalar(text("SELECT count(*) FROM patients")) or 0
        print(
            f"gunicorn -c python:config.gunicorn_conf (gthread, {workers} workers x "
            f"{threads} threads); {members:,} members; the Monday page /doctors/{codes[0]} "
            f"(15 grids, ~300 members)",
            flush=True,
        )
        cpu_server, cpu_client = server.cpu_seconds(), time.process_time()
        latencies, failures, seconds = load(
            server.base, codes, args.clients, args.duration, args.warmup
        )
        cpu_server = server.cpu_seconds() - cpu_server
        cpu_client = time.process_time() - cpu_client
        report(
            f"{args.clients} clients back to back for {seconds:.0f} s", latencies, failures, seconds
        )
        print(
            f"  CPU: gunicorn {cpu_server:.1f} s "
            f"({1000 * cpu_server / max(1, len(latencies)):.0f} ms/request), "
            f"this client {cpu_client:.1f} s; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if args.rate:
            latencies, failures = fixed_rate(
                server.base, codes, args.clients, args.rate, args.duration
            )
            report(
                f"fixed rate {args.rate:g} req/s for {args.duration:.0f} s",
                latencies,
                failures,
                args.duration,
            )
            print(f"  load average {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            server.stop()
        if not args.reuse:
            _admin(args.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
