"""`flask --app wsgi roster ...`: importing a county's roster from CSV files."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from tqdm import tqdm

from config.clock import now as clock_now
from config.runtime import current_settings
from grids.cli import render_table
from grids.roster.importing import ImportReport, import_roster
from grids.roster.records import RosterFiles, render_error, render_notice
from grids.storage.session import request_session
from i18n import translate

roster_cli = AppGroup("roster", help="Import the county's roster from CSV files.")

_CSV = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@roster_cli.command("import")
@click.option("--facilities", type=_CSV, help="Facilities CSV: code,name,level,parent_code,phone")
@click.option("--doctors", type=_CSV, help="Village doctors CSV: code,name,phone,facility_code")
@click.option(
    "--patients",
    type=_CSV,
    help="Patients CSV: code,name,phone,facility_code,conditions,birth_year,sex,volunteer",
)
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows; list the bad ones.")
def import_command(
    facilities: Path | None,
    doctors: Path | None,
    patients: Path | None,
    dry_run: bool,
    skip_bad_rows: bool,
) -> None:
    """Import or update facilities, doctors and patients by code.

    Without --skip-bad-rows nothing is written when any row is bad. Rows absent
    from a file are left as they are.
    """
    settings = current_settings()
    language = settings.default_language
    if not (facilities or doctors or patients):
        raise click.UsageError(translate("roster.usage.no_files", language))
    session = request_session()
    now = clock_now()
    report = import_roster(
        session,
        RosterFiles(facilities, doctors, patients),
        default_language=language,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        now=now,
        today=now.astimezone(settings.tz).date(),
        progress=TerminalProgress(language) if sys.stderr.isatty() else None,
    )
    if report.applied:
        session.commit()

    for line in notice_lines(report, language):
        click.echo(line, err=True)
    for line in error_lines(report, language):
        click.echo(line, err=True)
    click.echo(summary_table(report, language))
    click.echo(outcome_line(report, language))
    if report.file_errors or (report.bad_rows and (dry_run or not skip_bad_rows)):
        raise click.exceptions.Exit(1)


PROGRESS_THRESHOLD = 5_000
"""Files with more rows than this get a progress bar."""


class TerminalProgress:
    """Progress bars on stderr for files past `PROGRESS_THRESHOLD` rows."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._bar: tqdm[Any] | None = None

    def reading(self, items: Iterable[Any], total: int, kind: str) -> Iterable[Any]:
        if total <= PROGRESS_THRESHOLD:
            return items
        label = translate("roster.progress.reading", self.language, file=self._name(kind))
        return tqdm(items, total=total, desc=label, unit=" rows", file=sys.stderr, leave=False)

    def written(self, kind: str, done: int, total: int) -> None:
        if total <= PROGRESS_THRESHOLD:
            return
        if self._bar is None:
            label = translate("roster.progress.writing", self.language, file=self._name(kind))
            self._bar = tqdm(total=total, desc=label, unit=" rows", file=sys.stderr, leave=False)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None

    def _name(self, kind: str) -> str:
        return translate(f"roster.file.{kind}", self.language)


def notice_lines(report: ImportReport, language: str) -> list[str]:
    return [
        render_notice(notice, report.file_name(notice.file), language) for notice in report.notices
    ]


def error_lines(report: ImportReport, language: str) -> list[str]:
    return [render_error(error, report.file_name(error.file), language) for error in report.errors]


def summary_table(report: ImportReport, language: str) -> str:
    """One line per file: read, created, updated, unchanged, bad; aligned for CJK text."""
    columns = ("file", "read", "created", "updated", "unchanged", "bad")
    rows = [
        [
            f"{translate(f'roster.file.{kind}', language)} ({counts.path.name})",
            counts.read,
            counts.created,
            counts.updated,
            counts.unchanged,
            counts.bad,
        ]
        for kind, counts in report.files.items()
    ]
    headers = [translate(f"roster.summary.{column}", language) for column in columns]
    return render_table(headers, rows, right=range(1, len(columns)))


def outcome_line(report: ImportReport, language: str) -> str:
    if report.file_errors:
        return translate("roster.summary.file_errors", language)
    if report.dry_run:
        return translate("roster.summary.dry_run", language)
    if not report.applied:
        return translate("roster.summary.aborted", language, count=report.bad_rows)
    created = sum(f.created for f in report.files.values())
    updated = sum(f.updated for f in report.files.values())
    done = translate("roster.summary.done", language, created=created, updated=updated)
    if report.bad_rows:
        return done + " " + translate("roster.summary.skipped", language, count=report.bad_rows)
    return done


def init_app(app: Flask) -> None:
    app.cli.add_command(roster_cli)
