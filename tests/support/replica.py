"""Replicas for tests: a frozen copy of the test database (a replica whose replay is
paused), and a real PostgreSQL primary with a streaming replica, started and removed
by the test.

The clusters are the test's own (in a temporary directory, on free ports); the
server on 5432 is never touched. As root, the server binaries run as the
`postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from grids.storage.database import Database
from tests.support.postgres import create_postgres_database, drop_postgres_database
from tests.support.servers import free_port

SERVER_PROGRAMS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
CATCH_UP_SECONDS = 15.0


def frozen_copy(database: Database, suffix: str = "frozen") -> str:
    """A copy of the database as it is now, standing for a replica whose replay is
    paused; returns its URL. On PostgreSQL the pool of `database` is emptied first
    (a database is copied only while nobody is connected to it)."""
    url = make_url(database.url)
    database.dispose()
    if database.is_postgresql:
        return create_postgres_database(
            database.url, f"{url.database}_{suffix}", copy_of=url.database
        )
    assert url.database
    source = Path(url.database)
    target = source.with_name(f"{source.stem}-{suffix}.db")
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    original.close()
    copy.close()
    return f"sqlite:///{target}"


def drop_copy(copy_url: str) -> None:
    url = make_url(copy_url)
    if url.get_backend_name() == "postgresql":
        assert url.database
        drop_postgres_database(copy_url, url.database)
    elif url.database:
        for path in Path(url.database).parent.glob(Path(url.database).name + "*"):
            path.unlink(missing_ok=True)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian's layout), if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / program).exists() for program in SERVER_PROGRAMS):
            return directory
    return None


@dataclass(frozen=True)
class Cluster:
    data_dir: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, statement: str) -> object:
        """One statement in autocommit; its first value, if it returns rows."""
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                result = connection.execute(text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()


@dataclass(frozen=True)
class StreamingPair:
    primary: Cluster
    replica: Cluster
    workdir: Path

    def pause_replay(self) -> None:
        self.replica.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.replica.execute("SELECT pg_wal_replay_resume()")

    def catch_up(self, timeout_s: float = CATCH_UP_SECONDS) -> None:
        """Wait until the replica has replayed everything the primary wrote so far."""
        target = self.primary.execute("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout_s
        while not self.replica.execute(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target} in {timeout_s} s")
            time.sleep(0.05)


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _run(command: list[str]) -> None:
    done = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout}")


def _configure(data_dir: Path, port: int, socket_dir: Path, *more: str) -> None:
    settings = [
        f"port = {port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{socket_dir}'",
        "fsync = off",
        "max_connections = 40",
        "shared_buffers = 16MB",
        *more,
    ]
    with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n" + "\n".join(settings) + "\n")


@contextmanager
def streaming_pair(bindir: Path) -> Iterator[StreamingPair]:
    """A primary and a hot-standby replica streaming from it, each on a free port;
    stopped and deleted afterwards, whatever happened."""
    workdir = Path(tempfile.mkdtemp(prefix="huzhu-replica-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    primary = Cluster(workdir / "primary", free_port())
    replica = Cluster(workdir / "replica", free_port())
    started: list[Cluster] = []
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(primary.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        _configure(primary.data_dir, primary.port, workdir, "wal_level = replica")
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(primary.data_dir),
                "-l",
                str(workdir / "primary.log"),
                "-w",
                "start",
            ]
        )
        started.append(primary)
        _run(
            [
                str(bindir / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.data_dir),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ]
        )
        _configure(replica.data_dir, replica.port, workdir, "hot_standby = on")
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(replica.data_dir),
                "-l",
                str(workdir / "replica.log"),
                "-w",
                "start",
            ]
        )
        started.append(replica)
        yield StreamingPair(primary, replica, workdir)
    finally:
        for cluster in reversed(started):
            subprocess.run(
                _as_server_user(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(cluster.data_dir),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)
