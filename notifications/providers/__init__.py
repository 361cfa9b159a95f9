"""SMS providers, chosen by `SMS_BACKEND`: twilio, console, memory."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
