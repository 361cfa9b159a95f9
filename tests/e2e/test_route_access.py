"""Every route checks who is asking: a new route without a check fails here."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from grids.accounts.access import PUBLIC_RULES, ROLES_ATTRIBUTE, WEBHOOK_PREFIXES

# The routes anyone may open, spelled out on purpose: adding one is a decision.
EXPECTED_PUBLIC = {
    "/",  # county counts only
    "/login",
    "/healthz",
    "/static/<path:filename>",
    "/api/v1/openapi.json",
}
# Provider webhooks check a signature or a secret path segment of their own.
EXPECTED_WEBHOOK_PREFIXES = ("/sms/", "/voice/")


def _private_rules(app: Flask) -> list:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule not in EXPECTED_PUBLIC and not rule.rule.startswith(EXPECTED_WEBHOOK_PREFIXES)
    ]


def _sample_url(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", "X1", rule)


def test_the_public_list_is_the_one_written_here() -> None:
    assert set(PUBLIC_RULES) == EXPECTED_PUBLIC
    assert tuple(WEBHOOK_PREFIXES) == EXPECTED_WEBHOOK_PREFIXES


def test_every_private_route_declares_its_roles(app: Flask) -> None:
    missing = [
        rule.rule
        for rule in _private_rules(app)
        if not getattr(app.view_functions[rule.endpoint], ROLES_ATTRIBUTE, None)
    ]
    assert missing == [], f"routes without require_role/any_role: {missing}"


def test_anonymous_requests_to_private_routes_are_turned_away(app: Flask, client) -> None:
    rules = _private_rules(app)
    assert rules, "expected private routes"
    for rule in rules:
        url = _sample_url(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, url)
                assert response.get_json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code == 302, (method, url)
                assert response.headers["Location"].startswith("/login"), (method, url)


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/api/v1/openapi.json"])
def test_public_routes_open_without_login(client, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_stylesheet_is_served_from_the_project(client) -> None:
    response = client.get("/static/huzhu.css")
    assert response.status_code == 200
    assert b"360 px" in response.data
    response.close()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_the_openapi_document_says_which_api_operations_need_credentials(
    app: Flask, client
) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    schemes = set(spec["components"]["securitySchemes"])
    documented = {
        (path, method): operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in EXPECTED_PUBLIC:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = (_openapi_path(rule.rule), method.lower())
            assert key in documented, f"{method} {rule.rule} is not in the OpenAPI document"
            operation = documented[key]
            required = {name for option in operation.get("security", []) for name in option}
            assert "bearer" in required, f"{method} {rule.rule} declares no bearer security"
            assert required <= schemes, f"{method} {rule.rule}: undefined {required - schemes}"
            # What every private route answers without credentials is documented too.
            assert "401" in operation["responses"], f"{method} {rule.rule} documents no 401"
