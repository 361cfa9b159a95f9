"""A local stand-in for Twilio's Messages API, for tests that use the real `twilio` library.

It serves `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` on 127.0.0.1
(random port) as Twilio's OpenAPI description says (`tests/support/data/twilio_messages_api.json`,
extracted from Twilio's `twilio_api_v2010.json`): form-encoded parameters
checked against the request schema (required `To`, types, enums, patterns,
formats; unknown parameters refused so a typo in our request is caught), basic
auth with the account SID and auth token, and a 201 answer shaped like the
spec's Message example. Errors use Twilio's JSON error body
(`code`, `message`, `more_info`, `status`) with Twilio's codes: 20003 bad
credentials (401), 20404 unknown resource (404), 21604 no `To`, 21602 no body,
21603 no sender, 21211 invalid `To` (400).

Valid requests are answered by a script, one step per request, then `accept`:

    standin.script(standin.error(429, 20429, retry_after=7), standin.accept())
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SPEC_PATH = Path(__file__).resolve().parent / "data" / "twilio_messages_api.json"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CHANNEL_ADDRESS = re.compile(r"^[a-z]+:\+?[\w@.+-]+$")


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Step:
    """What the stand-in does with one valid request."""

    kind: str  # accept | error | slow
    status: int = 201
    code: int | None = None
    message: str = ""
    retry_after: int | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    answered: int

    def value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        return user, password


class SpecViolation(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    spec: dict[str, Any] = field(default_factory=load_spec)
    requests: list[RecordedRequest] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        template = re.escape(self.spec["path"]).replace(r"\{AccountSid\}", r"(?P<AccountSid>[^/]+)")
        self._path = re.compile(f"^{template}$")

    # scripting -----------------------------------------------------------------
    @staticmethod
    def accept() -> Step:
        return Step("accept")

    @staticmethod
    def error(
        status: int, code: int | None = None, message: str = "", retry_after: int | None = None
    ) -> Step:
        return Step("error", status=status, code=code, message=message, retry_after=retry_after)

    @staticmethod
    def slow(seconds: float) -> Step:
        """Answer 201 only after `seconds`: longer than the client's timeout, it is a timeout."""
        return Step("slow", delay=seconds)

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def _next_step(self) -> Step:
        with self._lock:
            return self._steps.popleft() if self._steps else self.accept()

    # server --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def start(self) -> TwilioStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                standin._handle(self)

            def do_GET(self) -> None:
                standin._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> TwilioStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if self._path.match(r.path) and r.method == "POST"]

    # one request ---------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8") if length else ""
        path = urlsplit(handler.path).path
        form = parse_qs(raw, keep_blank_values=True)
        headers = dict(handler.headers.items())
        try:
            status, payload, extra = self._answer(handler.command, path, headers, form)
        except SpecViolation as violation:
            status, payload, extra = violation.status, self._error_body(violation), {}
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, path, headers, form, status))
        body = json.dumps(payload).encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], form: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        match = self._path.match(path)
        if not match:
            raise SpecViolation(404, 20404, f"The requested resource {path} was not found")
        if method != self.spec["method"]:
            raise SpecViolation(405, 20004, f"Method {method} not allowed")
        self._check_auth(headers, match.group("AccountSid"))
        self._check_path_parameters(match.groupdict())
        content_type = headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != self.spec["request_content_type"]:
            raise SpecViolation(
                400, 20001, f"Content-Type must be {self.spec['request_content_type']}"
            )
        values = self._check_form(form)

        step = self._next_step()
        if step.kind == "error":
            extra = {"Retry-After": str(step.retry_after)} if step.retry_after is not None else {}
            code = step.code or step.status
            violation = SpecViolation(step.status, code, step.message or f"scripted error {code}")
            return step.status, self._error_body(violation), extra
        if step.kind == "slow" and self._closing.wait(step.delay):
            return 503, {"message": "stand-in stopping"}, {}
        message = self._message(match.group("AccountSid"), values)
        with self._lock:
            self.created.append(message)
        return self.spec["response_status"], message, {}

    def _check_auth(self, headers: dict[str, str], path_account: str) -> None:
        header = headers.get("Authorization", "")
        if not header.startswith("Basic "):
            raise SpecViolation(401, 20003, "Authenticate")
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            raise SpecViolation(401, 20003, "Authenticate") from None
        if (user, password) != (self.account_sid, self.auth_token):
            raise SpecViolation(401, 20003, "Authenticate")
        if path_account != user:
            raise SpecViolation(404, 20404, f"The requested resource {path_account} was not found")

    def _check_path_parameters(self, parameters: dict[str, str]) -> None:
        for name, schema in self.spec["path_parameters"].items():
            if not _string_ok(parameters[name], schema):
                raise SpecViolation(404, 20404, f"The requested resource {name} was not found")

    def _check_form(self, form: dict[str, list[str]]) -> dict[str, Any]:
        schema = self.spec["request_schema"]
        properties: dict[str, Any] = schema["properties"]
        unknown = sorted(set(form) - set(properties))
        if unknown:
            raise SpecViolation(400, 20001, f"Unknown parameters: {', '.join(unknown)}")
        for name in schema.get("required", []):
            if not form.get(name) or not form[name][0]:
                raise SpecViolation(400, 21604, f"A '{name}' phone number is required.")
        values: dict[str, Any] = {}
        for name, raw in form.items():
            property_schema = properties[name]
            if property_schema["type"] == "array":
                for item in raw:
                    self._check_value(name, item, property_schema["items"])
                values[name] = raw
                continue
            if len(raw) != 1:
                raise SpecViolation(400, 20001, f"Parameter {name} given {len(raw)} times")
            values[name] = self._check_value(name, raw[0], property_schema)
        if not (values.get("Body") or values.get("MediaUrl") or values.get("ContentSid")):
            raise SpecViolation(400, 21602, "Message body is required.")
        if not (values.get("From") or values.get("MessagingServiceSid")):
            raise SpecViolation(400, 21603, "A 'From' phone number is required.")
        if not E164.match(values["To"]) and not CHANNEL_ADDRESS.match(values["To"]):
            raise SpecViolation(
                400, 21211, f"The 'To' number {values['To']} is not a valid phone number."
            )
        return values

    def _check_value(self, name: str, raw: str, schema: dict[str, Any]) -> Any:
        kind = schema.get("type", "string")
        bad = SpecViolation(400, 20001, f"Invalid {name}: {raw!r} is not a valid {kind}")
        if kind == "integer":
            if not re.fullmatch(r"-?\d+", raw):
                raise bad
            return int(raw)
        if kind == "number":
            try:
                return float(raw)
            except ValueError:
                raise bad from None
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise bad
            return raw.lower() == "true"
        if not _string_ok(raw, schema):
            raise bad
        return raw

    def _message(self, account_sid: str, values: dict[str, Any]) -> dict[str, Any]:
        example = self.spec["response_examples"]["create"]
        sid = "SM" + uuid.uuid4().hex
        stamp = format_datetime(datetime.now(UTC))
        message: dict[str, Any] = {key: None for key in self.spec["response_schema"]["properties"]}
        message.update(example)
        message.update(
            {
                "account_sid": account_sid,
                "sid": sid,
                "to": values["To"],
                "from": values.get("From"),
                "body": values.get("Body"),
                "messaging_service_sid": values.get("MessagingServiceSid"),
                "status": "queued" if values.get("From") else "accepted",
                "date_created": stamp,
                "date_updated": stamp,
                "date_sent": None,
                "num_segments": "1",
                "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
                },
            }
        )
        return message

    @staticmethod
    def _error_body(violation: SpecViolation) -> dict[str, Any]:
        return {
            "code": violation.code,
            "message": violation.message,
            "more_info": f"https://www.twilio.com/docs/errors/{violation.code}",
            "status": violation.status,
        }


def _string_ok(raw: str, schema: dict[str, Any]) -> bool:
    if "enum" in schema and raw not in schema["enum"]:
        return False
    if "minLength" in schema and len(raw) < schema["minLength"]:
        return False
    if "maxLength" in schema and len(raw) > schema["maxLength"]:
        return False
    if "pattern" in schema and not re.search(schema["pattern"], raw):
        return False
    fmt = schema.get("format")
    if fmt == "uri":
        parts = urlsplit(raw)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    if fmt == "phone-number":
        return bool(E164.match(raw) or CHANNEL_ADDRESS.match(raw))
    if fmt == "date-time":
        try:
            datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return False
    return True
