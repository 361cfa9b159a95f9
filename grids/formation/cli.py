"""`flask --app wsgi grids ...` and `demo`: forming grids and exporting memberships."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.clock import now as clock_now
from config.runtime import current_settings
from grids.cli import CommandFailed, render_table
from grids.core.limits import DOCTOR_GRID_CAPACITY
from grids.core.vocabulary import CONDITION_CODES, MIXED, DoctorStatus, FacilityLevel
from grids.demo import demo_steps
from grids.demo.synthetic import JIEXIU_PATIENTS, SyntheticCounty, generate_county, write_csv_files
from grids.formation.export import FORMATS, ExportRow, membership_rows, write_csv, write_json
from grids.formation.planner_records import FormationFigures, FormationReport
from grids.formation.service import (
    FormationConflict,
    FormationResult,
    UnknownFacility,
    form_grids_in_database,
)
from grids.models import Doctor, Facility, Grid, Patient, WeeklyReport
from grids.roster.importing import import_roster
from grids.roster.records import RosterFiles
from grids.storage.session import request_session
from grids.web.summary import county_summary
from i18n import translate

grids_cli = AppGroup("grids", help="Form grids and export their memberships.")

_LIST_WIDTH = 96


# --- rendering ----------------------------------------------------------------------------


def _cannot_write(path: Path, error: OSError, language: str) -> CommandFailed:
    reason = error.strerror or str(error)
    return CommandFailed(_t("export.error.cannot_write", language, path=str(path), reason=reason))


def _code_list(codes: Sequence[str]) -> list[str]:
    lines: list[str] = []
    current = ""
    for code in codes:
        candidate = f"{current}, {code}" if current else code
        if current and len(candidate) > _LIST_WIDTH:
            lines.append("  " + current + ",")
            current = code
        else:
            current = candidate
    if current:
        lines.append("  " + current)
    return lines


def _t(key: str, language: str, **params: Any) -> str:
    return translate(key, language, **params)


def render_formation_report(result: FormationResult, language: str, *, dry_run: bool) -> str:
    report: FormationReport = result.plan.report
    scope = (
        _t(
            "formation.report.scope",
            language,
            facility=result.facility_code,
            clinics=result.clinics_in_scope,
        )
        if result.facility_code
        else _t("formation.report.scope_all", language, clinics=result.clinics_in_scope)
    )
    title = _t("formation.report.title_dry_run" if dry_run else "formation.report.title", language)
    left = str(report.left)
    if report.left_by_reason:
        reasons = ", ".join(
            f"{_t(f'formation.left_reason.{reason}', language)} {count}"
            for reason, count in sorted(report.left_by_reason.items())
        )
        left = f"{report.left} ({reasons})"
    # Released doctors and coordinators follow a roster change: shown only when there are some.
    released = [
        ("formation.report.doctors_released", report.doctors_released),
        ("formation.report.coordinators_released", report.coordinators_released),
    ]
    rows: list[tuple[str, Any]] = [
        ("formation.report.grids_created", report.grids_created),
        ("formation.report.placed_new", report.placed_in_new),
        ("formation.report.placed_existing", report.placed_in_existing),
        ("formation.report.left", left),
        *((key, count) for key, count in released if count),
        ("formation.report.grids_assigned", report.grids_assigned),
        ("formation.report.coordinators_appointed", report.coordinators_appointed),
        ("formation.report.needs_coordinator", len(report.needs_coordinator)),
        ("formation.report.deputies_appointed", report.deputies_appointed),
        ("formation.report.needs_deputy", report.needs_deputy),
        ("formation.report.small_grids", len(report.small_grids)),
        (
            "formation.report.doctor_load",
            _t(
                "formation.report.doctor_load_range",
                language,
                low=report.doctor_load_min,
                high=report.doctor_load_max,
                doctors=report.doctors,
            ),
        ),
        ("formation.report.unassigned", report.unassigned),
    ]
    if report.grids_created_by_condition:
        rows[1:1] = [
            (
                _t(
                    "formation.report.created_condition",
                    language,
                    condition=_condition(code, language),
                ),
                count,
            )
            for code, count in _by_condition(report.grids_created_by_condition)
        ]
    lines = [
        title,
        scope,
        "",
        render_table(
            (_t("formation.report.item", language), _t("formation.report.count", language)),
            [
                (_t(key, language) if key.startswith("formation.") else key, value)
                for key, value in rows
            ],
            rule=True,
        ),
    ]
    lines += ["", *render_figures(report.figures, language)]
    if report.needs_coordinator:
        lines += [
            "",
            _t("formation.report.needs_coordinator_list", language),
            *_code_list(report.needs_coordinator),
        ]
    if report.small_grids:
        lines += [
            "",
            _t("formation.report.small_grids_list", language),
            *_code_list(report.small_grids),
        ]
    if report.shortfalls:
        lines += [
            "",
            _t("formation.report.shortfall_title", language, cap=DOCTOR_GRID_CAPACITY),
            render_table(
                (
                    _t("formation.report.shortfall_clinic", language),
                    _t("formation.report.shortfall_unassigned", language),
                    _t("formation.report.shortfall_doctors", language),
                ),
                [(s.clinic_code, s.unassigned, s.doctors_available) for s in report.shortfalls],
                rule=True,
            ),
        ]
    lines.append("")
    if result.plan.is_empty:
        lines.append(_t("formation.report.unchanged", language))
    elif dry_run:
        lines.append(_t("formation.report.not_written", language))
    else:
        lines.append(_t("formation.report.written", language))
    return "\n".join(lines)


def render_figures(figures: FormationFigures, language: str) -> list[str]:
    """The formation figures as a titled table (docs/formation.md defines each)."""
    ratio = f"{figures.grids / figures.min_grids:.3f}" if figures.min_grids else "-"
    rows: list[tuple[str, Any]] = [
        (_t("formation.figure.grids", language), figures.grids),
        (_t("formation.figure.members", language), figures.members),
        (_t("formation.figure.mean_size", language), f"{figures.mean_size:.1f}"),
        (_t("formation.figure.min_grids", language), figures.min_grids),
        (_t("formation.figure.ratio", language), ratio),
        (_t("formation.figure.mixed_grids", language), figures.mixed_grids),
        (_t("formation.figure.small_grids", language), figures.small_grids),
        (
            _t("formation.figure.same_condition_share", language),
            f"{figures.same_condition_share:.1%}",
        ),
    ]
    return [
        _t("formation.report.figures_title", language),
        render_table(
            (_t("formation.report.item", language), _t("formation.report.count", language)),
            rows,
            rule=True,
        ),
    ]


def _condition(code: str, language: str) -> str:
    return _t(f"condition.{code}", language)


def _by_condition(counts: dict[str, int]) -> list[tuple[str, int]]:
    order = {code: index for index, code in enumerate((*CONDITION_CODES, MIXED))}
    return sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))


# --- grids form ---------------------------------------------------------------------------


def run_formation(
    session: Session, language: str, *, facility_code: str | None, dry_run: bool, actor: str
) -> FormationResult:
    """Form (and write, unless `dry_run`); domain errors become messages for the user."""
    try:
        return form_grids_in_database(
            session, now=clock_now(), facility_code=facility_code, dry_run=dry_run, actor=actor
        )
    except UnknownFacility as error:
        raise CommandFailed(
            _t("formation.error.unknown_facility", language, code=error.code)
        ) from error
    except FormationConflict as error:
        raise CommandFailed(
            _t("formation.error.conflict", language, code=error.grid_code)
        ) from error
    except IntegrityError as error:
        raise CommandFailed(_t("formation.error.concurrent", language)) from error


@grids_cli.command("form")
@click.option(
    "--facility",
    "facility_code",
    metavar="CODE",
    help="Only this facility's village clinics (a clinic, a centre, or the county).",
)
@click.option("--dry-run", is_flag=True, help="Print the report; write nothing.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="json: the formation figures as one object (after the plan).",
)
def form_command(facility_code: str | None, dry_run: bool, output_format: str) -> None:
    """Form grids: place every active patient, assign doctors and coordinators."""
    language = current_settings().default_language
    session = request_session()
    result = run_formation(
        session, language, facility_code=facility_code, dry_run=dry_run, actor="cli"
    )
    if result.written:
        session.commit()
    if output_format == "json":
        click.echo(json.dumps(result.plan.report.figures.as_dict()))
        return
    click.echo(render_formation_report(result, language, dry_run=dry_run))


# --- grids export -------------------------------------------------------------------------


@grids_cli.command("export")
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default="csv", show_default=True
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (CSV with a UTF-8 BOM, for Excel) instead of standard output.",
)
def export_command(output_format: str, output: Path | None) -> None:
    """One row per current membership, ordered by grid code then seat."""
    language = current_settings().default_language
    with membership_rows(request_session()) as rows:
        _export(rows, output_format, output, language)


def _export(
    rows: Iterable[ExportRow], output_format: str, output: Path | None, language: str
) -> None:
    if output is None:
        stream = sys.stdout
        if output_format == "json":
            write_json(rows, stream)
        else:
            write_csv(rows, stream)
        stream.flush()
        return
    directory = output.parent if str(output.parent) else Path(".")
    temporary: str | None = None
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{output.name}.", suffix=".tmp", dir=directory
        )
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            if output_format == "json":
                count = write_json(rows, handle)
            else:
                count = write_csv(rows, handle, bom=True)
        os.replace(temporary, output)
        temporary = None
    except OSError as error:
        raise _cannot_write(output, error, language) from error
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    click.echo(_t("export.written", language, count=count, path=str(output)), err=True)


# --- demo ---------------------------------------------------------------------------------


@click.command("demo")
@click.option(
    "--patients",
    type=click.IntRange(1, 2_000_000),
    default=JIEXIU_PATIENTS,
    show_default=True,
    help="Chronic patients in the county (the default is Jiexiu's size).",
)
@click.option(
    "--seed", type=int, default=48, show_default=True, help="The same seed, the same county."
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the roster CSV files (default: instance/demo).",
)
@with_appcontext
def demo_command(patients: int, seed: int, directory: Path | None) -> None:
    """Load a synthetic Jiexiu-sized county, form its grids and print a summary.

    Only into an empty database or one holding the same demo county: a database with
    a real roster is refused.
    """
    settings = current_settings()
    language = settings.default_language
    directory = directory or Path(current_app.instance_path) / "demo"
    click.echo(_t("demo.generating", language, patients=patients, seed=seed), err=True)
    county = generate_county(patients, seed)
    session = request_session()
    foreign = stored_outside(session, county)
    if foreign is not None:
        kind, code = foreign
        raise CommandFailed(
            _t(
                "demo.error.foreign_roster",
                language,
                kind=_t(f"roster.file.{kind}", language),
                code=code,
            )
        )
    if session.scalar(select(WeeklyReport.id).limit(1)) is not None:
        # The county is at work (reports came in): importing the roster again would
        # undo what the reports changed (a death, a hospital stay). Leave it as it is.
        click.echo(render_demo_summary(session, language, directory))
        click.echo("")
        click.echo(_t("demo.unchanged", language))
        for step in demo_steps(current_app):
            step(click.echo)
        return
    try:
        paths = write_csv_files(county, directory)
    except OSError as error:
        raise _cannot_write(directory, error, language) from error

    now = clock_now()
    imported = import_roster(
        session,
        RosterFiles(
            facilities=paths["facilities"], doctors=paths["doctors"], patients=paths["patients"]
        ),
        default_language=language,
        now=now,
        today=now.astimezone(settings.tz).date(),
    )
    if not imported.applied and imported.errors:
        first = imported.errors[0]
        raise CommandFailed(
            _t(
                "demo.error.import",
                language,
                count=len(imported.errors),
                file=paths[first.file].name,
                line=first.line or "-",
                reason=_t(first.reason_key, language, **first.params),
            )
        )
    if not imported.written:
        # The roster is already loaded: drop the import's audit entry, so a second
        # run of the demo leaves the database exactly as it was.
        session.rollback()
    result = run_formation(session, language, facility_code=None, dry_run=False, actor="demo")
    session.commit()

    click.echo(render_demo_summary(session, language, directory))
    click.echo("")
    if imported.written or result.written:
        click.echo(
            _t(
                "demo.changed",
                language,
                roster=imported.changes,
                grids=result.plan.report.grids_created,
                placed=result.plan.report.placed,
            )
        )
    else:
        click.echo(_t("demo.unchanged", language))
    for step in demo_steps(current_app):
        step(click.echo)


def stored_outside(session: Session, county: SyntheticCounty) -> tuple[str, str] | None:
    """(kind, code) of a stored facility, doctor or patient the demo county does not have.

    The demo loads only into an empty database or one holding the same demo county:
    never into a real county's roster, whose people could then get demo SMS.
    """
    for kind, model, rows in (
        ("facilities", Facility, county.facilities),
        ("doctors", Doctor, county.doctors),
        ("patients", Patient, county.patients),
    ):
        codes = {row["code"] for row in rows}
        stored = session.scalars(select(model.code)).all()
        outside = sorted(code for code in stored if code not in codes)
        if outside:
            return kind, outside[0]
    return None


def render_demo_summary(session: Session, language: str, directory: Path) -> str:
    summary = county_summary(session)
    loads: dict[int, int] = dict(
        session.execute(
            select(Doctor.id, func.count(Grid.id))
            .outerjoin(Grid, Grid.doctor_id == Doctor.id)
            .where(Doctor.status == DoctorStatus.ACTIVE)
            .group_by(Doctor.id)
        )
        .tuples()
        .all()
    )
    short_clinics = session.scalar(
        select(func.count(func.distinct(Grid.facility_id))).where(Grid.doctor_id.is_(None))
    )
    clinics_without_doctor = session.scalar(
        select(func.count())
        .select_from(Facility)
        .where(
            Facility.level == FacilityLevel.VILLAGE_CLINIC,
            ~select(Doctor.id)
            .where(Doctor.facility_id == Facility.id, Doctor.status == DoctorStatus.ACTIVE)
            .exists(),
        )
    )
    rows: list[tuple[str, Any]] = [
        (
            _t("demo.summary.facilities", language, level=_t(f"level.{level.value}", language)),
            summary.facilities_by_level.get(level.value, 0),
        )
        for level in FacilityLevel
    ]
    rows.append((_t("demo.summary.clinics_without_doctor", language), clinics_without_doctor))
    rows.append((_t("demo.summary.doctors", language), summary.doctors))
    rows.append((_t("demo.summary.patients", language), sum(summary.patients_by_status.values())))
    rows += [
        (_t("demo.summary.grids_condition", language, condition=_condition(code, language)), count)
        for code, count in _by_condition(summary.grids_by_condition)
    ]
    rows.append((_t("demo.summary.grids", language), summary.grids))
    rows.append((_t("demo.summary.members", language), summary.members))
    rows.append((_t("demo.summary.needs_coordinator", language), summary.grids_without_coordinator))
    rows.append((_t("demo.summary.unassigned", language), summary.grids_without_doctor))
    rows.append((_t("demo.summary.short_clinics", language), short_clinics))
    values = list(loads.values())
    rows.append(
        (
            _t("demo.summary.doctor_load", language, cap=DOCTOR_GRID_CAPACITY),
            _t(
                "demo.summary.doctor_load_value",
                language,
                low=min(values, default=0),
                high=max(values, default=0),
                mean=f"{sum(values) / len(values):.1f}" if values else "0",
            ),
        )
    )
    return "\n".join(
        [
            _t("demo.summary.title", language),
            _t("demo.summary.files", language, directory=str(directory)),
            "",
            render_table(
                (_t("formation.report.item", language), _t("formation.report.count", language)),
                rows,
                rule=True,
            ),
        ]
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(grids_cli)
    app.cli.add_command(demo_command)
