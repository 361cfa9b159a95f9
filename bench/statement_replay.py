"""The statements inbound messages sent, replayed with nothing between them.

`StatementLog` records every statement an engine sends (with the parameters as the
driver got them) and where each transaction ended. `replay` sends the same statements,
in the same order and transactions, through one plain psycopg connection to a copy of
the database as it was before they were first sent, and measures the CPU this takes
in this process and in the PostgreSQL server process. That is what any implementation
writing the same rows with the same statements costs at the least: no ORM, no rules,
no SQLAlchemy, only the driver and the server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from bench.serving import cpu_seconds


@dataclass(frozen=True)
class Sent:
    statement: str
    """SQL as sent, or COMMIT / ROLLBACK ending a transaction."""
    parameters: Any
    many: bool = False


@dataclass(frozen=True)
class ReplayCost:
    messages: int
    statements: int
    transactions: int
    client_cpu_ms: float
    """Per message, in this process: the driver and the socket."""
    server_cpu_ms: float
    """Per message, in the PostgreSQL server process."""


class StatementLog:
    """Records what `engine` sends while active (`with StatementLog(engine) as log`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[Sent] = []

    def _statement(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any
    ) -> None:
        # SQLAlchemy's "insertmanyvalues" sends many rows as one statement with one set
        # of parameters; a list of sets is a true executemany.
        many = isinstance(parameters, list)
        if many:
            parameters = [dict(row) for row in parameters]
        elif isinstance(parameters, dict):
            parameters = dict(parameters)
        self.sent.append(Sent(statement, parameters, many))

    def _commit(self, _conn: Any) -> None:
        self.sent.append(Sent("COMMIT", None))

    def _rollback(self, _conn: Any) -> None:
        self.sent.append(Sent("ROLLBACK", None))

    def _listeners(self) -> list[tuple[str, Any]]:
        return [
            ("before_cursor_execute", self._statement),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]

    def __enter__(self) -> StatementLog:
        for name, listener in self._listeners():
            event.listen(self.engine, name, listener)
        return self

    def __exit__(self, *_exc: object) -> None:
        for name, listener in self._listeners():
            event.remove(self.engine, name, listener)


def conninfo_of(url: str) -> str:
    """A libpq connection string for a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def replay(url: str, sent: list[Sent], messages: int) -> ReplayCost:
    """Send `sent` to the database of `url` through one psycopg connection (which must
    be on this machine: the server's CPU is read from /proc)."""
    statements = transactions = 0
    with psycopg.connect(conninfo_of(url)) as connection:
        server = connection.info.backend_pid
        cursor = connection.cursor()
        client_started, server_started = time.process_time(), cpu_seconds(server)
        for item in sent:
            if item.statement == "COMMIT":
                connection.commit()
                transactions += 1
                continue
            if item.statement == "ROLLBACK":
                connection.rollback()
                transactions += 1
                continue
            statements += 1
            if item.many:
                cursor.executemany(item.statement, item.parameters, returning=True)
                while True:
                    if cursor.description is not None:
                        cursor.fetchall()
                    if not cursor.nextset():
                        break
                continue
            cursor.execute(item.statement, item.parameters or None)
            if cursor.description is not None:
                cursor.fetchall()
        client = time.process_time() - client_started
        server_used = cpu_seconds(server) - server_started
    return ReplayCost(
        messages=messages,
        statements=statements,
        transactions=transactions,
        client_cpu_ms=client * 1000 / messages,
        server_cpu_ms=server_used * 1000 / messages,
    )
