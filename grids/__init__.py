"""The domain: facilities, doctors, patients, grids, memberships, reports.

This package imports neither `notifications` nor `scheduling`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure subpackage must not load Flask
    from flask import Flask


def init_app(app: Flask) -> None:
    from grids import accounts, admin, rollups
    from grids.exchanges import cli as exchanges_cli
    from grids.storage import cli
    from grids.storage.session import init_db
    from grids.web import escalations, headers, request_checks
    from grids.web import pages as web

    init_db(app)
    accounts.init_app(app)
    rollups.init_app(app)
    web.init_app(app)
    headers.init_app(app)
    request_checks.init_app(app)
    escalations.init_app(app)
    cli.init_app(app)
    exchanges_cli.init_app(app)
    admin.init_app(app)
