"""One way in for the CLI, the JSON API and the pages: an operation's name and
parameters become a plan; an outcome becomes the JSON document all three show;
a username becomes an actor with a scope."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.runtime import current_settings
from grids import audit
from grids.accounts.access import facility_subtree_ids
from grids.accounts.models import User
from grids.admin import operations
from grids.admin.deputies import set_deputy
from grids.admin.plans import Plan
from grids.admin.rebalance import rebalance
from grids.admin.rules import Problem
from grids.admin.service import AdminError, Outcome, execute, notice_rows, undo
from grids.audit import ChangeConflict
from grids.channel import channel
from grids.escalation.policy import policy_of
from grids.models import ChangeSet, Grid
from i18n import translate


def build_plan(session: Session, operation: str, params: dict[str, Any], now: datetime) -> Plan:
    """`params` as the API takes them: grid, doctor, patient, grids, suspend, to, status,
    died_on (date or ISO string), moves ([[patient, grid], ...])."""
    if operation == "move-grid":
        return operations.move_grid(session, params["grid"], params["doctor"])
    if operation == "set-coordinator":
        return operations.set_coordinator(session, params["grid"], params["patient"])
    if operation == "rebalance":
        return rebalance(session, params.get("facility") or None, now)
    if operation == "set-deputy":
        return set_deputy(session, params["grid"], params["patient"])
    if operation == "move-member":
        moves = params.get("moves") or [(params["patient"], params["grid"])]
        return operations.move_members(session, [(p, g) for p, g in moves], now)
    if operation == "split":
        return operations.split(session, params["grid"], now)
    if operation == "merge":
        keep, absorb = params["grids"]
        return operations.merge(session, keep, absorb, now)
    if operation == "retire-doctor":
        return operations.retire_doctor(
            session,
            params["doctor"],
            suspend=bool(params.get("suspend")),
            assignments=params.get("to") or None,
            only=params.get("only") or None,
        )
    if operation == "set-status":
        died_on = params.get("died_on")
        if isinstance(died_on, str):
            died_on = date.fromisoformat(died_on)
        return operations.set_status(session, params["patient"], params["status"], now, died_on)
    if operation == "pause-member":
        until = params.get("until")
        if isinstance(until, str):
            until = date.fromisoformat(until)
        return operations.pause_member(session, params["patient"], until, now)
    raise AdminError("admin.error.bad_operation", operation=operation)


def run_operation(
    session: Session,
    operation: str,
    params: dict[str, Any],
    *,
    who: tuple[str, set[int] | None],
    now: datetime,
    reason: str | None,
    override: bool,
    dry_run: bool,
    expected_versions: dict[str, int] | None = None,
) -> Outcome:
    """Plan `operation` and preview or apply it as `who` (an actor and the facilities it
    may change, None: all), telling people through the app's channel."""
    actor, allowed = who
    if operation == "pause-member" and not (reason or "").strip():
        raise AdminError("admin.error.reason_required")
    settings = current_settings()
    return execute(
        session,
        build_plan(session, operation, params, now),
        actor=actor,
        now=now,
        reason=reason,
        override=override,
        dry_run=dry_run,
        expected_versions=expected_versions,
        allowed_facilities=allowed,
        deliver=channel(),
        default_language=settings.default_language,
        policy=policy_of(settings),
    )


def run_undo(
    session: Session,
    change_set_id: int,
    *,
    who: tuple[str, set[int] | None],
    now: datetime,
    reason: str | None,
    dry_run: bool = False,
) -> Outcome:
    """Preview or apply the undo of a change-set as `who` (as for `run_operation`)."""
    actor, allowed = who
    settings = current_settings()
    return undo(
        session,
        change_set_id,
        actor=actor,
        now=now,
        reason=reason,
        dry_run=dry_run,
        allowed_facilities=allowed,
        deliver=channel(),
        default_language=settings.default_language,
        policy=policy_of(settings),
    )


def conflict_params(error: ChangeConflict) -> dict[str, Any]:
    """The values of `admin.error.conflict` for the first row that changed meanwhile."""
    first = error.conflicts[0]
    return {
        "row": first.key or first.row_id or "",
        "field": first.field or "",
        "expected": first.expected,
        "actual": first.actual,
        "by": first.changed_by or "-",
    }


def actor_of(session: Session, username: str) -> tuple[str, set[int] | None]:
    """`user:NAME` and the facilities the user may change (None: all). Only admin and
    township accounts change the roster."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        raise AdminError("admin.error.no_user", username=username)
    return actor_for(session, user)


def actor_for(session: Session, user: User) -> tuple[str, set[int] | None]:
    if user.role == "admin":
        return audit.actor("user", user.username), None
    if user.role == "township" and user.facility_id is not None:
        return audit.actor("user", user.username), facility_subtree_ids(session, user.facility_id)
    raise AdminError("admin.error.role", username=user.username)


def problem_text(found: Problem, language: str) -> str:
    return translate(found.key, language, **found.params)


def outcome_document(outcome: Outcome, language: str) -> dict[str, Any]:
    """The JSON of a preview or an applied operation (CLI `--format json` and the API)."""

    def problems(items: list[Problem]) -> list[dict[str, Any]]:
        return [{**p.as_dict(), "message": problem_text(p, language)} for p in items]

    return {
        "operation": outcome.operation,
        "subject": outcome.subject,
        "dry_run": outcome.dry_run,
        "applied": outcome.applied,
        "change_set": None if outcome.dry_run else outcome.change_set_id,
        "actor": outcome.actor,
        "reason": outcome.reason,
        "override": outcome.override,
        "problems": problems(outcome.problems),
        "blocking": problems(outcome.blocking),
        "notes": problems(outcome.notes),
        "moves": outcome.moves,
        "assignments": outcome.assignments,
        "grids": outcome.grids,
        "doctors": outcome.doctors,
        "sms": notice_rows(outcome.notices),
        "versions": outcome.versions,
        "changes": outcome.changes,
    }


def visible_change_sets(
    session: Session, found: list[ChangeSet], allowed: set[int] | None
) -> list[ChangeSet]:
    """The change-sets a township account may read: those touching only its clinics."""
    if allowed is None:
        return found
    grid_ids = {c["id"] for cs in found for c in cs.changes if c["table"] == "grids"}
    facility_of = dict(
        session.execute(select(Grid.id, Grid.facility_id).where(Grid.id.in_(grid_ids)))
        .tuples()
        .all()
    )

    def inside(change_set: ChangeSet) -> bool:
        touched = {c["id"] for c in change_set.changes if c["table"] == "grids"}
        return bool(touched) and all(facility_of.get(g) in allowed for g in touched)

    return [cs for cs in found if inside(cs)]


def change_set_document(change_set: ChangeSet) -> dict[str, Any]:
    """One entry of `admin log --format json` and `GET /api/v1/admin/changes`."""
    return {
        "id": change_set.id,
        "at": change_set.at.isoformat(),
        "actor": change_set.actor,
        "operation": change_set.operation,
        "subject": change_set.subject,
        "reason": change_set.reason,
        "override": change_set.override,
        "undoes": change_set.undoes_id,
        "undone_by": change_set.undone_by_id,
        "changes": change_set.changes,
    }
