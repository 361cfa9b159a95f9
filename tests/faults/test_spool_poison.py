"""A spooled message that keeps failing while the database answers does not hold up the
messages after it: it is moved aside, named in the log, and the rest are replayed."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifications.spool import MAX_ATTEMPTS, Spool, Spooled

pytestmark = pytest.mark.faults

AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
POISON = "SM" + "b" * 32


def spool_of(tmp_path: Path, *sids: str) -> Spool:
    spool = Spool(tmp_path / "spool")
    for sid in sids:
        spool.append({"MessageSid": sid, "From": "+8613912345678", "Body": "好"}, AT)
    return spool


def storing(stored: list[str], refuse: str = POISON):
    def store(entry: Spooled) -> None:
        if entry.message_sid == refuse:
            raise RuntimeError("this message cannot be stored")
        stored.append(entry.message_sid)

    return store


def test_a_message_that_keeps_failing_is_moved_aside_and_the_rest_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, last = "SM" + "a" * 32, "SM" + "c" * 32
    spool = spool_of(tmp_path, first, POISON, last)
    stored: list[str] = []

    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RuntimeError):
            spool.replay(storing(stored))
    # The message before the failing one was stored once and left the journal.
    assert stored == [first]
    assert [entry.message_sid for entry in spool.pending()] == [POISON, last]

    with caplog.at_level(logging.ERROR, logger="notifications.spool"):
        assert spool.replay(storing(stored)) == 1
    assert stored == [first, last]
    assert spool.is_empty()
    [kept] = spool.failed_path.read_text("utf-8").splitlines()
    assert json.loads(kept)["params"]["MessageSid"] == POISON
    assert any(POISON in record.getMessage() for record in caplog.records)

    # A message spooled later replays as usual.
    spool.append({"MessageSid": "SM" + "d" * 32, "From": "+8613912345678", "Body": "好"}, AT)
    assert spool.replay(storing(stored)) == 1
    assert spool.failed_path.read_text("utf-8").splitlines() == [kept]


def test_failures_while_the_database_is_unreachable_never_move_a_message_aside(
    tmp_path: Path,
) -> None:
    spool = spool_of(tmp_path, POISON, "SM" + "c" * 32)
    for _ in range(MAX_ATTEMPTS * 2):
        with pytest.raises(RuntimeError):
            spool.replay(storing([]), reachable=lambda: False)
    assert len(spool.pending()) == 2
    assert not spool.failed_path.exists()
