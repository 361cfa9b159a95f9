"""What every step of handling one message shares: the message with its sender,
and what handling it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from config.settings import Settings
from grids.core.notices import Notice
from grids.reports.senders import Sender
from notifications.inbound.message import IncomingSms
from notifications.sms.commands import Parsed


class Outcome:
    RECEIVED = "received"
    """Stored, not applied yet (a mainland push stores its batch first)."""
    APPLIED = "applied"
    AMENDED = "amended"
    REJECTED = "rejected"
    """Not understood, or refused with a correction; nothing applied."""
    HINT = "hint"
    """The sender's role may not do this; told who may."""
    HELP = "help"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_SENDER_SILENT = "unknown_sender_quiet"
    """An unknown number already got its one reply today."""
    ERROR = "error"
    EXPIRED = "expired"
    """Stored and still not applied when its text was reduced (`raw-text-retention`):
    never applied after that."""


@dataclass
class Handled:
    outcome: str
    reply: str | None
    command: str | None = None
    language: str | None = None
    notices: list[Notice] = field(default_factory=list)
    sender_type: str | None = None
    sender_id: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One inbound message being handled: what every step needs to know."""

    session: Session
    settings: Settings
    sms: IncomingSms
    now: datetime
    sender: Sender
    parsed: Parsed
    language: str
    """The language of the reply."""
