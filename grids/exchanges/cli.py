"""`flask --app wsgi exchanges plan|set|prefer`: the grids' standing exchange slots."""

from __future__ import annotations

import json
import re
from datetime import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from config.runtime import current_settings
from grids.cli import CommandFailed, render_table
from grids.cli import language as cli_language
from grids.exchanges.models import ExchangePreference
from grids.exchanges.planner import QuietWindow
from grids.exchanges.slots import (
    SlotRefused,
    UnknownFacility,
    UnknownGrid,
    plan_exchanges,
    set_slot,
)
from grids.models import Grid
from grids.storage.session import request_session
from i18n import translate

exchanges_cli = AppGroup("exchanges", help="Plan and set the weekly exchange slots.")


def _quiet() -> QuietWindow:
    quiet = current_settings().quiet_hours
    return QuietWindow.of(quiet.start, quiet.end)


def reason_text(reason: str, language: str, clash: str | None = None) -> str:
    return translate(f"exchanges.reason.{reason}", language, grid=clash or "-")


@exchanges_cli.command("plan")
@click.option("--facility", "facility_code", help="Only grids under this facility code.")
@click.option("--dry-run", is_flag=True, help="Show the plan; store nothing.")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def plan_command(facility_code: str | None, dry_run: bool, output: str) -> None:
    """Propose slots for grids without one, and the doctors' visit rota; store them
    unless --dry-run."""
    language = cli_language()
    session = request_session()
    try:
        result = plan_exchanges(session, _quiet(), facility_code=facility_code, apply=not dry_run)
    except UnknownFacility as error:
        raise CommandFailed(
            translate("exchanges.error.unknown_facility", language, facility=error.args[0])
        ) from None
    if not dry_run:
        session.commit()
    if output == "json":
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    if result.slots:
        click.echo(
            render_table(
                translate("exchanges.plan.header", language).split("|"),
                [
                    (
                        s.grid_code,
                        translate(f"sms.notice.weekday.{s.weekday}", language),
                        s.start,
                        s.minutes,
                        s.venue,
                    )
                    for s in result.slots
                ],
            )
        )
    for item in result.unplaced:
        click.echo(
            translate(
                "exchanges.plan.unplaced",
                language,
                grid=item.grid_code,
                reason=reason_text(item.reason, language),
            )
        )
    click.echo(
        translate(
            "exchanges.plan.summary_dry_run" if dry_run else "exchanges.plan.summary",
            language,
            slots=len(result.slots),
            visits=len(result.rota),
            unplaced=len(result.unplaced),
        )
    )


def _parse_time(raw: str, language: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2})[:：](\d{2})\s*", raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise click.BadParameter(translate("exchanges.error.time", language, value=raw))
    return time(int(match.group(1)), int(match.group(2)))


@exchanges_cli.command("set")
@click.argument("grid_code")
@click.option("--weekday", type=click.IntRange(0, 6), required=True, help="0 = Monday … 6 = Sunday")
@click.option("--time", "start", required=True, help="Start, HH:MM in the county's time zone.")
@click.option("--venue", help="Where the grid meets (default: its village clinic).")
def set_command(grid_code: str, weekday: int, start: str, venue: str | None) -> None:
    """Set a grid's standing weekly slot; refused if it double-books the venue or
    falls in the quiet hours."""
    language = cli_language()
    at = _parse_time(start, language)
    session = request_session()
    try:
        grid = set_slot(
            session,
            grid_code,
            weekday=weekday,
            start=at,
            venue=venue,
            quiet=_quiet(),
            tz=current_settings().tz,
        )
    except UnknownGrid:
        raise CommandFailed(
            translate("exchanges.error.unknown_grid", language, grid=grid_code)
        ) from None
    except SlotRefused as refused:
        raise CommandFailed(
            translate(
                "exchanges.error.refused",
                language,
                reason=reason_text(refused.reason, language, refused.clash),
            )
        ) from None
    session.commit()
    click.echo(
        translate(
            "exchanges.set.done",
            language,
            grid=grid.code,
            weekday=translate(f"sms.notice.weekday.{weekday}", language),
            time=f"{at:%H:%M}",
            venue=grid.exchange_venue or grid.facility.name,
        )
    )


@exchanges_cli.command("prefer")
@click.argument("grid_code")
@click.option(
    "--weekdays",
    required=True,
    help="The coordinator's preferred days, e.g. 1,3 (0 = Monday); empty to clear.",
)
def prefer_command(grid_code: str, weekdays: str) -> None:
    """Record the weekdays a grid's coordinator prefers; `exchanges plan` keeps to them."""
    language = cli_language()
    try:
        days = sorted({int(part) for part in re.split(r"[,\s]+", weekdays.strip()) if part})
    except ValueError:
        days = [-1]
    if any(not 0 <= day <= 6 for day in days):
        raise click.BadParameter(translate("exchanges.error.weekdays", language, value=weekdays))
    session = request_session()
    grid = session.scalar(select(Grid).where(Grid.code == grid_code))
    if grid is None:
        raise CommandFailed(translate("exchanges.error.unknown_grid", language, grid=grid_code))
    preference = session.scalar(
        select(ExchangePreference).where(ExchangePreference.grid_id == grid.id)
    )
    if preference is None:
        preference = ExchangePreference(grid_id=grid.id)
        session.add(preference)
    preference.weekdays = days
    session.commit()
    click.echo(
        translate(
            "exchanges.prefer.done",
            language,
            grid=grid.code,
            weekdays="、".join(translate(f"sms.notice.weekday.{d}", language) for d in days) or "-",
        )
    )


def init_app(app: Flask) -> None:
    import grids.exchanges.models
    import grids.silence.models  # noqa: F401  (registers the tables)

    app.cli.add_command(exchanges_cli)
