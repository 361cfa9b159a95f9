"""Accounts and roles: sessions, CSRF, API tokens, the login gate and `users` CLI."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from config.runtime import settings_of

csrf = CSRFProtect()
login_manager = LoginManager()


def init_app(app: Flask) -> None:
    from grids.accounts import access, cli, views
    from grids.accounts import models as _models  # noqa: F401  (registers the tables)
    from grids.accounts.loading import load_from_request, load_from_session

    production = settings_of(app).environment == "production"
    app.config.update(
        # Forms check their token themselves; the gate checks every other unsafe request.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_from_session)
    login_manager.request_loader(load_from_request)
    app.before_request(access.gate)
    csrf.init_app(app)
    app.register_blueprint(views.accounts)
    app.cli.add_command(cli.users_cli)

    @app.after_request
    def _no_store_for_private(response):  # type: ignore[no-untyped-def]
        rule = request.url_rule
        if rule is not None and not access.is_public_rule(rule.rule):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response
