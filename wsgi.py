"""Composition root: `create_app()` wires settings, database, blueprints, SMS and CLI.

Run with `flask --app wsgi ...` or `gunicorn 'wsgi:create_app()'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import grids
import notifications
import scheduling
from config.logging import configure_logging
from config.runtime import SETTINGS_KEY
from config.settings import INSTANCE_DIR, load_settings
from grids.cli import CommandGroup


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings()
    if test_config:
        settings = settings.with_overrides(test_config)
    configure_logging(settings.log_level)

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config["SECRET_KEY"] = settings.secret_key
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[SETTINGS_KEY] = settings

    if settings.trusted_proxy_count:
        hops = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )

    app.cli = CommandGroup()
    grids.init_app(app)
    notifications.init_app(app)
    scheduling.init_app(app)
    return app
