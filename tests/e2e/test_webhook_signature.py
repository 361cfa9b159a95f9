"""Which URL a Twilio signature is checked against: `PUBLIC_BASE_URL`, or the request's own
URL as rebuilt behind a trusted TLS-terminating proxy (`TRUSTED_PROXY_COUNT`, werkzeug's
`ProxyFix`). Requests are signed with the twilio library's own `RequestValidator`.

A valid signature on the status webhook answers 204 (the SID is unknown, which is fine);
any mismatch answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from grids.storage.session import database_of
from tests.support.app import make_app

TOKEN = "test-auth-token"
PATH = "/sms/twilio/status"
PARAMS = {
    "AccountSid": "AC" + "0" * 32,
    "MessageSid": "SM" + "d" * 32,
    "MessageStatus": "delivered",
}

AppFactory = Callable[..., Flask]


@pytest.fixture
def app_with(database_url: str) -> Iterator[AppFactory]:
    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        application = make_app(database_url, **overrides)
        made.append(application)
        return application

    yield factory
    for application in made:
        database_of(application).dispose()


def post(
    app: Flask,
    signed_for: str,
    *,
    path: str = PATH,
    headers: dict[str, str] | None = None,
    base_url: str = "http://localhost",
) -> int:
    signature = RequestValidator(TOKEN).compute_signature(signed_for, PARAMS)
    response = app.test_client().post(
        path,
        data=PARAMS,
        headers={"X-Twilio-Signature": signature, **(headers or {})},
        base_url=base_url,
    )
    return response.status_code


PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "huzhu.example.org"}


@pytest.mark.parametrize(
    ("headers", "twilio_called"),
    [
        (PROXIED, "https://huzhu.example.org/sms/twilio/status"),
        (
            {**PROXIED, "X-Forwarded-Prefix": "/huzhu"},
            "https://huzhu.example.org/huzhu/sms/twilio/status",
        ),
        (
            {**PROXIED, "X-Forwarded-Port": "8443"},
            "https://huzhu.example.org:8443/sms/twilio/status",
        ),
        ({**PROXIED, "X-Forwarded-Port": "443"}, "https://huzhu.example.org/sms/twilio/status"),
        ({**PROXIED, "X-Forwarded-Port": "443"}, "https://huzhu.example.org:443/sms/twilio/status"),
    ],
    ids=["proto-and-host", "prefix", "port", "default-port", "default-port-spelled-out"],
)
def test_behind_a_trusted_proxy_the_url_twilio_called_is_rebuilt(
    app_with: AppFactory, headers: dict[str, str], twilio_called: str
) -> None:
    app = app_with(public_base_url=None, trusted_proxy_count=1)
    assert post(app, twilio_called, headers=headers) == 204
    assert post(app, "http://localhost/sms/twilio/status", headers=headers) == 403


def test_only_the_hops_of_trusted_proxies_are_believed(app_with: AppFactory) -> None:
    app = app_with(public_base_url=None, trusted_proxy_count=1)
    chain = {
        "X-Forwarded-Proto": "http, https",
        "X-Forwarded-Host": "evil.example, huzhu.example.org",
    }
    assert post(app, "https://huzhu.example.org/sms/twilio/status", headers=chain) == 204
    assert post(app, "http://evil.example/sms/twilio/status", headers=chain) == 403


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(app_with: AppFactory) -> None:
    app = app_with(public_base_url=None, trusted_proxy_count=0)
    forged = {**PROXIED, "X-Forwarded-Prefix": "/huzhu", "X-Forwarded-Port": "8443"}
    assert post(app, "https://huzhu.example.org/sms/twilio/status", headers=forged) == 403
    assert post(app, "https://huzhu.example.org/huzhu/sms/twilio/status", headers=forged) == 403
    assert post(app, "http://localhost/sms/twilio/status", headers=forged) == 204


def test_public_base_url_wins_over_what_the_request_says(app_with: AppFactory) -> None:
    app = app_with(public_base_url="https://huzhu.example.org", trusted_proxy_count=1)
    assert (
        post(app, "https://huzhu.example.org/sms/twilio/status", base_url="http://10.0.0.5") == 204
    )
    assert post(app, "https://other.example.org/sms/twilio/status", headers=PROXIED) == 403
    assert post(app, "http://10.0.0.5/sms/twilio/status", base_url="http://10.0.0.5") == 403


@pytest.mark.parametrize(
    "twilio_called",
    [
        "https://example.org/huzhu/sms/twilio/status",
        "https://example.org:443/huzhu/sms/twilio/status",
    ],
)
def test_public_base_url_may_carry_a_path_prefix(app_with: AppFactory, twilio_called: str) -> None:
    app = app_with(public_base_url="https://example.org/huzhu")
    assert post(app, twilio_called) == 204
    assert post(app, "https://example.org/sms/twilio/status") == 403


@pytest.mark.parametrize("public_base_url", ["https://huzhu.example.org", None])
def test_a_query_string_is_signed_exactly_as_twilio_sent_it(
    app_with: AppFactory, public_base_url: str | None
) -> None:
    app = app_with(public_base_url=public_base_url)
    base = public_base_url or "http://localhost"
    query = "?grid=%E4%BA%92%E5%8A%A9&n=1+2"
    assert post(app, base + PATH + query, path=PATH + query) == 204
    assert post(app, base + PATH + "?grid=互助&n=1+2", path=PATH + query) == 403
    assert post(app, base + PATH, path=PATH + query) == 403


def test_the_inbound_webhook_is_checked_the_same_way(app_with: AppFactory) -> None:
    app = app_with(public_base_url=None, trusted_proxy_count=1)
    params = {"MessageSid": "SM" + "e" * 32, "From": "+8613900000001", "Body": "好"}
    url = "https://huzhu.example.org/sms/twilio/inbound"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    client = app.test_client()
    forged = client.post(
        "/sms/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert forged.status_code == 403
    proxied = client.post(
        "/sms/twilio/inbound",
        data=params,
        headers={"X-Twilio-Signature": signature, **PROXIED},
    )
    assert proxied.status_code == 200
    assert proxied.mimetype in ("text/xml", "application/xml")


def test_development_may_switch_the_check_off_explicitly(app_with: AppFactory) -> None:
    checked = app_with()
    unchecked = app_with(twilio_validate_signature=False)
    for app, expected in ((checked, 403), (unchecked, 204)):
        response = app.test_client().post(PATH, data=PARAMS)
        assert response.status_code == expected


def test_without_an_auth_token_nothing_passes(app_with: AppFactory) -> None:
    app = app_with(twilio_auth_token=None)
    assert post(app, "https://huzhu.example.org/sms/twilio/status") == 403
