"""The database as a Flask extension: one `Database` per app, one session per request.

A request has up to two sessions. `request_session()` is on the primary: it writes,
and it reads what was just written (webhooks, logins, forms, admin operations, the
user of the request). `read_session()` is for views that only read and may be a few
seconds behind (pages, exports, rollups): it is on the replica when DATABASE_READ_URL
names one, and it refuses to write.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from config.runtime import settings_of
from grids.storage.database import Database
from grids.storage.replica import ReadReplica

DB_KEY = "huzhu.db"
READ_DB_KEY = "huzhu.read_db"


def init_db(app: Flask) -> Database:
    settings = settings_of(app)
    database = Database(settings.database_url)
    app.extensions[DB_KEY] = database
    if settings.database_read_url:
        app.extensions[READ_DB_KEY] = ReadReplica(
            Database(settings.database_read_url, read_only=True)
        )

    @app.teardown_appcontext
    def _close_sessions(_exc: BaseException | None) -> None:
        for name in ("db_session", "db_read_session"):
            session: Session | None = g.pop(name, None)
            if session is not None:
                session.rollback()
                session.close()

    return database


def database_of(app: Flask) -> Database:
    return app.extensions[DB_KEY]


def replica_of(app: Flask) -> ReadReplica | None:
    """The read replica, when DATABASE_READ_URL names one."""
    return app.extensions.get(READ_DB_KEY)


def current_db() -> Database:
    return database_of(current_app)


def request_session() -> Session:
    """The session of the current request or CLI command, on the primary; rolled back
    unless committed."""
    if "db_session" not in g:
        g.db_session = current_db().sessionmaker()
    return g.db_session


def read_session() -> Session:
    """A read-only session for the current request or CLI command: on the replica when
    one is configured and answers, else on the primary. It may lag the primary by a
    few seconds, and it refuses writes (`ReadOnlySessionError`, or the server's
    read-only transaction). A view that must see its own writes, or checks a login,
    uses `request_session()`."""
    if "db_read_session" not in g:
        replica = replica_of(current_app)
        session = replica.session() if replica is not None else None
        g.db_read_session = session or current_db().read_sessionmaker()
    return g.db_read_session


def dispose_all(app: Flask) -> None:
    """Close every pooled connection of the primary and the replica."""
    database_of(app).dispose()
    replica = replica_of(app)
    if replica is not None:
        replica.dispose()
