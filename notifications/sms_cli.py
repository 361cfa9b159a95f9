"""`flask --app wsgi sms receive`: hand the service an SMS as if Twilio had delivered it.

For trying the channel without Twilio (the README's walk-through) and for an
administrator checking what a coordinator's message would do. The message goes
through the same handler as the webhook: stored, parsed, applied, replied to.
"""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup
from sqlalchemy import select

from config.logging import mask_phone
from config.runtime import current_settings
from grids.cli import at_option, fail, language, parse_at, say
from grids.core.phones import InvalidPhone, normalise_phone
from grids.models import Doctor, Grid, Patient
from grids.storage.session import current_db
from i18n import translate
from notifications.inbound import IncomingSms, SpoolUnavailable, receive
from notifications.models import InboundMessage

sms_cli = AppGroup("sms", help="Try the SMS channel without Twilio.")


def _sender_phone(phone: str | None, coordinator_of: str | None, doctor: str | None) -> str:
    given = [value for value in (phone, coordinator_of, doctor) if value]
    if len(given) != 1:
        raise click.UsageError(translate("sms.cli.usage.one_sender", language()))
    with current_db().unit_of_work() as session:
        # The handler stores whatever fails; a database that is not there fails here instead.
        session.execute(select(InboundMessage.id).limit(1))
        if phone:
            try:
                return normalise_phone(phone)
            except InvalidPhone as error:
                raise click.BadParameter(
                    translate(
                        "outbox.error.bad_phone", language(), raw=error.raw, reason=error.reason
                    ),
                    param_hint="--from",
                ) from None
        if coordinator_of:
            grid = session.scalar(select(Grid).where(Grid.code == coordinator_of))
            if grid is None:
                raise fail("sms.cli.error.no_grid", grid=coordinator_of)
            coordinator = session.get(Patient, grid.coordinator_id) if grid.coordinator_id else None
            if coordinator is None or not coordinator.phone:
                raise fail("sms.cli.error.no_coordinator", grid=coordinator_of)
            return coordinator.phone
        found = session.scalar(select(Doctor).where(Doctor.code == doctor))
        if found is None:
            raise fail("sms.cli.error.no_doctor", doctor=doctor)
        return found.phone


@sms_cli.command("receive")
@click.argument("text")
@click.option("--from", "phone", help="The sender's phone number.")
@click.option("--coordinator-of", metavar="GRID", help="Send as this grid's coordinator.")
@click.option("--doctor", metavar="CODE", help="Send as this village doctor.")
@at_option("Receive it as if the clock read ISO (county time if no offset).")
def receive_command(
    text: str, phone: str | None, coordinator_of: str | None, doctor: str | None, at: str | None
) -> None:
    """Handle TEXT as an SMS from the sender and print the reply.

    \b
    Example:
      flask --app wsgi sms receive --coordinator-of JX0101-HTN01 "好 3 血压165/100"
    Messages the service sends in turn (to doctors, members) are queued in the
    outbox; `outbox dispatch --once` sends them through SMS_BACKEND. --at replays
    the message at a clock time (with `escalations advance --at`, a whole incident).
    """
    sender = _sender_phone(phone, coordinator_of, doctor)
    sid = "SMlocal" + uuid.uuid4().hex
    sms = IncomingSms(
        message_sid=sid,
        from_raw=sender,
        from_phone=sender,
        to_phone=None,
        body=text,
        params={"MessageSid": sid, "From": sender, "Body": text},
    )
    settings = current_settings()
    try:
        reply = receive(current_db(), settings, sms, parse_at(at))
    except SpoolUnavailable:
        raise fail("http.error.inbound_unavailable") from None
    say("sms.cli.sent", phone=mask_phone(sender), text=text)
    if reply:
        say("sms.cli.reply", reply=reply)
    else:
        say("sms.cli.no_reply")
