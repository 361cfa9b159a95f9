"""Administration: reassigning grids, coordinators, members and doctors, with preview,
audit and undo, on the web, the JSON API and the CLI."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from grids.admin.api import admin_api
    from grids.admin.cli import admin_cli, rebalance_command
    from grids.admin.pages import admin_pages
    from grids.formation.cli import grids_cli

    app.register_blueprint(admin_api)
    app.register_blueprint(admin_pages)
    app.cli.add_command(admin_cli)
    if "rebalance" not in grids_cli.commands:  # `grids rebalance` joins formation's group
        grids_cli.add_command(rebalance_command)
