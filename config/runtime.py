"""Access to the running application's settings and clock."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app

from config.settings import Settings

SETTINGS_KEY = "huzhu.settings"


def settings_of(app: Flask) -> Settings:
    return app.extensions[SETTINGS_KEY]


def current_settings() -> Settings:
    return settings_of(current_app)


def now() -> datetime:
    """The current time, aware, in UTC. Tests move it with time-machine."""
    return datetime.now(UTC)
