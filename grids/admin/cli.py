"""`flask --app wsgi admin ...`: reassign grids, coordinators, members and doctors.

Thin: options become a plan (`grids.admin.requests`), the service previews or
applies it as one change-set, and the outcome is printed as a table or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

from config.logging import mask_phones_in
from config.runtime import current_settings
from grids import audit
from grids.admin.lookups import NotFound
from grids.admin.operations import STATUSES
from grids.admin.requests import (
    actor_of,
    change_set_document,
    conflict_params,
    outcome_document,
    problem_text,
    run_operation,
    run_undo,
)
from grids.admin.service import AdminError, Outcome
from grids.audit import ChangeConflict, UndoRefused
from grids.cli import CommandFailed, at_option, parse_at, render_table
from grids.storage.session import request_session
from i18n import translate

admin_cli = AppGroup("admin", help="Reassign grids, coordinators, members and doctors.")


def _language() -> str:
    return current_settings().default_language


def _t(key: str, **params: Any) -> str:
    return translate(key, _language(), **params)


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--dry-run", is_flag=True, help="Show the consequences; change nothing."),
            click.option("--reason", help="Why: kept in the change log; needed with --override."),
            click.option("--actor", "actor_name", help="The user making the change (an account)."),
            click.option("--override", is_flag=True, help="Pass the rules that allow it."),
            click.option(
                "--format", "output", type=click.Choice(["table", "json"]), default="table"
            ),
            at_option("ISO time to act as of (default: now; county time if no offset)."),
        ]
    ):
        command = option(command)
    return command


def _fail(key: str, **params: Any) -> CommandFailed:
    return CommandFailed(_t(key, **params))


def _run(operation: str, params: dict[str, Any], options: dict[str, Any]) -> None:
    session = request_session()
    moment = parse_at(options["at"])
    try:
        if options["actor_name"]:
            who = actor_of(session, options["actor_name"])
        else:
            who = audit.actor("cli", f"admin.{operation}"), None
        outcome = run_operation(
            session,
            operation,
            params,
            who=who,
            now=moment,
            reason=options["reason"],
            override=options["override"],
            dry_run=options["dry_run"],
        )
    except (AdminError, NotFound, UndoRefused) as error:
        session.rollback()
        raise _fail(error.key, **error.params) from error
    except ChangeConflict as conflict:
        session.rollback()
        raise _conflict(conflict) from conflict
    if outcome.applied:
        session.commit()
    _print(outcome, options["output"])
    if outcome.blocking:
        # Standard output shows the whole preview; standard error says why, in one line.
        raise _fail(
            "admin.cli.refused",
            operation=outcome.operation,
            subject=outcome.subject,
            problem=problem_text(outcome.blocking[0], _language()),
            count=len(outcome.blocking),
        )


def _conflict(conflict: ChangeConflict) -> CommandFailed:
    return _fail("admin.error.conflict", **conflict_params(conflict))


def _print(outcome: Outcome, output: str) -> None:
    language = _language()
    document = outcome_document(outcome, language)
    if output == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))
        return
    title = "admin.cli.preview" if outcome.dry_run else "admin.cli.applied"
    if outcome.blocking:
        title = "admin.cli.blocked"
    lines = [
        _t(
            title,
            operation=outcome.operation,
            subject=outcome.subject,
            id=outcome.change_set_id or "-",
        )
    ]
    for found in outcome.problems:
        marker = "~" if found.overridable else "!"
        lines.append(f"{marker} {problem_text(found, language)}")
    for note in outcome.notes:
        lines.append(f"* {problem_text(note, language)}")
    if outcome.assignments:
        lines += [
            "",
            render_table(
                [_t("admin.col.grid"), _t("admin.col.from_doctor"), _t("admin.col.to_doctor")],
                [(a["grid"], a["from"] or "-", a["to"] or "-") for a in outcome.assignments],
            ),
        ]
    if outcome.moves:
        lines += [
            "",
            render_table(
                [_t("admin.col.patient"), _t("admin.col.from"), _t("admin.col.to")],
                [
                    (
                        m["patient"],
                        f"{m['from']}#{m['from_seat']}" if m["from"] else "-",
                        f"{m['to']}#{m['to_seat']}" if m["to"] else "-",
                    )
                    for m in outcome.moves
                ],
            ),
        ]
    if outcome.grids:
        lines += [
            "",
            render_table(
                [
                    _t("admin.col.grid"),
                    _t("admin.col.members"),
                    _t("admin.col.coordinator"),
                    _t("admin.col.doctor"),
                ],
                [
                    (
                        g["code"],
                        f"{g['members_before'] if g['members_before'] is not None else '-'}"
                        f" → {g['members_after'] if g['members_after'] is not None else '-'}",
                        f"{g['coordinator_before'] or '-'} → {g['coordinator_after'] or '-'}",
                        f"{g['doctor_before'] or '-'} → {g['doctor_after'] or '-'}",
                    )
                    for g in outcome.grids
                ],
            ),
        ]
    if outcome.doctors:
        lines += [
            "",
            render_table(
                [_t("admin.col.doctor"), _t("admin.col.grids"), _t("admin.col.status")],
                [
                    (
                        d["code"],
                        f"{d['grids_before']} → {d['grids_after']}",
                        f"{d['status_before']} → {d['status_after']}",
                    )
                    for d in outcome.doctors
                ],
            ),
        ]
    sms = document["sms"]
    lines += ["", _t("admin.cli.sms", count=len(sms))]
    for row in sms:
        lines.append(f"  {row['to']}  {mask_phones_in(row['text'])}")
    click.echo("\n".join(lines))


@admin_cli.command("move-grid")
@click.argument("grid")
@click.option("--doctor", required=True, help="The doctor who takes the grid.")
@_common
def move_grid_command(grid: str, doctor: str, **options: Any) -> None:
    """Move GRID to another doctor."""
    _run("move-grid", {"grid": grid, "doctor": doctor}, options)


@admin_cli.command("set-coordinator")
@click.argument("grid")
@click.argument("patient")
@_common
def set_coordinator_command(grid: str, patient: str, **options: Any) -> None:
    """Make PATIENT (a member) the coordinator of GRID."""
    _run("set-coordinator", {"grid": grid, "patient": patient}, options)


@admin_cli.command("set-deputy")
@click.argument("grid")
@click.argument("patient")
@_common
def set_deputy_command(grid: str, patient: str, **options: Any) -> None:
    """Make PATIENT (a volunteer member) the deputy coordinator (副网格员) of GRID."""
    _run("set-deputy", {"grid": grid, "patient": patient}, options)


@click.command("rebalance")
@click.option("--facility", metavar="CODE", help="Only this facility's village clinics.")
@_common
@with_appcontext
def rebalance_command(facility: str | None, **options: Any) -> None:
    """Bring grids formed by the old rule to the formation targets, as one change-set:
    the fewest members moved, emptied grids closed, everyone affected told."""
    if not (options["reason"] or "").strip():
        raise _fail("admin.error.rebalance_needs_reason")
    _run("rebalance", {"facility": facility}, options)


@admin_cli.command("move-member")
@click.argument("patient")
@click.option("--grid", required=True, help="The grid the member moves to.")
@_common
def move_member_command(patient: str, grid: str, **options: Any) -> None:
    """Move PATIENT to the lowest free seat of another grid."""
    _run("move-member", {"patient": patient, "grid": grid}, options)


@admin_cli.command("split")
@click.argument("grid")
@_common
def split_command(grid: str, **options: Any) -> None:
    """Split GRID in two balanced grids; the coordinator stays."""
    _run("split", {"grid": grid}, options)


@admin_cli.command("merge")
@click.argument("grid")
@click.argument("other")
@_common
def merge_command(grid: str, other: str, **options: Any) -> None:
    """Move every member of OTHER into GRID."""
    _run("merge", {"grids": [grid, other]}, options)


@admin_cli.command("retire-doctor")
@click.argument("doctor")
@click.option("--suspend", is_flag=True, help="Suspend instead of retire.")
@click.option(
    "--to",
    "targets",
    multiple=True,
    help="A doctor to share the grids among, or GRID=DOCTOR for one grid; repeatable.",
)
@_common
def retire_doctor_command(
    doctor: str, suspend: bool, targets: tuple[str, ...], **options: Any
) -> None:
    """Retire (or suspend) DOCTOR and reassign all of their grids (the suggestion by default)."""
    pairs = dict(t.split("=", 1) for t in targets if "=" in t)
    only = [t for t in targets if "=" not in t]
    _run(
        "retire-doctor",
        {"doctor": doctor, "suspend": suspend, "to": pairs, "only": only},
        options,
    )


@admin_cli.command("set-status")
@click.argument("patient")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--died-on", "died_on", help="Date of death, YYYY-MM-DD (deceased).")
@_common
def set_status_command(patient: str, status: str, died_on: str | None, **options: Any) -> None:
    """Set PATIENT's status: hospitalised, discharged, moved_away or deceased."""
    day = None
    if died_on:
        try:
            day = date.fromisoformat(died_on)
        except ValueError as error:
            raise click.BadParameter(_t("admin.error.bad_date", value=died_on)) from error
    _run("set-status", {"patient": patient, "status": status, "died_on": day}, options)


