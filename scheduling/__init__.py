"""Time: the scheduler process and its periodic jobs.

Nothing here starts a scheduler in the web service: `flask --app wsgi scheduler
run` is its own process.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    import scheduling.models  # noqa: F401  (registers the tables)
    from grids.web.pages import add_health_check
    from scheduling import cli, demo_start
    from scheduling.health import scheduler_health

    add_health_check(app, scheduler_health)
    cli.init_app(app)
    demo_start.init_app(app)
