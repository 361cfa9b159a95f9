"""Security headers on every response (pages, API, webhooks, errors, static files).

The policy allows scripts and styles from this site's own files only: templates hold
no inline `<script>`, `<style>`, `style=`, `on...=` or `javascript:` (a test checks),
so an injected tag or attribute cannot run. `Referrer-Policy: same-origin` keeps the
Referer that Flask-WTF checks on HTTPS form posts while sending nothing elsewhere.
"""

from __future__ import annotations

from flask import Flask, Response

from config.runtime import settings_of

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if settings_of(app).environment == "production":
        headers["Strict-Transport-Security"] = HSTS

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
