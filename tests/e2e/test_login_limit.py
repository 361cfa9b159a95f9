"""The login limit holds per username and per address, also when guesses arrive together."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from grids.accounts.login_limit import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USERNAME
from grids.accounts.models import LoginAttempt
from grids.storage.session import database_of
from tests.support.accounts import PASSWORD, csrf_token, make_user

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _client(app: Flask, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _post(client: Any, username: str, password: str) -> int:
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"username": username, "password": password, "csrf_token": token}
    return int(client.post("/login", data=data).status_code)


def _checked(app: Flask) -> int:
    """Attempts whose password was actually compared."""
    with database_of(app).unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(LoginAttempt)) or 0


def _in_parallel(app: Flask, guesses: list[tuple[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(guesses))
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(username: str, address: str) -> None:
        client = _client(app, address)
        token = csrf_token(client.get("/login").get_data(as_text=True))
        barrier.wait()
        data = {"username": username, "password": "wrong password!", "csrf_token": token}
        status = client.post("/login", data=data).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=pair) for pair in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.mark.postgres
def test_parallel_guesses_for_one_user_check_at_most_the_limit(app: Flask, session) -> None:
    make_user(session, "bureau", "admin")
    session.commit()
    statuses = _in_parallel(app, [("bureau", "10.0.0.1")] * 30)
    assert len(statuses) == 30
    assert statuses.count(401) <= MAX_FAILURES_PER_USERNAME
    assert set(statuses) <= {401, 429}
    assert _checked(app) <= MAX_FAILURES_PER_USERNAME


@pytest.mark.postgres
def test_parallel_guesses_from_one_address_check_at_most_the_limit(app: Flask) -> None:
    guesses = [(f"user{n}", "10.0.0.2") for n in range(MAX_FAILURES_PER_ADDRESS + 10)]
    statuses = _in_parallel(app, guesses)
    assert statuses.count(401) <= MAX_FAILURES_PER_ADDRESS
    assert _checked(app) <= MAX_FAILURES_PER_ADDRESS


def test_the_limit_per_user_and_per_address_one_after_another(app: Flask, session) -> None:
    make_user(session, "bureau", "admin")
    make_user(session, "clinic", "admin")
    session.commit()
    with time_machine.travel(NOW, tick=False) as clock:
        attacker = _client(app, "10.0.0.3")
        statuses = [_post(attacker, "bureau", "wrong password!") for _ in range(7)]
        assert statuses == [401] * MAX_FAILURES_PER_USERNAME + [429, 429]
        # Blocked means not checked: the right password does not get in either.
        assert _post(_client(app, "10.0.0.4"), "bureau", PASSWORD) == 429
        assert _checked(app) == MAX_FAILURES_PER_USERNAME
        # Another user from another address is not affected; a success costs nothing.
        other = _client(app, "10.0.0.5")
        assert [_post(other, "clinic", PASSWORD) for _ in range(7)] == [302] * 7

        # Per address: many usernames from one address.
        sprayer = _client(app, "10.0.0.6")
        tries = range(MAX_FAILURES_PER_ADDRESS + 2)
        sprayed = [_post(sprayer, f"user{n}", "x" * 12) for n in tries]
        assert sprayed == [401] * MAX_FAILURES_PER_ADDRESS + [429, 429]

        clock.shift(timedelta(minutes=16))
        assert _post(_client(app, "10.0.0.7"), "bureau", PASSWORD) == 302
        assert _post(sprayer, "user0", "x" * 12) == 401
