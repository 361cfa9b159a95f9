"""A local, durable journal of inbound SMS that the database could not take.

When PostgreSQL is unreachable, the webhook appends the message to
`instance/spool/inbound.jsonl` (one JSON line; written and fsync'd before Twilio
gets its answer) and answers honestly. A thread of the web process replays the
journal into the database every few seconds until it is empty: within
`RETRY_SECONDS` of the database's return, with no other process involved.
Replay goes through the inbound service, so a message already stored (same
MessageSid) changes nothing. The journal is emptied only once every line in it
has been stored; a replay cut short drops the lines it stored and repeats the
rest harmlessly.

A message that keeps failing while the database answers (a poison message) must
not hold up the ones after it: after `MAX_ATTEMPTS` failed replays it is moved to
`failed/inbound.jsonl` beside the journal, with an error in the log naming its
MessageSid, and the replay goes on. Failures while the database is unreachable
are not counted.

Several web processes share one journal: appends and replays hold an exclusive
`flock` on it, so lines never interleave and never vanish under a replay.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

JOURNAL_NAME = "inbound.jsonl"
REPLAY_LOCK_NAME = "inbound.replay.lock"
ATTEMPTS_NAME = "inbound.attempts.json"
FAILED_DIRECTORY = "failed"
MAX_ATTEMPTS = 5
"""Failed replays (with the database reachable) before a message is moved aside."""
RETRY_SECONDS = 5.0
"""How often a process with a non-empty journal tries the database again."""


class SpoolUnavailable(Exception):
    """The journal could not be written: the message is kept nowhere."""


@dataclass(frozen=True)
class Spooled:
    params: dict[str, str]
    received_at: datetime

    @property
    def message_sid(self) -> str:
        return (self.params.get("MessageSid") or self.params.get("SmsSid") or "").strip()


@dataclass(frozen=True)
class _Line:
    entry: Spooled
    raw: bytes
    end: int
    """Offset just past this line in the journal."""


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / JOURNAL_NAME
        self.failed_path = self.directory / FAILED_DIRECTORY / JOURNAL_NAME
        self._attempts_path = self.directory / ATTEMPTS_NAME

    @contextmanager
    def _locked(self, flags: int) -> Iterator[int]:
        descriptor = os.open(self.path, flags | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield descriptor
        finally:
            os.close(descriptor)

    def append(self, params: dict[str, str], received_at: datetime) -> None:
        """Write one message durably (fsync'd) or raise `SpoolUnavailable`."""
        line = json.dumps(
            {"params": params, "received_at": received_at.isoformat()}, ensure_ascii=False
        )
        data = (line + "\n").encode("utf-8")
        try:
            new = not self.path.exists()
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._locked(os.O_RDWR | os.O_APPEND) as descriptor:
                size = os.fstat(descriptor).st_size
                if size and os.pread(descriptor, 1, size - 1) != b"\n":
                    data = b"\n" + data  # after a line torn by a crash, start afresh
                written = 0
                while written < len(data):
                    written += os.write(descriptor, data[written:])
                os.fsync(descriptor)
            if new:
                _fsync_directory(self.directory)
        except OSError as error:
            raise SpoolUnavailable(f"could not write {self.path}: {error}") from error

    def is_empty(self) -> bool:
        try:
            return self.path.stat().st_size == 0
        except FileNotFoundError:
            return True
        except OSError as error:
            log.error("spool %s cannot be read: %s", self.path, error)
            return True

    def pending(self) -> list[Spooled]:
        if self.is_empty():
            return []
        with self._locked(os.O_RDONLY) as descriptor:
            return [line.entry for line in _parse(_read_all(descriptor))]

    def replay(
        self, store: Callable[[Spooled], Any], reachable: Callable[[], bool] = lambda: True
    ) -> int:
        """Hand every journalled message to `store`, oldest first, dropping each line once
        stored.

        An exception from `store` stops the replay and keeps that message and the ones
        after it (storing is idempotent by MessageSid, so the next try repeats
        harmlessly); when `reachable()` still holds, the failure is counted against
        that message, which is moved aside after `MAX_ATTEMPTS`. One replay at a time
        across processes; the journal itself is locked only to read it and to drop the
        stored lines, so webhooks appending meanwhile are not held up by the database.
        Returns how many messages were stored.
        """
        if self.is_empty():
            return 0
        replay_lock = os.open(self.directory / REPLAY_LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(replay_lock, fcntl.LOCK_EX)
            with self._locked(os.O_RDONLY) as descriptor:
                data = _read_all(descriptor)
            lines = _parse(data)
            attempts = self._read_attempts()
            done = 0
            stored = 0
            try:
                for line in lines:
                    key = line.entry.message_sid or line.raw.decode("utf-8", "replace")
                    try:
                        store(line.entry)
                        stored += 1
                    except Exception as error:
                        if not self._poison(line, key, attempts, error, reachable):
                            log.warning(
                                "spool replay stopped after %d of %d messages; kept for the "
                                "next try",
                                stored,
                                len(lines),
                            )
                            raise
                    attempts.pop(key, None)
                    done = line.end
                done = len(data)
            finally:
                self._write_attempts(attempts)
                if done:
                    self._drop_first(done)
            return stored
        finally:
            os.close(replay_lock)

    def _poison(
        self,
        line: _Line,
        key: str,
        attempts: dict[str, int],
        error: Exception,
        reachable: Callable[[], bool],
    ) -> bool:
        """Count a failure to store `line` with the database reachable; move the message
        aside (True) once it has failed `MAX_ATTEMPTS` times."""
        try:
            counts = reachable()
        except Exception:
            counts = False
        if not counts:
            return False
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < MAX_ATTEMPTS:
            return False
        self.failed_path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked_file(self.failed_path) as descriptor:
            data = line.raw + b"\n"
            written = 0
            while written < len(data):
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        log.error(
            "spool: inbound SMS %s failed %d replays with the database reachable (%s); "
            "moved to %s so the messages after it are replayed",
            line.entry.message_sid or "(no MessageSid)",
            attempts[key],
            type(error).__name__,
            self.failed_path,
        )
        return True

    @contextmanager
    def _locked_file(self, path: Path) -> Iterator[int]:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield descriptor
        finally:
            os.close(descriptor)

    def _drop_first(self, size: int) -> None:
        """Drop the first `size` bytes of the journal (lines stored or moved aside)."""
        with self._locked(os.O_RDWR) as descriptor:
            rest = _read_all(descriptor)[size:]
            os.lseek(descriptor, 0, os.SEEK_SET)
            written = 0
            while written < len(rest):
                written += os.write(descriptor, rest[written:])
            os.ftruncate(descriptor, len(rest))
            os.fsync(descriptor)

    def _read_attempts(self) -> dict[str, int]:
        try:
            counts = json.loads(self._attempts_path.read_text("utf-8"))
            return {str(key): int(value) for key, value in counts.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError) as error:
            log.warning(
                "spool attempt counts %s unreadable (%s); counting afresh",
                self._attempts_path,
                error,
            )
            return {}

    def _write_attempts(self, attempts: dict[str, int]) -> None:
        try:
            if attempts:
                self._attempts_path.write_text(json.dumps(attempts), "utf-8")
            else:
                self._attempts_path.unlink(missing_ok=True)
        except OSError as error:
            log.warning("spool attempt counts %s not saved: %s", self._attempts_path, error)


def _read_all(descriptor: int) -> bytes:
    os.lseek(descriptor, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(descriptor, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(data: bytes) -> list[_Line]:
    lines = []
    end = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        end += len(raw) + 1
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
            entry = Spooled(
                params={str(k): str(v) for k, v in record["params"].items()},
                received_at=datetime.fromisoformat(record["received_at"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            # Only a write cut short by a crash leaves a torn line; its sender was never
            # answered 200, so Twilio sent it to the fallback URL.
            log.error("spool line %d is not a complete record; skipped", number)
            continue
        lines.append(_Line(entry, raw, min(end, len(data))))
    return lines


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- the replaying thread of a web process ---

_replayers: dict[Path, threading.Thread] = {}
_replayers_lock = threading.Lock()
_stopping = threading.Event()


def stop_replaying(timeout: float = 10.0) -> None:
    """Stop this process's replay threads (a test's application going away)."""
    with _replayers_lock:
        threads = list(_replayers.values())
        _stopping.set()
    for thread in threads:
        thread.join(timeout)
    with _replayers_lock:
        _replayers.clear()
        _stopping.clear()


def ensure_replaying(
    spool: Spool, store: Callable[[Spooled], Any], ready: Callable[[], bool] = lambda: True
) -> None:
    """Start this process's replay thread for `spool` unless one runs; it stops itself
    once the journal is empty."""
    with _replayers_lock:
        running = _replayers.get(spool.path)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(
            target=_replay_until_empty,
            args=(spool, store, ready),
            name=f"spool-replay:{spool.path}",
            daemon=True,
        )
        _replayers[spool.path] = thread
        thread.start()


def _replay_until_empty(
    spool: Spool, store: Callable[[Spooled], Any], ready: Callable[[], bool]
) -> None:
    while True:
        if _stopping.wait(RETRY_SECONDS):
            return
        try:
            if not ready():
                continue
            replayed = spool.replay(store, reachable=ready)
            if replayed:
                log.info("spool: %d inbound messages stored after the database returned", replayed)
        except Exception as error:
            log.info("spool: database still unavailable (%s)", type(error).__name__)
        with _replayers_lock:
            if spool.is_empty():
                _replayers.pop(spool.path, None)
                return
