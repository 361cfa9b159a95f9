"""Every response carries the security headers; pages run no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grids.storage.session import database_of
from tests.support.accounts import log_in, make_user
from tests.support.app import make_app

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [*ROOT.glob("grids/**/templates/**/*.html")]


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/api/v1/openapi.json", "/nowhere"])
def test_every_response_has_the_headers(client, path: str) -> None:
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_pages_behind_login_and_webhooks_have_them_too(client, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    log_in(client, "bureau")
    for path in ("/admin/grids", "/api/v1/summary"):
        assert client.get(path).headers["X-Frame-Options"] == "DENY"
    assert client.post("/sms/twilio/inbound").headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_in_production(database_url) -> None:
    app = make_app(database_url, environment="production", secret_key="x" * 40)
    try:
        response = app.test_client().get("/healthz")
    finally:
        database_of(app).dispose()
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_template_holds_inline_script_or_style() -> None:
    assert TEMPLATES
    for template in TEMPLATES:
        text = template.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"<style|\sstyle=", text), template
        assert not re.search(r"\son[a-z]+\s*=|javascript:", text, re.IGNORECASE), template