@admin_cli.command("pause-member")
@click.argument("patient")
@click.option("--until", "until", required=True, help="The day he is back, YYYY-MM-DD.")
@_common
def pause_member_command(patient: str, until: str, **options: Any) -> None:
    """PATIENT is away until a day: no prompts or nudges, neither silent nor lost to
    follow-up until then; he resumes by himself (undo ends the pause at once)."""
    try:
        day = date.fromisoformat(until)
    except ValueError as error:
        raise click.BadParameter(_t("admin.error.bad_date", value=until)) from error
    if not options.get("reason"):
        raise click.BadParameter(_t("admin.error.reason_required"), param_hint="--reason")
    _run("pause-member", {"patient": patient, "until": day}, options)


@admin_cli.command("log")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
def log_command(output: str, limit: int) -> None:
    """The change-sets, newest first."""
    items = [change_set_document(c) for c in audit.change_sets(request_session(), limit=limit)]
    if output == "json":
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
        return
    click.echo(
        render_table(
            [
                "id",
                _t("admin.col.at"),
                _t("admin.col.actor"),
                _t("admin.col.operation"),
                _t("admin.col.subject"),
                _t("admin.col.rows"),
                _t("admin.col.reason"),
                _t("admin.col.undone"),
            ],
            [
                (
                    i["id"],
                    i["at"][:19],
                    i["actor"],
                    i["operation"],
                    i["subject"] or "",
                    len(i["changes"]),
                    i["reason"] or "",
                    i["undone_by"] or "",
                )
                for i in items
            ],
        )
    )


@admin_cli.command("undo")
@click.argument("change_set", type=int)
@click.option("--dry-run", is_flag=True)
@click.option("--reason")
@click.option("--actor", "actor_name")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
@at_option("ISO time to act as of (default: now; county time if no offset).")
def undo_command(
    change_set: int,
    dry_run: bool,
    reason: str | None,
    actor_name: str | None,
    output: str,
    at: str | None,
) -> None:
    """Reverse change-set ID, unless a later change is in the way."""
    session = request_session()
    moment = parse_at(at)
    try:
        if actor_name:
            who = actor_of(session, actor_name)
        else:
            who = audit.actor("cli", "admin.undo"), None
        outcome = run_undo(
            session,
            change_set,
            who=who,
            now=moment,
            reason=reason,
            dry_run=dry_run,
        )
    except (AdminError, UndoRefused) as error:
        session.rollback()
        raise _fail(error.key, **error.params) from error
    if outcome.applied:
        session.commit()
    _print(outcome, output)
