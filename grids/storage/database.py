"""Engine, sessions and the unit of work. Nothing is built at import time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker

from grids.storage.background import wait_for_background

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
SQLITE_BUSY_TIMEOUT_MS = 30000
"""How long a SQLite connection waits for another one's write lock."""
IDLE_PING_SECONDS = 5.0
"""A pooled connection unused for longer than this is tested with a ping before use."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model maps one table (no mapping to joins or selects), so say so to the type checker.
    __table__: ClassVar[Table]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, **options: Any) -> Engine:
    # Statement parameters hold names and phone numbers: keep them out of error messages.
    options.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    # A database host that drops packets must not hold a web worker for minutes.
    options.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Test a pooled connection before use only when it sat idle for a while.

    `pool_pre_ping` costs a round trip on every checkout, a tenth of an inbound SMS's.
    A connection in steady use is not pinged: if the server went away meanwhile, the
    first statement fails, SQLAlchemy discards every connection of the pool made
    before that moment, and the caller's next unit of work starts on a new one (the
    inbound webhook retries its message once, see `notifications.inbound`).
    """

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The server may have restarted: the pool discards this connection and every
            # older one, and makes a new one.
            raise InvalidatePoolError(f"pooled connection is gone: {error}") from error


class ReadOnlySessionError(RuntimeError):
    """A write through a read session: the view should use `request_session()`."""


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySessionError(
            "a read session cannot write (it may be on a replica): "
            "write through request_session() instead"
        )


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlySessionError(
            "a read session cannot run INSERT, UPDATE or DELETE (it may be on a replica): "
            "write through request_session() instead"
        )


def _read_only_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.commit()


def read_only_sessionmaker(
    engine: Engine, *, engine_read_only: bool = False
) -> sessionmaker[Session]:
    """Sessions that refuse to write: the ORM refuses a flush or a DML statement, and on
    PostgreSQL every transaction is READ ONLY, so a raw INSERT fails in the server too.
    `engine_read_only`: every connection of `engine` is read-only already."""
    if engine.dialect.name == "postgresql" and not engine_read_only:
        # Each transaction begins READ ONLY; the mode is reset when the connection
        # returns to the pool, so the read sessions share the writers' pool.
        engine = engine.execution_options(postgresql_readonly=True)
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_flush)
    event.listen(factory, "do_orm_execute", _refuse_dml)
    return factory


class Database:
    """One engine and its session factories, owned by the application."""

    def __init__(self, url: str, *, read_only: bool = False, **engine_options: Any) -> None:
        """`read_only`: a replica, whose every connection refuses to write."""
        self.url = url
        self.engine = build_engine(url, **engine_options)
        if read_only and self.is_postgresql:
            # Per connection rather than per transaction: a standby refuses the
            # explicit READ WRITE a pooled connection would otherwise be reset to.
            event.listen(self.engine, "connect", _read_only_connection)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = read_only_sessionmaker(self.engine, engine_read_only=read_only)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session that rolls back whatever the caller did not commit."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def is_reachable(self) -> bool:
        """Whether a connection can be made and answers `SELECT 1`. A pooled connection
        the server dropped (it restarted) is replaced and the question asked again."""
        for _attempt in range(2):
            try:
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return True
            except DBAPIError as error:
                if not error.connection_invalidated:
                    return False
            except SQLAlchemyError:
                return False
        return False

    def dispose(self, *, background_timeout: float = 60.0) -> None:
        """Close the pooled connections, once the engine's background threads are done."""
        if not wait_for_background(self.engine, background_timeout):
            log.warning("disposing the database while a background thread still reads it")
        self.engine.dispose()


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
