"""The provider interface every SMS backend implements.

A message is a named template with its parameters *and* the body rendered from
our catalogue. Twilio sends the body; a mainland-China provider, which only
sends pre-approved templates, maps `template` to its own template id and sends
`params` instead. Providers raise `TransientSendError` (try again later) or
`PermanentSendError` (never retry); the dispatcher owns retries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    """E.164 recipient number."""
    template: str
    """Catalogue message id, e.g. `sms.reminder.exchange`; the provider's template name."""
    params: Mapping[str, Any]
    language: str
    body: str
    """The text rendered from our catalogue for `language`."""
    reference: str = ""
    """Our idempotency key, for logs; never shown to the recipient."""
    outbox_id: int | None = None
    """The outbox row's id: Aliyun's `OutId`, Tencent's `SessionContext`, echoed in receipts."""


@dataclass(frozen=True)
class SendResult:
    provider_sid: str
    """The provider's id of the message (Twilio's `SM...` SID)."""
    status: str
    """The provider's first status, e.g. `queued`."""


class SendError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.message = message


class TransientSendError(SendError):
    """Try again later (rate limited, provider down, timeout)."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Sending this message again will fail the same way (opted out, invalid number, ...)."""


class ProviderAccountError(SendError):
    """The provider refuses our account, not this message (wrong credentials, unknown or
    suspended account): every message would fail the same way until an administrator
    fixes the settings, so the dispatcher holds them all and fails none."""


class SmsProvider(ABC):
    name: ClassVar[str]
    """Stored on each outbox row as `provider`."""

    @property
    @abstractmethod
    def sender(self) -> str:
        """Who messages go out as: the key of the per-sender rate limit."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider; raise a `SendError` when it refuses."""

    def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections; the provider is not used afterwards."""
