"""The demo's twelve weeks of history, played through the real inbound SMS handler.

Registered as a step of `flask --app wsgi demo`: the grids plan the messages,
this module hands each one to `inbound.receive` at its own time, exactly as
the Twilio webhook would, then snapshots the closed weeks and creates logins.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import select

from config.clock import now as clock_now
from config.runtime import settings_of
from grids.demo import add_demo_step
from grids.demo.county_history import write_county_history
from grids.demo.history import (
    backdate_memberships,
    demo_township,
    has_history,
    history_script,
    history_start,
)
from grids.demo.logins import DEMO_PASSWORD, demo_doctor, ensure_demo_logins
from grids.models import Grid
from grids.rollups.period import WeekPeriod, weeks_back
from grids.rollups.service import doctor_timeout_of, snapshot_week
from grids.storage.session import database_of
from i18n import translate
from notifications.inbound import IncomingSms, receive


def play_demo_history(echo: Callable[[str], None]) -> None:
    app = current_app
    settings = settings_of(app)
    database = database_of(app)
    language = settings.default_language
    moment = clock_now()
    started = time.perf_counter()
    with database.unit_of_work() as session:
        township = demo_township(session)
        if township is None:
            return
        township_name = township.name
        grid_ids, script = history_script(session, township, moment, settings.tz)
        played = written = 0
        if grid_ids and not has_history(session, grid_ids):
            backdate_memberships(session, history_start(moment, settings.tz))
            session.commit()
            for number, sms in enumerate(script):
                sid = f"SMdemo{number:06d}{int(sms.at.timestamp())}"
                receive(
                    database,
                    settings,
                    IncomingSms(
                        message_sid=sid,
                        from_raw=sms.phone,
                        from_phone=sms.phone,
                        to_phone=None,
                        body=sms.text,
                        params={"MessageSid": sid, "From": sms.phone, "Body": sms.text},
                    ),
                    sms.at,
                )
                played += 1
            # The rest of the county: the same twelve weeks, written as rows.
            written = write_county_history(session, grid_ids, moment, settings.tz)
            session.commit()
            current = moment.astimezone(settings.tz).isocalendar()
            for week in weeks_back(f"{current[0]}-W{current[1]:02d}", 13)[:-1]:
                snapshot_week(
                    session,
                    WeekPeriod(week, settings.tz),
                    moment,
                    doctor_timeout_s=doctor_timeout_of(settings),
                )
            session.commit()
        doctor = demo_doctor(session, grid_ids)
        logins = ensure_demo_logins(session, doctor, township)
        session.commit()
        try_grid = (
            session.scalar(
                select(Grid.code).where(Grid.doctor_id == doctor.id).order_by(Grid.code).limit(1)
            )
            if doctor is not None
            else None
        )
    if played:
        echo(
            translate(
                "demo.history.played",
                language,
                messages=played,
                grids=len(grid_ids),
                township=township_name,
                seconds=f"{time.perf_counter() - started:.1f}",
            )
        )
    if written:
        echo(translate("demo.history.written", language, grids=written))
    echo(translate("demo.logins.title", language, password=DEMO_PASSWORD))
    for login in logins:
        echo(f"  {login.username:<9} {login.role:<9} {login.scope or ''}")
    if try_grid is not None:
        echo(translate("demo.try_it", language, grid=try_grid))


def init_app(app: Flask) -> None:
    add_demo_step(app, play_demo_history)
