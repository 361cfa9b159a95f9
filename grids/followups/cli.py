"""`flask --app wsgi followups record|due|export`."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation

import click
from flask.cli import AppGroup
from sqlalchemy import select

from config.runtime import current_settings
from grids.channel import channel
from grids.cli import at_option, fail, parse_at, render_table
from grids.cli import language as cli_language
from grids.followups import export, rules
from grids.followups.documents import followup_document
from grids.followups.due import doctor_grid_ids, due_items, township_grid_ids
from grids.followups.service import (
    FollowupInput,
    FollowupRefused,
    NotAllowed,
    Problem,
    record_followup,
    user_named,
)
from grids.models import Doctor, Facility
from grids.storage.session import request_session
from i18n import translate

followups_cli = AppGroup("followups", help="The doctors' mandated follow-ups.")


OPTIONS = {
    "glucose_mmol": "--glucose",
    "weight_kg": "--weight",
    "height_cm": "--height",
    "referral_reason": "--referral",
    "next_due": "--next",
}
"""The option of each checked field whose name differs from it (`heart_rate`: `--heart-rate`)."""


def option_of(field: str) -> str:
    return OPTIONS.get(field, f"--{field.replace('_', '-')}")


def _day(raw: str | None, field: str, unread: list[Problem]) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        unread.append(Problem(field, "followups.error.date", {"value": raw}))
        return None


def _decimal(raw: str | None, field: str, unread: list[Problem]) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        unread.append(Problem(field, "followups.error.number", {"value": raw}))
        return None
    return value


@followups_cli.command("record")
@click.option("--member", "member_code", required=True, help="The member's code.")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD")
@click.option("--method", required=True, type=click.Choice([str(m) for m in rules.Method]))
@click.option("--bp", metavar="S/D", help="Blood pressure, e.g. 150/95.")
@click.option("--glucose", metavar="MMOL", help="Fasting glucose, mmol/L.")
@click.option("--heart-rate", type=int)
@click.option("--weight", metavar="KG")
@click.option("--height", metavar="CM")
@click.option("--adherence", type=click.Choice([str(a) for a in rules.Adherence]))
@click.option("--classification", type=click.Choice([str(c) for c in rules.Classification]))
@click.option("--referral", "referral_reason", help="Why the member is referred.")
@click.option("--referral-to", help="Where to (hospital and department).")
@click.option("--next", "next_day", metavar="YYYY-MM-DD", help="Next follow-up (else the rule).")
@click.option("--actor", "actor_name", required=True, help="The account recording it.")
@at_option("When it is recorded (ISO 8601); default now.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text")
def record_command(
    member_code: str,
    day: str,
    method: str,
    bp: str | None,
    glucose: str | None,
    heart_rate: int | None,
    weight: str | None,
    height: str | None,
    adherence: str | None,
    classification: str | None,
    referral_reason: str | None,
    referral_to: str | None,
    next_day: str | None,
    actor_name: str,
    at: str | None,
    output: str,
) -> None:
    """Record one follow-up; the next date follows the national rule unless --next."""
    language = cli_language()
    moment = parse_at(at)
    unread: list[Problem] = []
    systolic = diastolic = None
    if bp is not None:
        try:
            systolic, diastolic = rules.parse_bp(bp)
        except ValueError:
            unread.append(Problem("bp", "followups.error.bp", {"value": bp}))
    data = FollowupInput(
        member_code=member_code,
        visit_date=_day(day, "date", unread) or date.min,
        method=method,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        weight_kg=_decimal(weight, "weight_kg", unread),
        height_cm=_decimal(height, "height_cm", unread),
        glucose_mmol=_decimal(glucose, "glucose_mmol", unread),
        adherence=adherence,
        classification=classification,
        referral_reason=referral_reason,
        referral_to=referral_to,
        next_due=_day(next_day, "next_due", unread),
    )
    session = request_session()
    try:
        user = user_named(session, actor_name)
        recorded = record_followup(
            session, data, user=user, now=moment, settings=current_settings(), unread=unread
        )
    except NotAllowed as error:
        raise fail(error.key, **error.params) from None
    except FollowupRefused as error:
        lines = [
            translate(
                "followups.error.field",
                language,
                field=option_of(p.field),
                message=translate(p.key, language, **p.params),
            )
            for p in error.problems
        ]
        raise fail("followups.error.lines", lines="\n".join(lines)) from None
    channel()(session, recorded.notices, moment)
    session.commit()
    document = followup_document(recorded)
    if output == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(
        translate(
            "followups.recorded",
            language,
            member=document["member_code"],
            date=document["date"],
            next=document["next_due"],
            reason=translate(f"followups.reason.{document['next_due_reason']}", language),
        )
    )
    for code in document["critical_cases"]:
        click.echo(translate("followups.critical", language, code=code))


@followups_cli.command("due")
@click.option("--doctor", "doctor_code", help="The doctor's code: his members due.")
@click.option("--township", "township_code", help="A township: members 30+ days past due.")
@at_option("The moment to list for (ISO 8601); default now.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
def due_command(
    doctor_code: str | None, township_code: str | None, at: str | None, output: str
) -> None:
    """Members due a follow-up, red first, then the most days overdue."""
    if (doctor_code is None) == (township_code is None):
        raise fail("followups.error.due_subject")
    moment = parse_at(at)
    session = request_session()
    if doctor_code is not None:
        doctor = session.scalar(select(Doctor).where(Doctor.code == doctor_code))
        if doctor is None:
            raise fail("followups.error.no_doctor", doctor=doctor_code)
        grid_ids = doctor_grid_ids(session, doctor)
    else:
        township = session.scalar(select(Facility).where(Facility.code == township_code))
        if township is None:
            raise fail("followups.error.no_facility", facility=township_code)
        grid_ids = township_grid_ids(session, township)
    items = due_items(
        session, grid_ids, moment, current_settings().tz, township=township_code is not None
    )
    if output == "json":
        click.echo(
            json.dumps({"items": [i.as_json() for i in items]}, ensure_ascii=False, indent=2)
        )
        return
    language = cli_language()
    click.echo(
        render_table(
            translate("followups.due.header", language).split("|"),
            [
                (
                    i.member_code,
                    i.name,
                    i.grid_code,
                    i.due.isoformat(),
                    i.days_overdue,
                    translate(f"followups.colour.{i.colour}", language),
                    translate(f"followups.reason.{i.reason}", language),
                )
                for i in items
            ],
            right=(4,),
        )
        or translate("followups.due.none", language)
    )


@followups_cli.command("export")
@click.option("--quarter", required=True, metavar="YYYY-QN", help="e.g. 2027-Q1")
@click.option("--doctor", "doctor_code", help="A doctor's follow-ups.")
@click.option("--township", "township_code", help="A township's follow-ups.")
@click.option("--county", is_flag=True, help="The whole county's follow-ups.")
@click.option("--format", "output", type=click.Choice(["xlsx", "csv"]), required=True)
@click.option("--output", "path", type=click.Path(dir_okay=False), help="File; else stdout.")
def export_command(
    quarter: str,
    doctor_code: str | None,
    township_code: str | None,
    county: bool,
    output: str,
    path: str | None,
) -> None:
    """A quarter's follow-ups in the national layout (Chinese headers)."""
    if sum((doctor_code is not None, township_code is not None, county)) != 1:
        raise fail("followups.error.export_subject")
    try:
        start, end = rules.quarter_bounds(quarter)
    except ValueError:
        raise fail("followups.error.quarter", value=quarter) from None
    session = request_session()
    doctor = township = None
    if doctor_code is not None:
        doctor = session.scalar(select(Doctor).where(Doctor.code == doctor_code))
        if doctor is None:
            raise fail("followups.error.no_doctor", doctor=doctor_code)
    if township_code is not None:
        township = session.scalar(select(Facility).where(Facility.code == township_code))
        if township is None:
            raise fail("followups.error.no_facility", facility=township_code)
    table = export.quarter_rows(session, start, end, doctor=doctor, township=township)
    data = export.to_csv(table) if output == "csv" else export.to_xlsx(table, quarter)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with open(path, "wb") as file:
        file.write(data)
