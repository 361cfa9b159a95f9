"""The village doctor's mandated follow-ups (基本公卫慢病随访): records, due lists and
the national export. Rules in `rules` (pure); the record in `service`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pure rules load no Flask through their package
    from flask import Flask


def init_app(app: Flask) -> None:
    from grids.followups import api, cli, pages
    from grids.followups import models as _models  # noqa: F401  (registers the table)

    app.register_blueprint(api.followups_api)
    app.register_blueprint(pages.followup_pages)
    app.cli.add_command(cli.followups_cli)
