"""Weekly rollups per grid, doctor, township and county; the doctor's Monday pages.

Definitions live in `indicators`; the SQL in `queries`; snapshots and the
document in `service`; the Monday digest text in `digest`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from grids.rollups import api, cli, pages
    from grids.rollups import models as _models  # noqa: F401  (registers the table)

    app.register_blueprint(api.rollups_api)
    app.register_blueprint(pages.rollup_pages)
    app.cli.add_command(cli.rollups_cli)
