"""Where the domain hands its `Notice`s to the SMS channel.

`grids` never imports `notifications`: the channel registers its enqueue function
here at start-up, and views and commands call `deliver` in the transaction of the
change that caused the notices. It registers, too, how to read back the messages
exchanged with some phones (the grid page lists a week's messages).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy.orm import Session

from grids.delivery import Deliver

CHANNEL_KEY = "huzhu.notice_channel"


def register_channel(app: Flask, deliver: Deliver) -> None:
    app.extensions[CHANNEL_KEY] = deliver


def channel() -> Deliver:
    """The registered channel; a RuntimeError names the missing set-up."""
    deliver = current_app.extensions.get(CHANNEL_KEY)
    if deliver is None:
        raise RuntimeError("no SMS channel registered: notifications.init_app(app) registers it")
    return deliver


@dataclass(frozen=True)
class LoggedMessage:
    """One SMS in the channel's records: received from or sent to `phone`."""

    at: datetime
    inbound: bool
    phone: str
    body: str
    status: str | None = None
    """An outgoing message's delivery state (outbox status); None for incoming ones."""


MessageLog = Callable[[Session, Sequence[str], datetime, datetime], list[LoggedMessage]]
"""(session, phones, start, end) -> the SMS exchanged with those phones in [start, end)."""
MESSAGE_LOG_KEY = "huzhu.message_log"


def register_message_log(app: Flask, reader: MessageLog) -> None:
    app.extensions[MESSAGE_LOG_KEY] = reader


def messages_with(
    session: Session, phones: Sequence[str], start: datetime, end: datetime
) -> list[LoggedMessage]:
    """The SMS exchanged with `phones` in [start, end), oldest first; none without a channel."""
    reader = current_app.extensions.get(MESSAGE_LOG_KEY)
    if reader is None or not phones:
        return []
    return list(reader(session, phones, start, end))


CaseStopper = Callable[[Session, int, datetime], int]
"""(session, escalation id, now) -> how many of the case's unsent messages were stopped."""
CASE_STOPPER_KEY = "huzhu.case_stopper"


def register_case_stopper(app: Flask, stop: CaseStopper) -> None:
    app.extensions[CASE_STOPPER_KEY] = stop


def stop_case_messages(session: Session, escalation_id: int, now: datetime) -> int:
    """A case closed while it was climbing: its unsent ladder messages are not sent."""
    stop = current_app.extensions.get(CASE_STOPPER_KEY)
    return 0 if stop is None else stop(session, escalation_id, now)
