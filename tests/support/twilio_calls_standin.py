"""The Twilio stand-in playing the Calls API: `POST /2010-04-01/Accounts/{AccountSid}/Calls.json`.

Same server, authentication, scripting and error bodies as the Messages stand-in;
the request is checked against the Calls create operation of Twilio's OpenAPI
description (`tests/support/data/twilio_calls_api.json`): unknown parameters refused,
`To` and `From` required and phone numbers, one of `Url`, `Twiml` or `ApplicationSid`,
`Twiml` well-formed TwiML within Twilio's 4000 characters, enums and URIs as the
schema says. The answer is the spec's `createWithTwiml` example with our values.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from tests.support.twilio_standin import E164, SpecViolation, TwilioStandIn

CALLS_SPEC_PATH = Path(__file__).resolve().parent / "data" / "twilio_calls_api.json"
TWIML_LIMIT = 4000


def load_calls_spec() -> dict[str, Any]:
    return json.loads(CALLS_SPEC_PATH.read_text(encoding="utf-8"))


@dataclass
class TwilioCallsStandIn(TwilioStandIn):
    spec: dict[str, Any] = field(default_factory=load_calls_spec)

    @property
    def call_requests(self) -> list[Any]:
        return self.message_requests

    def _check_form(self, form: dict[str, list[str]]) -> dict[str, Any]:
        schema = self.spec["request_schema"]
        properties: dict[str, Any] = schema["properties"]
        unknown = sorted(set(form) - set(properties))
        if unknown:
            raise SpecViolation(400, 20001, f"Unknown parameters: {', '.join(unknown)}")
        for name in schema.get("required", []):
            if not form.get(name) or not form[name][0]:
                raise SpecViolation(400, 21201, f"Required parameter {name} is missing.")
        values: dict[str, Any] = {}
        for name, raw in form.items():
            property_schema = properties[name]
            if property_schema.get("type") == "array":
                for item in raw:
                    self._check_value(name, item, property_schema["items"])
                values[name] = raw
                continue
            if len(raw) != 1:
                raise SpecViolation(400, 20001, f"Parameter {name} given {len(raw)} times")
            values[name] = self._check_value(name, raw[0], property_schema)
        if not (values.get("Url") or values.get("Twiml") or values.get("ApplicationSid")):
            raise SpecViolation(400, 21205, "Url, Twiml or ApplicationSid is required.")
        for name in ("To", "From"):
            if not E164.match(values[name]):
                raise SpecViolation(400, 21211, f"The '{name}' number is not a valid phone number.")
        twiml = values.get("Twiml")
        if twiml is not None:
            if len(twiml) > TWIML_LIMIT:
                raise SpecViolation(400, 21236, "Twiml is longer than 4000 characters.")
            try:
                root = ElementTree.fromstring(twiml)
            except ElementTree.ParseError:
                raise SpecViolation(400, 12100, "Document parse failure") from None
            if root.tag != "Response":
                raise SpecViolation(400, 12102, "Root element must be Response")
        return values

    def _message(self, account_sid: str, values: dict[str, Any]) -> dict[str, Any]:
        example = self.spec["response_examples"]["createWithTwiml"]
        sid = "CA" + uuid.uuid4().hex
        stamp = format_datetime(datetime.now(UTC))
        call = {key: None for key in self.spec["response_schema"]["properties"]}
        call.update(example)
        call.update(
            {
                "account_sid": account_sid,  # type: ignore[dict-item]
                "sid": sid,  # type: ignore[dict-item]
                "to": values["To"],
                "from": values["From"],
                "status": "queued",  # type: ignore[dict-item]
                "direction": "outbound-api",  # type: ignore[dict-item]
                "date_created": stamp,  # type: ignore[dict-item]
                "date_updated": stamp,  # type: ignore[dict-item]
                "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",  # type: ignore[dict-item]
            }
        )
        return call
