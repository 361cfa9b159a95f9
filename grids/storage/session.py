"""The database as a Flask extension: one `Database` per app, one session per request."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from config.runtime import settings_of
from grids.storage.database import Database

DB_KEY = "huzhu.db"


def init_db(app: Flask) -> Database:
    database = Database(settings_of(app).database_url)
    app.extensions[DB_KEY] = database

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()

    return database


def database_of(app: Flask) -> Database:
    return app.extensions[DB_KEY]


def current_db() -> Database:
    return database_of(current_app)


def request_session() -> Session:
    """The session of the current request or CLI command; rolled back unless committed."""
    if "db_session" not in g:
        g.db_session = current_db().sessionmaker()
    return g.db_session
