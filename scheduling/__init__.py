"""Time: the scheduler process and its periodic jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
