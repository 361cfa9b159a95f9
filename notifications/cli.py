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
from flask.cli import AppGroup
from sqlalchemy import select

from config.clock import now as clock_now
from config.logging import mask_phone
from config.runtime import current_settings
from grids.cli import fail, language, render_table, say
from grids.core.notices import Notice
from grids.core.phones import InvalidPhone, normalise_phone
from grids.storage.session import current_db
from i18n import translate
from notifications import contacts, dispatcher, outbox
from notifications.models import OutboxMessage, OutboxStatus
from notifications.providers import current_provider, current_voice_provider

outbox_cli = AppGroup("outbox", help="Send and inspect outbound SMS.")

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
        say("outbox.dispatch.stopping", err=True, signal=signal.Signals(signum).name)
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
        stats = dispatcher.dispatch_once(
            database, provider, settings, batch_size=batch_size, voice=current_voice_provider()
        )
        click.echo(dispatcher.summary(stats))
        return
    stop = threading.Event()
    say(
        "outbox.dispatch.started",
        err=True,
        provider=provider.name,
        sender=mask_phone(provider.sender),
        rate=settings.sms_rate_per_second or translate("outbox.dispatch.unlimited", language()),
        quiet_hours=settings.quiet_hours,
        timezone=settings.timezone,
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
            voice=current_voice_provider(),
        )
    say("outbox.dispatch.stopped", err=True, summary=dispatcher.summary(total))


def _local(moment: datetime | None, settings: Any) -> str:
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _headers(columns: Sequence[str]) -> list[str]:
    return [translate(f"outbox.column.{column}", language()) for column in columns]


@outbox_cli.command("list")
@click.option(
    "--status",
    type=click.Choice([status.value for status in OutboxStatus]),
    help="Only rows in this status.",
)
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
        if status:
            say("outbox.list.empty_status", status=status)
        else:
            say("outbox.list.empty")
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
            translate("outbox.list.urgent", language()) if item["urgent"] else "",
        ]
        for item, local_created in zip(items, created, strict=True)
    ]
    click.echo(render_table(_headers(LIST_COLUMNS), table_rows))


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
        say("outbox.numbers.empty")
        return
    click.echo(
        render_table(
            _headers(("phone", "reason", "since", "detail")),
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
            raise fail("outbox.error.not_flagged", phone=mask_phone(phone))
        contacts.clear_invalid(session, phone, clock_now())
        session.commit()
    say("outbox.unflag.done", phone=mask_phone(phone))


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
        raise fail("outbox.error.test_queued")
    say("outbox.send_test.queued", id=row.id, phone=mask_phone(phone))


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
