"""The Monday digest to village doctors: snapshot last week, queue one SMS each.

`send_digest` is what the scheduler's `doctor-digest` job calls (with its slot
time as `now`); `flask --app wsgi rollups digest` calls it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from config.logging import mask_phone
from config.runtime import current_settings
from grids.cli import parse_at
from grids.rollups.cli import AT, fail, rollups_cli
from grids.rollups.digest import monday_digest
from grids.rollups.indicators import DOCTOR_ACK_TIMEOUT_S
from grids.rollups.service import RollupError, doctor_timeout_of, snapshot_closed_weeks
from grids.storage.session import request_session
from i18n import translate
from notifications.outbox import enqueue_many


@dataclass(frozen=True)
class DigestRun:
    week: str
    queued: int
    texts: list[tuple[str, str]]
    """(masked phone, text) of every digest, queued or not."""


def send_digest(
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    week: str | None = None,
    *,
    dry_run: bool = False,
    doctor_timeout_s: int = DOCTOR_ACK_TIMEOUT_S,
) -> DigestRun:
    """Snapshot the closed weeks, then queue the digest (in the caller's transaction)."""
    if not dry_run:
        snapshot_closed_weeks(session, now, tz, doctor_timeout_s=doctor_timeout_s)
    digest = monday_digest(session, now, tz, week, doctor_timeout_s=doctor_timeout_s)
    texts = [
        (
            mask_phone(notice.phone),
            translate(notice.template, notice.language, **notice.params),
        )
        for notice in digest.notices
    ]
    queued = 0 if dry_run else len(enqueue_many(session, digest.notices, now=now))
    return DigestRun(week=digest.week, queued=queued, texts=texts)


@rollups_cli.command("digest")
@click.option("--week", help="ISO week (default: the last closed week).")
@click.option("--dry-run", is_flag=True, help="Print the texts; queue nothing.")
@AT
def digest_command(week: str | None, dry_run: bool, at: str | None) -> None:
    """Queue the Monday SMS digest to every village doctor (one 70-character segment)."""
    settings = current_settings()
    session = request_session()
    try:
        run = send_digest(
            session,
            parse_at(at),
            settings.tz,
            week,
            dry_run=dry_run,
            doctor_timeout_s=doctor_timeout_of(settings),
        )
    except RollupError as error:
        raise fail(error) from error
    if not dry_run:
        session.commit()
    for phone, text in run.texts:
        click.echo(f"{phone}  {text}")
    key = "rollups.digest.dry_run" if dry_run else "rollups.digest.queued"
    click.echo(
        translate(
            key, settings.default_language, week=run.week, count=len(run.texts), queued=run.queued
        ),
        err=True,
    )
