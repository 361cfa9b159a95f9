"""Twilio through its official library, `twilio.rest.Client`.

API calls go to `TWILIO_API_BASE_URL` (Twilio itself by default, a local
stand-in in tests) through a `TwilioHttpClient` subclass, the library's own
extension point for custom transports. Our settings are the only
configuration: stray `TWILIO_*` variables of the process (edge, region,
credentials) never reach the client (see `ISOLATED_ENVIRONMENT`).

The library does not retry; errors are mapped here for the dispatcher:
HTTP 429 / 20429, 5xx, timeouts and connection errors are transient; 401,
403 and 404 refuse our account (credentials, account SID), so every message
is held; 21610 (unsubscribed), 21211 (invalid number), 21614 (not a mobile)
and any other 4xx are permanent for the message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifications.providers import base

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
TOO_MANY_REQUESTS = 20429
# 401 bad credentials or inactive account (20003, 20005), 403 forbidden, 404 no
# such account in the URL (20404): our account is refused, not the message.
ACCOUNT_STATUSES = frozenset({401, 403, 404})
DEFAULT_TIMEOUT_SECONDS = 15.0

# The library reads TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_EDGE and
# TWILIO_REGION from `environment`, and falls back to os.environ when the
# mapping is empty (so `environment={}` is not enough): an edge or region
# there would send requests to api.<edge>.<region>.twilio.com, past
# TWILIO_API_BASE_URL. This mapping is not empty and gives none of them.
ISOLATED_ENVIRONMENT: dict[str, str] = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends Twilio API calls to `base_url`; remembers the last `Retry-After` per thread."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=log)
        self.base_url = base_url.rstrip("/")
        self._last = threading.local()

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API_BASE_URL):
            url = self.base_url + url[len(TWILIO_API_BASE_URL) :]
        self._last.retry_after = None
        response = super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        self._last.retry_after = _seconds(response.headers.get("Retry-After"))
        return response

    @property
    def last_retry_after(self) -> float | None:
        return getattr(self._last, "retry_after", None)

    # The library logs every request and response at INFO; one DEBUG line is enough.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("Twilio API %s %s", kwargs["method"], kwargs["url"])

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("Twilio API answered %s", status_code)


def _seconds(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


@dataclass
class TwilioProvider(base.SmsProvider):
    account_sid: str
    auth_token: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    api_base_url: str = TWILIO_API_BASE_URL
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    name: ClassVar[str] = "twilio"
    http_client: BaseUrlHttpClient = field(init=False, repr=False)
    client: Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError(
                "the twilio provider needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
            )
        self.http_client = BaseUrlHttpClient(self.api_base_url, self.timeout)
        self.client = Client(
            self.account_sid,
            self.auth_token,
            http_client=self.http_client,
            environment=dict(ISOLATED_ENVIRONMENT),
        )

    @property
    def sender(self) -> str:
        return self.messaging_service_sid or self.from_number or ""

    def close(self) -> None:
        if self.http_client.session is not None:
            self.http_client.session.close()

    def message_arguments(self, message: base.OutgoingMessage) -> dict[str, Any]:
        arguments: dict[str, Any] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            arguments["messaging_service_sid"] = self.messaging_service_sid
        else:
            arguments["from_"] = self.from_number
        if self.status_callback:
            arguments["status_callback"] = self.status_callback
        return arguments

    def send(self, message: base.OutgoingMessage) -> base.SendResult:
        try:
            created = self.client.messages.create(**self.message_arguments(message))
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._classify(error) from error
        except requests.Timeout as error:
            raise base.TransientSendError(
                "timeout", f"Twilio did not answer in {self.timeout}s"
            ) from error
        except requests.RequestException as error:
            raise base.TransientSendError("connection", f"cannot reach Twilio: {error}") from error
        if not created.sid:
            raise base.TransientSendError("no-sid", "Twilio accepted the message but gave no SID")
        return base.SendResult(provider_sid=created.sid, status=created.status or "queued")

    def _classify(self, error: TwilioRestException | TwilioServiceException) -> base.SendError:
        status = int(error.status or 0)
        code = str(error.code) if error.code and error.code != status else f"http-{status}"
        text = _error_text(error)
        if status == 429 or error.code == TOO_MANY_REQUESTS or status >= 500 or status == 0:
            return base.TransientSendError(
                code, text, retry_after=self.http_client.last_retry_after
            )
        if status in ACCOUNT_STATUSES:
            return base.ProviderAccountError(
                code,
                f"{text} (check TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_API_BASE_URL)",
            )
        return base.PermanentSendError(code, text)


def _error_text(error: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(error, TwilioServiceException):
        return error.detail or error.title or ""
    return str(error.msg or "")
