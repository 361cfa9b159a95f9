"""Composition root: `create_app()` wires settings, database, blueprints, SMS and CLI.

Run with `flask --app wsgi ...` or `gunicorn 'wsgi:create_app()'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import notifications
import scheduling
from config.logging import configure_logging
from config.runtime import SETTINGS_KEY
from config.settings import INSTANCE_DIR, load_settings
from grids import accounts, admin, followups, rollups
from grids.cli import CommandGroup
from grids.escalation import check_cli as escalation_cli
from grids.exchanges import cli as exchanges_cli
from grids.formation import cli as formation_cli
from grids.roster import cli as roster_cli
from grids.storage import cli as storage_cli
from grids.storage.session import init_db
from grids.web import escalations, headers, request_checks
from grids.web import pages as web


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings()
    if test_config:
        settings = settings.with_overrides(test_config)
    configure_logging(settings.log_level)

    # Static files are served by the web blueprint (grids/web/static).
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), static_folder=None)
    app.config["SECRET_KEY"] = settings.secret_key
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS_KEY] = settings

    if settings.trusted_proxy_count:
        hops = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    app.cli = CommandGroup()
    init_db(app)
    storage_cli.init_app(app)
    accounts.init_app(app)
    rollups.init_app(app)
    web.init_app(app)
    headers.init_app(app)
    request_checks.init_app(app)
    escalations.init_app(app)
    roster_cli.init_app(app)
    formation_cli.init_app(app)
    escalation_cli.init_app(app)
    exchanges_cli.init_app(app)
    admin.init_app(app)
    followups.init_app(app)
    notifications.init_app(app)
    scheduling.init_app(app)
    return app
