"""Prints each message to stdout instead of sending it: the default for local use.

The console is a log: numbers in the recipient and the text are masked.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from typing import ClassVar, TextIO

from config.logging import mask_phone, mask_phones_in
from notifications.providers.base import OutgoingMessage, SendResult, SmsProvider


@dataclass
class ConsoleProvider(SmsProvider):
    stream: TextIO | None = None
    name: ClassVar[str] = "console"

    @property
    def sender(self) -> str:
        return "console"

    def send(self, message: OutgoingMessage) -> SendResult:
        sid = "CO" + uuid.uuid4().hex
        stream = self.stream or sys.stdout
        print(
            f"[sms {sid}] to {mask_phone(message.to)} ({message.template}): "
            f"{mask_phones_in(message.body)}",
            file=stream,
        )
        stream.flush()
        return SendResult(provider_sid=sid, status="sent")
