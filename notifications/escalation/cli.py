"""`flask --app wsgi escalations ...`: run the ladder's timers, list and close escalations."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup

from config.runtime import current_settings
from grids import audit
from grids.cli import CommandFailed, at_option, parse_at
from grids.escalation.acknowledgement import (
    CloseReasonRequired,
    EscalationNotFound,
    EscalationNotOpen,
    close_escalation,
    normalise_ack_code,
)
from grids.escalation.case import CaseOutcome
from grids.escalation.listing import escalation_items
from grids.escalation.outcomes import OutcomeRefused, close_case
from grids.storage.session import current_db
from i18n import translate
from notifications.escalation.tick import run_escalation_tick, stop_pending_calls

escalations_cli = AppGroup("escalations", help="Urgent cases climbing their escalation ladders.")


@escalations_cli.command("advance")
@at_option("Run the timers as if the clock read ISO (county time if no offset).")
def advance_command(at: str | None) -> None:
    """Advance every due escalation once (what the scheduler does every 30 s)."""
    settings = current_settings()
    moment = parse_at(at)
    count = run_escalation_tick(current_db(), settings, moment)
    click.echo(
        translate(
            "escalations.advanced",
            settings.default_language,
            count=count,
            at=moment.astimezone(settings.tz).isoformat(timespec="seconds"),
        )
    )


def _local(value: str | None) -> str:
    if value is None:
        return ""
    return datetime.fromisoformat(value).astimezone(current_settings().tz).strftime("%m-%d %H:%M")


@escalations_cli.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only escalations still open.")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_command(open_only: bool, output: str) -> None:
    """Escalations, newest first, with their timelines (numbers masked)."""
    with current_db().unit_of_work() as session:
        items = escalation_items(session, open_only=open_only)
    if output == "json":
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo(translate("escalations.none", current_settings().default_language))
        return
    for item in items:
        click.echo(
            f"{item['code']}  {item['kind']}  {item['grid_code'] or '-'}  #{item['seat'] or '?'}  "
            f"{item['state']}{' ' + item['outcome'] if item['outcome'] else ''}  "
            f"opened {_local(item['opened_at'])}"
            + (
                f"  by {item['acknowledged_by']} {_local(item['acknowledged_at'])}"
                if item["acknowledged_by"]
                else ""
            )
        )
        for entry in item["events"]:
            parts = [
                f"  {_local(entry['at'])}",
                entry["kind"],
                f"step {entry['step']}" if entry["step"] is not None else "",
                entry["recipient"] or "",
                entry["channel"] or "",
                entry["detail"] or "",
            ]
            click.echo("  ".join(part for part in parts if part))


@escalations_cli.command("close")
@click.argument("code")
@click.option(
    "--outcome",
    type=click.Choice([str(outcome) for outcome in CaseOutcome]),
    help="How the case ended; referred and admitted are followed up in 14 days.",
)
@click.option("--reason", required=True, help="Why it is closed, e.g. handled by phone.")
@at_option("The clock time of the closing (county time if no offset).")
def close_command(code: str, outcome: str | None, reason: str, at: str | None) -> None:
    """Close a case by hand (audited); its ladder stops. With --outcome an acknowledged
    case may be closed too."""
    settings = current_settings()
    language = settings.default_language
    wanted = normalise_ack_code(code)
    moment = parse_at(at)
    if outcome is not None:
        _close_with_outcome(wanted, outcome, reason, moment)
        return
    with current_db().unit_of_work() as session:
        try:
            case = close_escalation(
                session,
                wanted,
                reason=reason,
                actor=audit.actor("cli", "escalations.close"),
                now=moment,
            )
        except CloseReasonRequired:
            raise CommandFailed(translate("escalations.error.reason_required", language)) from None
        except EscalationNotFound:
            raise CommandFailed(
                translate("escalations.error.not_found", language, code=wanted)
            ) from None
        except EscalationNotOpen as error:
            raise CommandFailed(
                translate(
                    "escalations.error.not_open",
                    language,
                    code=wanted,
                    state=error.escalation.state,
                )
            ) from None
        stop_pending_calls(session, case.id, moment)
        session.commit()
    click.echo(translate("escalations.closed", language, code=wanted))


def _close_with_outcome(code: str, outcome: str, reason: str, moment: datetime) -> None:
    settings = current_settings()
    language = settings.default_language
    with current_db().unit_of_work() as session:
        try:
            closed = close_case(
                session,
                code,
                outcome=outcome,
                reason=reason,
                actor=audit.actor("cli", "escalations.close"),
                closed_by=audit.actor("cli", "escalations.close"),
                now=moment,
                tz=settings.tz,
            )
        except OutcomeRefused as refused:
            if refused.reason == "unknown_code":
                message = translate("escalations.error.not_found", language, code=code)
            else:
                why = translate(f"sms.reply.case.{refused.reason}", language, code=code)
                message = translate("escalations.error.bad_state", language, code=code, why=why)
            raise CommandFailed(message) from None
        if closed.was_open:
            stop_pending_calls(session, closed.escalation.id, moment)
        session.commit()
    shown = translate(f"case.outcome.{outcome}", language)
    click.echo(translate("escalations.closed_with", language, code=code, outcome=shown))
