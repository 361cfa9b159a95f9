"""A second stand-in for Twilio: Prism, which validates every request against the OpenAPI
description itself (`tests/support/data/twilio_messages_openapi.json`, extracted from Twilio's).

Prism is a Node tool: `npm ci --prefix tests/prism --ignore-scripts` installs it
(about 10 s). Without it these tests are skipped; the Python stand-in covers the
same ground and the error sequences.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from notifications.providers import OutgoingMessage, PermanentSendError
from notifications.providers.twilio import ISOLATED_ENVIRONMENT, BaseUrlHttpClient, TwilioProvider

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / "tests" / "prism" / "node_modules" / ".bin" / "prism"
SPEC = ROOT / "tests" / "support" / "data" / "twilio_messages_openapi.json"
ACCOUNT = "AC" + "0" * 32

pytestmark = pytest.mark.skipif(
    not PRISM.exists(), reason="Prism not installed: npm ci --prefix tests/prism --ignore-scripts"
)

MESSAGE = OutgoingMessage(
    to="+8613912345678",
    template="sms.test",
    params={},
    language="zh_CN",
    body="互助短信测试",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def prism() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("Prism did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def provider(base_url: str, **changes: object) -> TwilioProvider:
    values: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": "token",
        "from_number": "+15005550006",
        "status_callback": "https://huzhu.example.org/sms/twilio/status",
        "api_base_url": base_url,
        "timeout": 5,
    }
    values.update(changes)
    return TwilioProvider(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sender", [{}, {"from_number": None, "messaging_service_sid": "MG" + "ab" * 16}]
)
def test_prism_accepts_the_request_our_provider_makes(
    prism: str, sender: dict[str, object]
) -> None:
    twilio = provider(prism, **sender)
    result = twilio.send(MESSAGE)
    twilio.close()
    assert result.provider_sid.startswith("SM") and len(result.provider_sid) == 34
    assert result.status == "queued"


def test_prism_refuses_a_malformed_sender_and_we_do_not_retry(prism: str) -> None:
    twilio = provider(prism, from_number=None, messaging_service_sid="MG123")
    with pytest.raises(PermanentSendError) as refused:
        twilio.send(MESSAGE)
    twilio.close()
    assert refused.value.code == "http-422"


def test_prism_refuses_a_request_without_credentials(prism: str) -> None:
    http = BaseUrlHttpClient(prism, timeout=5)
    client = Client(http_client=http, environment=dict(ISOLATED_ENVIRONMENT), account_sid=ACCOUNT)
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to="+8613912345678", from_="+15005550006", body="x")
    if http.session is not None:
        http.session.close()
    assert refused.value.status == 401
