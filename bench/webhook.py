"""Inbound webhook throughput under gunicorn on PostgreSQL, beside a bare Flask endpoint.

    .venv/bin/python -m bench.webhook [--url URL] [--workers 4] [--grids 200]
        [--duration 15] [--connections 16] [--rate 200] [--rate-duration 15] [--warmup 5]
        [--months-kept 0] [--per-message 1000] [--keep]

What it does:
1. Creates the database `huzhu_bench_webhook_<pid>` on the server of `--url` (dropped at the
   end), migrates it with Alembic (with `--months-kept N`, also the partitions of the N
   months before this one, as a county that has run that long keeps) and loads a small
   county: `--grids` grids of 18 hypertension patients under two doctors per village clinic.
2. Pre-computes signed Twilio requests (each with its own MessageSid, signed with the
   twilio library's `RequestValidator`): coordinators' reports, readings, amendments,
   attendance, a few urgent cases, members' texts and strangers.
3. For each of four targets under the same `gunicorn -w WORKERS` on 127.0.0.1: the
   bare Flask app (`bench.webhook_bare`), the same app storing each message with one
   INSERT and COMMIT (the floor of any webhook that keeps every message), Huzhu's web
   layer (Huzhu's app answering each message with a fixed reply instead of handling it:
   signature and field checks, request hooks, TwiML) and Huzhu (`wsgi:create_app()`),
   it measures from this (second) process, after `--warmup`
   seconds of `wrk` on requests of their own (every worker has then imported its app
   and served the mix, as workers in service have; gunicorn answers as soon as one is up):
   - throughput: `wrk` (Debian package `wrk`) for `--duration` seconds with
     `--connections` connections, posting the pre-computed requests from a Lua script;
   - latency at a fixed rate: an open-loop asyncio client sends `--rate` requests per
     second for `--rate-duration` seconds; each latency is counted from the moment the
     request was due, so a stall is not hidden (no coordinated omission);
   - CPU per request over the `wrk` phase, from /proc: gunicorn's workers, and the
     PostgreSQL server processes connected to the bench database. On a saturated
     machine throughput goes as the inverse of this sum, so it says where a gap lies.
4. Checks every Huzhu request was stored once, with no `error` outcome, and prints
   the figures side by side. Targets: Huzhu at least 50% of the req/s of the bare
   endpoint with INSERT/COMMIT (the durable floor); p99 under 100 ms at 200 req/s.
5. Handles `--per-message` more messages of the same mix in this process, straight
   through `notifications.inbound.receive`, and prints what each costs on average:
   SQL statements, database round trips (statements plus BEGIN, COMMIT and any
   ping of a pooled connection), ORM objects loaded, and CPU time of the handler and of
   its PostgreSQL server process. The first three do not vary from run to run, unlike
   req/s and CPU time on a busy machine.
6. Replays the statements those messages sent, in the same transactions, on a copy of the
   database as they found it, through one plain psycopg connection
   (`bench.statement_replay`), and prints what they cost with no ORM, rules or
   SQLAlchemy between them: the least any implementation writing the same rows with the
   same statements costs, and so the highest share of the floor it could reach.

Needs `wrk` (`apt-get install -y wrk`). Loopback only; bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bench.serving import (
    GUNICORN,
    children_of,
    cpu_seconds,
    free_port,
    percentile,
    stop,
    wait_until_up,
)
from bench.statement_replay import ReplayCost, StatementLog, replay
from config.clock import now as clock_now
from config.runtime import settings_of
from config.settings import PROJECT_ROOT
from grids.core.vocabulary import FacilityLevel
from grids.models import Doctor, Facility, Grid, Membership, Patient
from grids.storage import migrate, partitions
from grids.storage.database import Base, Database
from grids.storage.session import database_of
from notifications.inbound import IncomingSms, receive
from notifications.models import InboundMessage
from tests.support.postgres import create_postgres_database, drop_postgres_database
from wsgi import create_app

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One name per run, so two runs side by side do not drop each other's database.
DATABASE_NAME = f"huzhu_bench_webhook_{os.getpid()}"
REPLAY_DATABASE_NAME = f"{DATABASE_NAME}_replay"
PUBLIC_BASE_URL = "https://huzhu-bench.example.org"
PATH = "/sms/twilio/inbound"
AUTH_TOKEN = "bench-auth-token"
WARM = "f"
"""MessageSid prefix of the warm-up requests (hex, as Twilio's): not in the figures."""
GRID_SIZE = 18

LUA = r"""
local bodies, signatures = {}, {}
local index, step = 0, 1

function setup(thread)
  thread:set("id", __next_id or 0)
  __next_id = (__next_id or 0) + 1
end

function init(args)
  step = tonumber(args[1]) or 1
  index = id
  for line in io.lines(args[2]) do
    local tab = line:find("\t", 1, true)
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
end

function request()
  local i = (index % #bodies) + 1
  index = index + step
  return wrk.format("POST", "/sms/twilio/inbound", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = signatures[i],
  }, bodies[i])
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"status_errors": %d, "connect_errors": %d, "timeouts": %d, "read_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect, summary.errors.timeout, summary.errors.read))
end
"""


@dataclass(frozen=True)
class CountyPhones:
    coordinators: list[tuple[str, list[int]]]
    """(coordinator phone, occupied seats) per grid."""
    members: list[str]


def load_county(url: str, grids: int) -> CountyPhones:
    database = Database(url)
    numbers = iter(range(10_000_000))

    def phone() -> str:
        return f"+86139{next(numbers):08d}"

    coordinators: list[tuple[str, list[int]]] = []
    members: list[str] = []
    with database.unit_of_work() as session:
        county = Facility(
            code="BC", name="基准市人民医院", level=FacilityLevel.COUNTY_HOSPITAL, phone=phone()
        )
        session.add(county)
        session.flush()
        township = Facility(
            code="BT1",
            name="基准镇卫生院",
            level=FacilityLevel.TOWNSHIP_CENTER,
            parent_id=county.id,
            phone=phone(),
        )
        session.add(township)
        session.flush()
        clinics = [
            Facility(
                code=f"BV{c:02d}",
                name=f"第{c}村卫生室",
                level=FacilityLevel.VILLAGE_CLINIC,
                parent_id=township.id,
                phone=phone(),
            )
            for c in range(max(1, grids // 20))
        ]
        session.add_all(clinics)
        session.flush()
        doctors = [
            Doctor(code=f"BD{c:02d}{d}", name=f"医生{c}{d}", phone=phone(), facility_id=clinic.id)
            for c, clinic in enumerate(clinics)
            for d in range(2)
        ]
        session.add_all(doctors)
        session.flush()
        for g in range(grids):
            clinic = clinics[g % len(clinics)]
            doctor = doctors[2 * (g % len(clinics)) + (g // len(clinics)) % 2]
            patients = [
                Patient(
                    code=f"BP{g:04d}{seat:02d}",
                    name=f"患者{g}-{seat}",
                    phone=phone(),
                    facility_id=clinic.id,
                    primary_condition="hypertension",
                    conditions=["hypertension"],
                    birth_year=1955,
                    volunteer=seat == 1,
                )
                for seat in range(1, GRID_SIZE + 1)
            ]
            session.add_all(patients)
            session.flush()
            grid = Grid(
                code=f"{clinic.code}-HTN{g:03d}",
                facility_id=clinic.id,
                condition="hypertension",
                doctor_id=doctor.id,
                coordinator_id=patients[0].id,
            )
            session.add(grid)
            session.flush()
            session.add_all(
                Membership(grid_id=grid.id, patient_id=p.id, seat=seat)
                for seat, p in enumerate(patients, start=1)
            )
            coordinators.append((patients[0].phone or "", list(range(1, GRID_SIZE + 1))))
            members.extend(p.phone or "" for p in patients[1:])
        session.commit()
    database.dispose()
    return CountyPhones(coordinators=coordinators, members=members)


def keep_months(url: str, count: int) -> None:
    """Partitions for the `count` months before this one, in every partitioned table."""
    this_month = partitions.month_of(clock_now().date())
    engine = Database(url).engine
    with engine.begin() as connection:
        created = partitions.ensure_months(
            connection, [partitions.add_months(this_month, -k) for k in range(1, count + 1)]
        )
    engine.dispose()
    print(f"months kept: {count} before this one ({len(created)} partitions created)", flush=True)


def message_mix(county: CountyPhones, rng: random.Random) -> tuple[str, str]:
    """(From, Body) of one realistic inbound SMS."""
    roll = rng.random()
    phone, _seats = rng.choice(county.coordinators)
    seat = rng.randint(2, GRID_SIZE)
    if roll < 0.30:
        return phone, "好"
    if roll < 0.60:
        return phone, (
            f"好 {seat} 血压{rng.randint(130, 180)}/{rng.randint(80, 110)} "
            f"{rng.randint(2, GRID_SIZE)} 血糖{rng.randint(50, 120) / 10}"
        )
    if roll < 0.75:
        return phone, f"{seat} 血压{rng.randint(130, 180)}/{rng.randint(80, 110)}"
    if roll < 0.85:
        return phone, rng.choice(["到 15", "到 1 2 3 5 8", f"到 {rng.randint(5, 18)}"])
    if roll < 0.87:
        return phone, f"急 {seat} 胸痛"
    if roll < 0.90:
        return phone, "5 血压300/400"  # refused with a correction
    if roll < 0.96:
        return rng.choice(county.members), "好"
    return f"+86137{rng.randint(0, 99_999_999):08d}", "你好"


def signed_requests(
    county: CountyPhones, count: int, prefix: str, seed: int
) -> list[tuple[str, str]]:
    """(signature, urlencoded body) pairs, each with its own MessageSid."""
    rng = random.Random(seed)
    validator = RequestValidator(AUTH_TOKEN)
    out = []
    for n in range(count):
        sender, body = message_mix(county, rng)
        sid = f"SM{prefix}{n:031d}"  # SM + 32 hex digits, as Twilio sends
        form = {
            "ToCountry": "CN",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": "+15005550006",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        out.append((validator.compute_signature(PUBLIC_BASE_URL + PATH, form), urlencode(form)))
    return out


class Gunicorn:
    def __init__(self, app: str, workers: int, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                GUNICORN,
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--chdir",
                str(PROJECT_ROOT),
                app,
            ],
            env={**os.environ, **env},
        )
        wait_until_up(self.process, f"http://127.0.0.1:{self.port}/", f"gunicorn for {app}")

    def stop(self) -> None:
        stop(self.process)


def run_wrk(
    port: int, script: Path, data: Path, duration: int, connections: int, threads: int
) -> dict[str, int]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(threads),
        str(data),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    return json.loads(line.removeprefix("WRK_JSON "))


async def _fixed_rate(
    port: int, requests: list[tuple[str, str]], rate: float
) -> tuple[list[float], int]:
    import aiohttp

    url = f"http://127.0.0.1:{port}{PATH}"
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2

        async def one(due: float, signature: str, body: str) -> None:
            nonlocal failures
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                async with session.post(
                    url,
                    data=body.encode(),
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": signature,
                    },
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1
            except (aiohttp.ClientError, TimeoutError):
                failures += 1
            latencies.append(loop.time() - due)

        await asyncio.gather(
            *(one(start + n / rate, sig, body) for n, (sig, body) in enumerate(requests))
        )
    return latencies, failures


def write_data(path: Path, requests: list[tuple[str, str]]) -> None:
    with path.open("w") as handle:
        for signature, body in requests:
            handle.write(f"{signature}\t{body}\n")


def settle(url: str) -> None:
    """Let PostgreSQL write out what the saturating wrk phase left behind (a CHECKPOINT and a
    short pause), so the fixed-rate phase measures the steady state at that rate."""
    engine = Database(url).engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))
    engine.dispose()
    time.sleep(2)


def backends_of(server_url: str, database: str = DATABASE_NAME) -> list[int]:
    """The PostgreSQL server processes connected to `database` (the bench database)."""
    engine = Database(server_url).engine
    with engine.connect() as connection:
        pids = connection.scalars(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        ).all()
    engine.dispose()
    return list(pids)


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def measure(
    name: str,
    app: str,
    env: dict[str, str],
    args: argparse.Namespace,
    script: Path,
    data: Path,
    rate_requests: list[tuple[str, str]],
    warm: Path,
) -> dict[str, float]:
    print(f"-- {name}: gunicorn -w {args.workers} {app}", flush=True)
    server = Gunicorn(app, args.workers, env)
    try:
        if args.warmup:
            # Until every worker has imported the app and served requests of the mix, as
            # workers in service have: the first answers only once one worker is up.
            run_wrk(server.port, script, warm, args.warmup, args.connections, args.threads)
        workers = children_of(server.process.pid)
        before = cpu_of(workers + backends_of(args.url))
        wrk = run_wrk(server.port, script, data, args.duration, args.connections, args.threads)
        # A backend that connected during the run counts from nothing; the workers are
        # those that served the warm-up (a sync worker is replaced only when it dies).
        after = cpu_of(workers + backends_of(args.url))
        worker_cpu = sum(after[pid] - before.get(pid, 0.0) for pid in workers)
        database_cpu = sum(
            used - before.get(pid, 0.0) for pid, used in after.items() if pid not in workers
        )
        settle(args.url)
        latencies, failures = asyncio.run(_fixed_rate(server.port, rate_requests, args.rate))
    finally:
        server.stop()
    seconds = wrk["duration_us"] / 1e6
    return {
        "requests": wrk["requests"],
        "rps": wrk["requests"] / seconds,
        "p50_ms": wrk["p50_us"] / 1000,
        "p99_ms": wrk["p99_us"] / 1000,
        "errors": wrk["status_errors"] + wrk["connect_errors"] + wrk["timeouts"],
        "rate_sent": len(latencies),
        "rate_p50_ms": percentile(latencies, 50) * 1000,
        "rate_p99_ms": percentile(latencies, 99) * 1000,
        "rate_mean_ms": statistics.fmean(latencies) * 1000,
        "rate_errors": failures,
        "worker_cpu_ms": worker_cpu * 1000 / max(1, wrk["requests"]),
        "database_cpu_ms": database_cpu * 1000 / max(1, wrk["requests"]),
    }


def cpu_budget(
    bare: dict[str, float],
    floor: dict[str, float],
    web_layer: dict[str, float],
    huzhu: dict[str, float],
) -> str:
    """Where Huzhu's CPU per request goes, beside what half the floor's throughput allows
    (throughput on a saturated machine goes as the inverse of the CPU each request takes)."""

    def total(column: dict[str, float]) -> float:
        return column["worker_cpu_ms"] + column["database_cpu_ms"]

    handling = total(huzhu) - total(web_layer)
    return (
        f"CPU per request (workers + PostgreSQL): floor {total(floor):.2f} ms, so 50% allows "
        f"{2 * total(floor):.2f} ms; Huzhu {total(huzhu):.2f} ms = web layer "
        f"{total(web_layer):.2f} + handling the message {handling:.2f} "
        f"(the floor's INSERT/COMMIT: {total(floor) - total(bare):.2f})"
    )


def copy_database(url: str, name: str) -> str:
    """A copy of the database of `url` named `name` (its URL), once nobody else is
    connected to it: a stopped server's connections close within seconds, and any
    still open after 10 s are ended."""
    source = make_url(url).database
    others = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    admin = Database(make_url(url).set(database="postgres").render_as_string(False))
    deadline = time.monotonic() + 10
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while connection.scalars(others, {"name": source}).all():
            if time.monotonic() > deadline:
                for pid in connection.scalars(others, {"name": source}).all():
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                time.sleep(0.5)
                break
            time.sleep(0.2)
    admin.dispose()
    return create_postgres_database(url, name, copy_of=source)


def statements_alone(
    cost: PerMessage,
    floor: dict[str, float],
    web_layer: dict[str, float],
    huzhu: dict[str, float],
) -> str:
    """What the statements cost with nothing between them, and the most any
    implementation sending them could reach beside the floor.

    The replay runs in this process on an idle machine, where every request costs less
    CPU than under the saturating `wrk` phase: its share of Huzhu's handling measured
    the same way carries it over to the loaded figures."""

    def total(column: dict[str, float]) -> float:
        return column["worker_cpu_ms"] + column["database_cpu_ms"]

    replayed = cost.replayed
    alone = replayed.client_cpu_ms + replayed.server_cpu_ms
    share = alone / (cost.cpu_ms + cost.database_cpu_ms)
    under_load = share * (total(huzhu) - total(web_layer))
    allowed = 2 * total(floor) - total(web_layer)
    ceiling = total(floor) / (total(web_layer) + under_load)
    return (
        f"the same {replayed.statements / replayed.messages:.2f} statements per message "
        f"replayed on a copy of the database through one psycopg connection, with no ORM, "
        f"rules or SQLAlchemy between them: {replayed.client_cpu_ms:.2f} ms CPU here + "
        f"{replayed.server_cpu_ms:.2f} ms in PostgreSQL = {alone:.2f} ms, {share:.0%} of "
        f"Huzhu's {cost.cpu_ms + cost.database_cpu_ms:.2f} ms in process; under load that "
        f"share is {under_load:.2f} ms a message against the {allowed:.2f} ms that 50% of "
        f"the floor leaves after the web layer: sending only these statements, a webhook "
        f"would reach at most {ceiling:.0%} of the floor"
    )


@dataclass
class PerMessage:
    messages: int
    statements: float
    round_trips: float
    orm_objects: float
    cpu_ms: float
    database_cpu_ms: float
    """In the PostgreSQL server process, per message."""
    errors: int
    """Messages stored with outcome `error`: a failure here must not pass for speed."""
    replayed: ReplayCost
    """The same statements again, with nothing between them."""


def per_message_cost(url: str, county: CountyPhones, count: int) -> PerMessage:
    """What one message of the mix costs in this process, on average, and what the
    statements it sent cost when replayed on a copy of the database with nothing between
    them (`bench.statement_replay`)."""
    app = create_app({"database_url": url, "sms_backend": "memory", "log_level": "WARNING"})
    database, settings = database_of(app), settings_of(app)
    rng = random.Random(3)
    forms = []
    for n in range(2 * count):
        sender, body = message_mix(county, rng)
        sid = f"SMc{n:031d}"
        forms.append({"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body})
    counts = {"statements": 0, "round_trips": 0, "orm_objects": 0}

    def statement(*_args: object) -> None:
        counts["statements"] += 1
        counts["round_trips"] += 1

    def round_trip(*_args: object) -> None:
        counts["round_trips"] += 1

    def loaded(*_args: object) -> None:
        counts["orm_objects"] += 1

    engine = database.engine
    with app.app_context():
        for form in forms[:count]:  # warm up: caches, prepared statements, the pool
            receive(database, settings, IncomingSms.from_form(form), clock_now())
        # The copy the statements are replayed on: the database as the measured messages
        # find it (a template may have no connections).
        engine.dispose()
        copy_url = copy_database(url, REPLAY_DATABASE_NAME)
        with engine.connect() as connection:  # a pooled connection again
            connection.execute(text("SELECT 1"))
        measured = forms[count:]
        listeners = [
            (engine, "before_cursor_execute", statement),
            (engine, "begin", round_trip),
            (engine, "commit", round_trip),
            (Base, "load", loaded),
        ]
        # A ping of a pooled connection (pre-ping on every checkout, or after idling).
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            round_trip()
            return ping(dbapi_connection)

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
        for target, name, listener in listeners:
            event.listen(target, name, listener, **({"propagate": True} if target is Base else {}))
        servers = backends_of(url, make_url(url).database or DATABASE_NAME)
        try:
            with StatementLog(engine) as log:
                server_before = cpu_of(servers)
                started = time.process_time()
                for form in measured:
                    receive(database, settings, IncomingSms.from_form(form), clock_now())
                cpu = time.process_time() - started
                server_cpu = sum(cpu_of(servers).values()) - sum(server_before.values())
        finally:
            engine.dialect.do_ping = ping  # type: ignore[method-assign]
            for target, name, listener in listeners:
                event.remove(target, name, listener)
    with database.unit_of_work() as session:
        errors = session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.message_sid.like("SMc%"), InboundMessage.outcome == "error")
        )
    database.dispose()
    try:
        replayed = replay(copy_url, log.sent, len(measured))
    finally:
        drop_postgres_database(url, REPLAY_DATABASE_NAME)
    return PerMessage(
        messages=len(measured),
        statements=counts["statements"] / len(measured),
        round_trips=counts["round_trips"] / len(measured),
        orm_objects=counts["orm_objects"] / len(measured),
        cpu_ms=cpu * 1000 / len(measured),
        database_cpu_ms=server_cpu * 1000 / len(measured),
        errors=errors or 0,
        replayed=replayed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--grids", type=int, default=200)
    parser.add_argument("--duration", type=int, default=15, help="wrk seconds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rate", type=float, default=200.0, help="fixed-rate req/s")
    parser.add_argument("--rate-duration", type=int, default=15)
    parser.add_argument("--max-rps", type=int, default=2500, help="sizes the unique requests")
    parser.add_argument(
        "--warmup", type=int, default=5, help="wrk seconds before each measurement (0: none)"
    )
    parser.add_argument(
        "--per-message", type=int, default=1000, help="messages for the per-message cost"
    )
    parser.add_argument(
        "--months-kept",
        type=int,
        default=0,
        help="months of history before this one, each a partition of every partitioned "
        "table, as a county that has run that long keeps (0: only those a new one has)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        raise SystemExit("bench.webhook measures PostgreSQL: give --url postgresql+psycopg://...")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get update && apt-get install -y wrk")

    url = create_postgres_database(args.url, DATABASE_NAME)
    try:
        migrate.upgrade(url)
        if args.months_kept:
            keep_months(url, args.months_kept)
        started = time.perf_counter()
        county = load_county(url, args.grids)
        print(
            f"county: {args.grids} grids, {args.grids * GRID_SIZE} members "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        unique = args.max_rps * args.duration
        started = time.perf_counter()
        wrk_requests = signed_requests(county, unique, "a", seed=1)
        rate_requests = signed_requests(county, int(args.rate * args.rate_duration), "b", seed=2)
        warm_requests = signed_requests(county, args.max_rps * args.warmup, WARM, seed=3)
        print(
            f"signed {len(wrk_requests) + len(rate_requests)} requests "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        env = {
            "DATABASE_URL": url,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "SMS_BACKEND": "memory",
            "LOG_LEVEL": "WARNING",
            "HUZHU_ENV": "development",
        }
        with tempfile.TemporaryDirectory(prefix="huzhu-bench-") as scratch:
            script = Path(scratch) / "inbound.lua"
            script.write_text(LUA)
            data = Path(scratch) / "requests.tsv"
            write_data(data, wrk_requests)
            warm = Path(scratch) / "warmup.tsv"
            write_data(warm, warm_requests)
            bare = measure(
                "bare Flask",
                "bench.webhook_bare:create_app()",
                {},
                args,
                script,
                data,
                rate_requests,
                warm,
            )
            floor = measure(
                "bare Flask + INSERT/COMMIT",
                "bench.webhook_bare:create_app()",
                {"BARE_DATABASE_URL": url},
                args,
                script,
                data,
                rate_requests,
                warm,
            )
            web_layer = measure(
                "Huzhu web layer (each message answered without handling it)",
                "bench.webhook_bare:create_web_layer_app()",
                env,
                args,
                script,
                data,
                rate_requests,
                warm,
            )
            emptied = Database(url)
            with emptied.engine.begin() as connection:
                connection.execute(text("DELETE FROM inbound_messages"))
            emptied.dispose()
            huzhu = measure(
                "Huzhu", "wsgi:create_app()", env, args, script, data, rate_requests, warm
            )

        database = Database(url)
        measured = ~InboundMessage.message_sid.startswith(f"SM{WARM}")
        with database.unit_of_work() as session:
            stored = (
                session.scalar(select(func.count()).select_from(InboundMessage).where(measured))
                or 0
            )
            outcomes = dict(
                session.execute(
                    select(InboundMessage.outcome, func.count())
                    .where(measured)
                    .group_by(InboundMessage.outcome)
                )
                .tuples()
                .all()
            )
        database.dispose()
        cost = per_message_cost(url, county, args.per_message)
    finally:
        drop_postgres_database(args.url, REPLAY_DATABASE_NAME)
        if not args.keep:
            drop_postgres_database(args.url, DATABASE_NAME)

    sent = int(huzhu["requests"]) + int(huzhu["rate_sent"])
    print()
    print(
        f"gunicorn -w {args.workers} (sync) on 127.0.0.1; wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s; fixed rate {args.rate:.0f} req/s "
        f"for {args.rate_duration}s (open loop, latency from the due time)"
    )
    columns = (bare, floor, web_layer, huzhu)
    print(f"{'':26}{'bare Flask':>12}{'+INSERT/COMMIT':>16}{'Huzhu web layer':>17}{'Huzhu':>9}")
    rows = [
        ("throughput req/s", "rps", "{:.0f}"),
        ("  p50 latency ms", "p50_ms", "{:.1f}"),
        ("  p99 latency ms", "p99_ms", "{:.1f}"),
        ("  errors", "errors", "{:.0f}"),
        (f"at {args.rate:.0f} req/s: p50 ms", "rate_p50_ms", "{:.1f}"),
        (f"at {args.rate:.0f} req/s: p99 ms", "rate_p99_ms", "{:.1f}"),
        (f"at {args.rate:.0f} req/s: errors", "rate_errors", "{:.0f}"),
        ("CPU ms/request: workers", "worker_cpu_ms", "{:.2f}"),
        ("  PostgreSQL", "database_cpu_ms", "{:.2f}"),
    ]
    widths = (12, 16, 17, 9)
    for label, key, fmt in rows:
        cells = "".join(
            f"{fmt.format(column[key]):>{width}}"
            for column, width in zip(columns, widths, strict=True)
        )
        print(f"{label:26}{cells}")
    ratio = huzhu["rps"] / floor["rps"]
    p99 = huzhu["rate_p99_ms"]
    print()
    print(
        f"Huzhu / bare + INSERT/COMMIT: {ratio:.0%} (storing each message durably is the "
        f"floor of any such webhook; target at least 50%: {'met' if ratio >= 0.5 else 'NOT MET'})"
    )
    print(f"Huzhu / bare throughput: {huzhu['rps'] / bare['rps']:.0%}")
    print(cpu_budget(bare, floor, web_layer, huzhu))
    print(
        f"Huzhu p99 at {args.rate:.0f} req/s: {p99:.1f} ms "
        f"(target under 100 ms: {'met' if p99 < 100 else 'NOT MET'})"
    )
    print(
        f"stored inbound messages: {stored} (wrk counts only completed requests: "
        f"{sent}); outcomes: {outcomes}"
    )
    if int(huzhu["requests"]) > len(wrk_requests):
        print(
            f"note: wrk sent more than the {len(wrk_requests)} unique requests; "
            "repeats were answered from the stored reply (raise --max-rps)"
        )
    print(
        f"per message, in process ({cost.messages} of the same mix through "
        f"notifications.inbound.receive): {cost.statements:.2f} SQL statements, "
        f"{cost.round_trips:.2f} database round trips, {cost.orm_objects:.1f} ORM objects "
        f"loaded, {cost.cpu_ms:.2f} ms CPU here + {cost.database_cpu_ms:.2f} ms in PostgreSQL"
    )
    print(statements_alone(cost, floor, web_layer, huzhu))
    failures = huzhu["errors"] + huzhu["rate_errors"] + outcomes.get("error", 0) + cost.errors
    if failures or stored < sent:
        print(f"FAILED: {failures:.0f} errors, {stored} stored of {sent} answered")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
