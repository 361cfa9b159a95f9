"""What the domain asks to tell people. The SMS channel turns each into an outbox row.

The domain never sends anything itself: a service returns `Notice`s and the
caller enqueues them in the same transaction as the change that caused them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    key: str
    """Idempotency key, unique per message meant: `urgent:17:doctor:4`."""
    phone: str
    """E.164 recipient number."""
    language: str
    template: str
    """Catalogue message id, e.g. `sms.urgent.doctor`; also the provider template name."""
    params: Mapping[str, Any] = field(default_factory=dict)
    urgent: bool = False
    recipient_type: str | None = None
    recipient_id: int | None = None
    channel: str = "sms"
    """`sms`, or `voice` for a call speaking the text (escalation ladders)."""
