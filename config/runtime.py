"""Access to the running application's settings (Flask-bound; the clock is `config.clock`)."""

from __future__ import annotations

from flask import Flask, current_app

from config.clock import now as now  # re-exported for importers not yet moved
from config.settings import Settings

SETTINGS_KEY = "huzhu.settings"


def settings_of(app: Flask) -> Settings:
    return app.extensions[SETTINGS_KEY]


def current_settings() -> Settings:
    return settings_of(current_app)
