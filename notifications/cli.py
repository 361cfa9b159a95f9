"""`flask --app wsgi outbox ...`: dispatching and listing outbound SMS."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

outbox_cli = AppGroup("outbox", help="Send and inspect outbound SMS.")


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
