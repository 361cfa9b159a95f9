"""Keeps sent messages in a list; tests script failures with `fail_next` and `fail_to`."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from notifications.providers.base import OutgoingMessage, SendError, SendResult, SmsProvider


@dataclass
class MemoryProvider(SmsProvider):
    sender_id: str = "memory"
    name: ClassVar[str] = "memory"
    sent: list[OutgoingMessage] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    attempts: list[OutgoingMessage] = field(default_factory=list)
    _scripted: deque[SendError] = field(default_factory=deque)
    _failing_numbers: dict[str, SendError] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sender(self) -> str:
        return self.sender_id

    def fail_next(self, *errors: SendError) -> None:
        """The next sends raise these errors, in order; then sends succeed again."""
        with self._lock:
            self._scripted.extend(errors)

    def fail_to(self, phone: str, error: SendError | None) -> None:
        """Every send to `phone` raises `error` (None: stop failing)."""
        with self._lock:
            if error is None:
                self._failing_numbers.pop(phone, None)
            else:
                self._failing_numbers[phone] = error

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.sids.clear()
            self.attempts.clear()
            self._scripted.clear()
            self._failing_numbers.clear()

    def to(self, phone: str) -> list[OutgoingMessage]:
        with self._lock:
            return [message for message in self.sent if message.to == phone]

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.attempts.append(message)
            if self._scripted:
                raise self._scripted.popleft()
            if message.to in self._failing_numbers:
                raise self._failing_numbers[message.to]
            sid = "SM" + uuid.uuid4().hex
            self.sent.append(message)
            self.sids.append(sid)
        return SendResult(provider_sid=sid, status="queued")
