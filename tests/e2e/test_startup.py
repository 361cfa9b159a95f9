"""Starting the real entry points with bad settings: a clear reason, a non-zero exit.

`flask --app wsgi ...` and `gunicorn 'wsgi:create_app()'` as separate processes,
with an environment holding only what each case sets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY_MISSING = "SECRET_KEY is not set: production refuses to start without it"


def environment(database_url: str, **variables: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "PYTHONDONTWRITEBYTECODE": "1",
        **variables,
    }


def flask(database_url: str, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=environment(database_url, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"HUZHU_ENV": "production"}, SECRET_KEY_MISSING),
        (
            {"SMS_BACKEND": "twilio"},
            "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
            "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID",
        ),
        ({"SMS_RATE_PER_SECOND": "fast"}, "SMS_RATE_PER_SECOND='fast' is not a float"),
    ],
    ids=["no-secret-key", "twilio-without-credentials", "bad-rate"],
)
def test_the_cli_refuses_bad_settings_with_the_reason_alone(
    database_url: str, variables: dict[str, str], reason: str
) -> None:
    result = flask(database_url, "outbox", "dispatch", "--once", **variables)
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {reason}"), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_gunicorn_refuses_to_start_production_without_a_secret_key(database_url: str) -> None:
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--bind", "127.0.0.1:0", "--workers", "1", "wsgi:create_app()"],
        cwd=ROOT,
        env=environment(database_url, HUZHU_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert SECRET_KEY_MISSING in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://huzhu@127.0.0.1:1/huzhu", "DATABASE_URL names a mysql database"),
        ("postgresql+psycopg2://huzhu@127.0.0.1:1/huzhu", "asks for the psycopg2 driver"),
        ("huzhu.db", "DATABASE_URL is not a database URL"),
    ],
)
def test_a_database_url_huzhu_cannot_use_is_refused_with_the_fix(url: str, reason: str) -> None:
    result = flask(url, "users", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert reason in line and "postgresql+psycopg://" in line, line


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_plain_postgresql_url_is_read_with_the_installed_driver(scheme: str) -> None:
    # Nothing listens on port 1: the one line says the database cannot be reached.
    result = flask(f"{scheme}://nobody:s3cret@127.0.0.1:1/huzhu", "users", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "postgresql+psycopg://nobody:***@127.0.0.1:1/huzhu" in line, line
    assert "s3cret" not in line
