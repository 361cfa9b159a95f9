"""`flask --app wsgi rollups show|snapshot|export|import`; `digest` is added by the SMS channel."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from config.runtime import current_settings
from grids.cli import CommandFailed, at_option, parse_at, render_table
from grids.rollups.indicators import INDICATOR_FIELDS, LEVELS
from grids.rollups.service import (
    RollupError,
    doctor_timeout_of,
    rollup_document,
    snapshot_closed_weeks,
)
from grids.rollups.transfer import TransferError, export_documents, import_documents
from grids.storage.session import read_session, request_session
from i18n import translate

rollups_cli = AppGroup("rollups", help="Weekly indicators per grid, doctor, township, county.")


def fail(error: RollupError) -> CommandFailed:
    return CommandFailed(translate(error.key, current_settings().default_language, **error.params))


AT = at_option("Compute as if the clock read this ISO time (county time if no offset).")


@rollups_cli.command("show")
@click.option("--level", type=click.Choice(LEVELS), required=True)
@click.option("--code", required=True, help="Grid, doctor, township or county (root) code.")
@click.option("--week", help="ISO week such as 2026-W48 (default: the last closed week).")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@AT
def show_command(level: str, code: str, week: str | None, output: str, at: str | None) -> None:
    """Print one rollup: the same document as GET /api/v1/rollups."""
    settings = current_settings()
    try:
        doc = rollup_document(
            read_session(),
            level,
            code,
            week,
            parse_at(at),
            settings.tz,
            doctor_timeout_s=doctor_timeout_of(settings),
        )
    except RollupError as error:
        raise fail(error) from error
    if output == "json":
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    click.echo(render_document(doc, settings.default_language))


def render_document(doc: dict[str, Any], language: str) -> str:
    """A rollup document as a title line and one indicator a line."""
    state = translate("rollups.provisional" if doc["provisional"] else "rollups.final", language)
    title = (
        f"{doc['level']} {doc['code']} {doc['week']}  ({state}; "
        + translate("rollups.as_of", language, as_of=doc["as_of"])
        + ")"
    )
    rows = [(name, doc["indicators"][name]) for name in INDICATOR_FIELDS]
    return title + "\n" + render_table(None, rows, cell=lambda v: "-" if v is None else str(v))


@rollups_cli.command("snapshot")
@AT
def snapshot_command(at: str | None) -> None:
    """Snapshot the last closed week and recompute the trailing weeks (late data)."""
    settings = current_settings()
    session = request_session()
    outcome = snapshot_closed_weeks(
        session, parse_at(at), settings.tz, doctor_timeout_s=doctor_timeout_of(settings)
    )
    session.commit()
    for week, (created, revised) in outcome.items():
        click.echo(
            translate(
                "rollups.snapshot.done",
                settings.default_language,
                week=week,
                created=created,
                revised=revised,
            )
        )


@rollups_cli.command("export")
@click.option("--level", type=click.Choice(["county", "township"]), default="county")
@click.option("--week", required=True, help="A closed ISO week such as 2026-W48.")
@click.option("--format", "output", type=click.Choice(["json"]), default="json")
@click.option("--output", "path", type=click.Path(dir_okay=False), help="File (default stdout).")
@AT
def export_command(level: str, week: str, output: str, path: str | None, at: str | None) -> None:
    """The §5 document of every county (or township) of a closed week, for a national view."""
    settings = current_settings()
    try:
        payload = export_documents(
            read_session(),
            level,
            week,
            parse_at(at),
            settings.tz,
            doctor_timeout_s=doctor_timeout_of(settings),
        )
    except RollupError as error:
        raise fail(error) from error
    text = json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
    if path is None:
        click.echo(text, nl=False)
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@rollups_cli.command("import")
@click.argument("file", type=click.File("rb"))
def import_command(file: Any) -> None:
    """Store another deployment's county documents (from `rollups export`) as snapshots."""
    settings = current_settings()
    language = settings.default_language
    try:
        payload = json.loads(file.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandFailed(
            translate("rollups.import.not_json", language, reason=str(error))
        ) from error
    session = request_session()
    try:
        outcome = import_documents(session, payload)
    except TransferError as error:
        session.rollback()
        raise fail(error) from error
    session.commit()
    click.echo(
        translate(
            "rollups.import.done",
            language,
            weeks=outcome.week_count,
            created=outcome.created,
            revised=outcome.revised,
            unchanged=outcome.unchanged,
        )
    )
