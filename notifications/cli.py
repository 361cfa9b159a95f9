"""`flask --app wsgi outbox ...`: dispatching and listing outbound SMS, and unreachable numbers."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from config.logging import mask_phone, mask_phones_in
from config.runtime import current_settings, settings_of
from config.runtime import now as clock_now
from grids.core.notices import Notice
from grids.core.phones import InvalidPhone, normalise_phone
from grids.storage.session import current_db
from i18n import translate
from notifications import contacts, dispatcher, outbox
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers import current_provider


class _OutboxCommands(AppGroup):
    """Turns a database error in any subcommand into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as error:
            settings = settings_of(ctx.ensure_object(ScriptInfo).load_app())
            reason = str(error.orig or error).strip().splitlines()[0]
            raise click.ClickException(
                translate(
                    "outbox.error.database",
                    settings.default_language,
                    url=make_url(settings.database_url).render_as_string(hide_password=True),
                    reason=mask_phones_in(reason),
                )
            ) from error


outbox_cli = _OutboxCommands("outbox", help="Send and inspect outbound SMS.")

LIST_COLUMNS = (
    "id",
    "created",
    "to",
    "template",
    "status",
    "attempts",
    "provider_sid",
    "error_code",
    "urgent",
)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C finish the message in hand and stop; the previous handlers come back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def request_stop(signum: int, _frame: Any) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping after the current message", err=True)
        stop.set()

    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@outbox_cli.command("dispatch")
@click.option(
    "--once", is_flag=True, help="Send one batch (at most --batch-size) of what is due, then exit."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=dispatcher.DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows claimed per pass.",
)
@click.option(
    "--idle-seconds",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Pause when nothing is due.",
)
def dispatch_command(once: bool, batch_size: int, idle_seconds: float) -> None:
    """Send due outbox messages through the SMS provider (SMS_BACKEND).

    Without --once, runs until SIGTERM or Ctrl-C. Several dispatchers may run
    at once on PostgreSQL; the rate limit (SMS_RATE_PER_SECOND) is per process.
    """
    settings = current_settings()
    database = current_db()
    provider = current_provider()
    if once:
        stats = dispatcher.dispatch_once(database, provider, settings, batch_size=batch_size)
        click.echo(dispatcher.summary(stats))
        return
    stop = threading.Event()
    click.echo(
        f"dispatching through {provider.name} as {mask_phone(provider.sender)}; "
        f"rate {settings.sms_rate_per_second or 'unlimited'}/s, quiet hours "
        f"{settings.quiet_hours} {settings.timezone}. Ctrl-C to stop.",
        err=True,
    )
    with _stop_on_signals(stop):
        total = dispatcher.run(
            database,
            provider,
            settings,
            stop=stop,
            batch_size=batch_size,
            idle_seconds=idle_seconds,
            on_pass=lambda stats: click.echo(dispatcher.summary(stats)),
        )
    click.echo(f"stopped; total: {dispatcher.summary(total)}", err=True)


def _local(moment: datetime | None, settings: Any) -> str:
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [
        ["" if value is None else str(value) for value in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(OutboxStatus.ALL), help="Only rows in this status.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_command(status: str | None, limit: int, output: str) -> None:
    """What was sent to whom, newest first (numbers masked)."""
    settings = current_settings()
    with current_db().unit_of_work() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows = session.scalars(query).all()
        items = [
            {
                "id": row.id,
                "created": row.created_at.isoformat(),
                "to": mask_phone(row.to_phone),
                "template": row.template,
                "status": row.status,
                "attempts": row.attempts,
                "provider_sid": row.provider_sid,
                "error_code": row.error_code,
                "urgent": row.urgent,
            }
            for row in rows
        ]
        created = [_local(row.created_at, settings) for row in rows]
    if output == "json":
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no outbox messages" + (f" with status {status}" if status else ""))
        return
    table_rows = [
        [
            item["id"],
            local_created,
            item["to"],
            item["template"],
            item["status"],
            item["attempts"],
            item["provider_sid"] or "",
            item["error_code"] or "",
            "yes" if item["urgent"] else "",
        ]
        for item, local_created in zip(items, created, strict=True)
    ]
    click.echo(_table(LIST_COLUMNS, table_rows))


@outbox_cli.command("numbers")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def numbers_command(output: str) -> None:
    """Numbers that get no SMS: opted out (STOP, 退订, Twilio 21610) or invalid (21211, 21614).

    An opted-out person comes back by texting START or 开始. Fix an invalid
    number in the roster, or clear the flag with `outbox unflag NUMBER`.
    """
    settings = current_settings()
    with current_db().unit_of_work() as session:
        items = []
        for contact in contacts.flagged_numbers(session):
            since = contact.opted_out_at or contact.invalid_at or contact.updated_at
            items.append(
                {
                    "phone": mask_phone(contact.phone),
                    "reason": "opted_out" if contact.opted_out_at else "invalid",
                    "since": since.isoformat(),
                    "since_local": _local(since, settings),
                    "detail": (
                        contact.opt_out_keyword if contact.opted_out_at else contact.invalid_code
                    ),
                }
            )
    if output == "json":
        for item in items:
            del item["since_local"]
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("no opted-out or invalid numbers")
        return
    click.echo(
        _table(
            ("phone", "reason", "since", "detail"),
            [
                [item["phone"], item["reason"], item["since_local"], item["detail"] or ""]
                for item in items
            ],
        )
    )


def _phone_argument(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone as error:
        raise click.BadParameter(
            translate(
                "outbox.error.bad_phone",
                current_settings().default_language,
                raw=error.raw,
                reason=error.reason,
            )
        ) from None


@outbox_cli.command("unflag")
@click.argument("number")
def unflag_command(number: str) -> None:
    """Clear the invalid-number flag of NUMBER so messages to it are sent again."""
    phone = _phone_argument(number)
    with current_db().unit_of_work() as session:
        if not contacts.is_invalid(session, phone):
            raise click.ClickException(
                translate(
                    "outbox.error.not_flagged",
                    current_settings().default_language,
                    phone=mask_phone(phone),
                )
            )
        contacts.clear_invalid(session, phone, clock_now())
        session.commit()
    click.echo(f"{mask_phone(phone)}: invalid flag cleared")


@outbox_cli.command("send-test")
@click.option("--to", "number", required=True, help="The phone to send the test SMS to.")
@click.option("--language", type=click.Choice(["zh_CN", "en"]), default=None)
def send_test_command(number: str, language: str | None) -> None:
    """Queue a test SMS (template sms.test); `outbox dispatch --once` sends it."""
    settings = current_settings()
    phone = _phone_argument(number)
    moment = clock_now()
    notice = Notice.to_phone(
        phone,
        key=f"test:{phone}:{moment:%Y%m%dT%H%M%S%f}",
        language=language or settings.default_language,
        template="sms.test",
        urgent=True,
    )
    with current_db().unit_of_work() as session:
        row = outbox.enqueue(session, notice, now=moment)
        session.commit()
    if row is None:
        raise click.ClickException(translate("outbox.error.test_queued", settings.default_language))
    click.echo(f"queued outbox {row.id} to {mask_phone(phone)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
