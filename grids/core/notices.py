"""What the domain asks to tell people. The SMS channel turns each into an outbox row.

The domain never sends anything itself: a service returns `Notice`s and the
caller enqueues them in the same transaction as the change that caused them.
A notice is built in one way: `Notice.to_person` for a doctor or patient,
`Notice.to_facility` for a facility's duty phone, `Notice.to_phone` for a bare
number (a test message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NotRequired, Protocol, TypedDict, Unpack

SMS = "sms"
VOICE = "voice"
"""The channels a notice goes by: a text message, or a call speaking the text."""


class Person(Protocol):
    """A doctor or patient: someone with a number and a language."""

    recipient_type: ClassVar[str]

    @property
    def id(self) -> int: ...

    @property
    def phone(self) -> str | None: ...

    @property
    def language(self) -> str: ...


class Place(Protocol):
    """A facility with a duty phone."""

    @property
    def id(self) -> int: ...

    @property
    def phone(self) -> str | None: ...


class NoticeText(TypedDict):
    """What a message says, whoever it goes to."""

    key: str
    """Idempotency key, unique per message meant."""
    template: str
    params: NotRequired[Mapping[str, Any] | None]
    urgent: NotRequired[bool]


class NoPhone(ValueError):
    """The recipient has no phone number: callers check before building a notice."""


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
    channel: str = SMS
    """`sms`, or `voice` for a call speaking the text (escalation ladders)."""
    not_before: datetime | None = None
    """Not sent before this time (a critical case's message written at night)."""

    @classmethod
    def to_person(cls, person: Person, **text: Unpack[NoticeText]) -> Notice:
        """A message to a doctor or patient, in their language."""
        if not person.phone:
            raise NoPhone(f"{person.recipient_type} {person.id} has no phone")
        return cls._build(person.phone, person.language, (person.recipient_type, person.id), text)

    @classmethod
    def to_facility(cls, facility: Place, *, language: str, **text: Unpack[NoticeText]) -> Notice:
        """A message to a facility's duty phone, in the county's default language."""
        if not facility.phone:
            raise NoPhone(f"facility {facility.id} has no phone")
        return cls._build(facility.phone, language, ("facility", facility.id), text)

    @classmethod
    def to_phone(cls, phone: str, *, language: str, **text: Unpack[NoticeText]) -> Notice:
        """A message to a bare number that belongs to nobody on the roster."""
        return cls._build(phone, language, None, text)

    @classmethod
    def _build(
        cls, phone: str, language: str, recipient: tuple[str, int] | None, text: NoticeText
    ) -> Notice:
        recipient_type, recipient_id = recipient if recipient is not None else (None, None)
        return cls(
            key=text["key"],
            phone=phone,
            language=language,
            template=text["template"],
            params=dict(text.get("params") or {}),
            urgent=text.get("urgent", False),
            recipient_type=recipient_type,
            recipient_id=recipient_id,
        )
