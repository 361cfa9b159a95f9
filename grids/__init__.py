"""The domain: facilities, doctors, patients, grids, memberships, reports.

This package imports neither `notifications` nor `scheduling`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from grids import cli, web
    from grids.extension import init_db

    init_db(app)
    web.init_app(app)
    cli.init_app(app)
