"""What the Aliyun and Tencent Cloud providers share: endpoints, phone formats, error classes.

Both send approved templates only (see `notifications.provider_templates`) and
answer with business error codes. Each code falls in one class, and the class
decides what the dispatcher does:

- `recipient`: permanent for this number (invalid number → flagged invalid;
  blacklist / unsubscribed → opted out, see `notifications.contacts`); the
  message fails.
- `configuration`: a template, signature or permission problem of ours; every
  message would fail the same way, so all are held (nothing fails, nothing is
  lost) and the log says what to fix, as for Twilio's 401/403.
- `account`: balance, arrears, console quota: held the same way.
- `transient`: rate limits, 5xx, timeouts: retried with backoff.

An unknown code is transient: retried up to `SMS_MAX_ATTEMPTS`, then failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.provider_templates import TemplateNotSendable, TemplatePolicy
from notifications.providers import base

RECIPIENT = "recipient"
CONFIGURATION = "configuration"
ACCOUNT = "account"
TRANSIENT = "transient"


@dataclass(frozen=True)
class Endpoint:
    host: str
    """`host` or `host:port`, what the SDKs call the endpoint."""
    protocol: str
    """`https`, or `http` for a local stand-in."""


def parse_endpoint(raw: str) -> Endpoint:
    """`dysmsapi.aliyuncs.com`, `host:port` or `http://127.0.0.1:8081` as the SDKs want it."""
    for protocol in ("http", "https"):
        prefix = f"{protocol}://"
        if raw.startswith(prefix):
            return Endpoint(raw[len(prefix) :].rstrip("/"), protocol)
    return Endpoint(raw.rstrip("/"), "https")


def error_for(
    kind: str, code: str, message: str, retry_after: float | None = None
) -> base.SendError:
    """The `SendError` the dispatcher expects for a provider code of class `kind`."""
    text = f"{code}: {message}" if message else code
    if kind == RECIPIENT:
        return base.PermanentSendError(code, text)
    if kind in (CONFIGURATION, ACCOUNT):
        return base.ProviderAccountError(code, f"{kind} problem, every message held: {text}")
    return base.TransientSendError(code, text, retry_after=retry_after)


def classify(code: str, classes: dict[str, frozenset[str]]) -> str:
    for kind, codes in classes.items():
        if code in codes:
            return kind
    return TRANSIENT


def classified_error(
    code: str,
    classes: dict[str, frozenset[str]],
    message: str,
    retry_after: float | None = None,
) -> base.SendError:
    """`error_for` the class `classes` give `code`."""
    return error_for(classify(code, classes), code, message, retry_after)


class MainlandSmsProvider(base.SmsProvider):
    """What Aliyun and Tencent Cloud send the same way: as our signature, an approved
    template, and our outbox id as the reference their reports echo."""

    sign_name: str
    policy: TemplatePolicy

    @property
    def sender(self) -> str:
        return self.sign_name

    def template_values(self, message: base.OutgoingMessage) -> tuple[str, list[tuple[str, str]]]:
        """The provider's template id and (variable, value) pairs for `message`."""
        try:
            return self.policy.provider_values(message.template, message.language, message.params)
        except TemplateNotSendable as error:
            # The map changed since the message was queued: a setting to fix, not a loss.
            raise base.ProviderAccountError("template", str(error)) from error


def reference_of(message: base.OutgoingMessage) -> str:
    """What the provider echoes in its reports: our outbox id, else the idempotency key."""
    return str(message.outbox_id if message.outbox_id is not None else message.reference)


def national_mainland(phone: str) -> str:
    """`+8613912345678` → `13912345678`; other numbers keep their country code, no `+`."""
    return phone[3:] if phone.startswith("+86") else phone.lstrip("+")


def e164_from_provider(number: str, nationcode: str | None = None) -> str:
    """A provider's number (`13912345678`, `8613912345678`, `+86...`) in E.164."""
    digits = number.strip()
    if digits.startswith("+"):
        return digits
    if nationcode:
        return f"+{nationcode}{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+86{digits}"
    if digits.startswith("0086"):
        return "+" + digits[2:]
    return "+" + digits
