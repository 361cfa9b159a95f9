"""The application as the tests build it, and emptying its tables between tests."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Flask
from sqlalchemy import text

from grids.storage.background import wait_for_background
from grids.storage.database import Base, Database

PUBLIC_BASE_URL = "https://huzhu.example.org"
TWILIO_ACCOUNT_SID = "AC" + "0" * 32
TWILIO_AUTH_TOKEN = "test-auth-token"
TWILIO_FROM_NUMBER = "+15005550006"


def make_app(database_url: str, **overrides: Any) -> Flask:
    from wsgi import create_app

    settings: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "sms_backend": "memory",
        "public_base_url": PUBLIC_BASE_URL,
        "twilio_account_sid": TWILIO_ACCOUNT_SID,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "twilio_from_number": TWILIO_FROM_NUMBER,
        "sms_rate_per_second": 0.0,
        "inbound_spool_dir": tempfile.mkdtemp(prefix="huzhu-spool-"),
    }
    settings.update(overrides)
    return create_app(settings)


def empty_all_tables(database: Database) -> None:
    # A thread still reading the tables (a hierarchy rebuild of any app of the test)
    # would deadlock with TRUNCATE or read the next test's rows.
    wait_for_background(timeout=60)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_postgresql:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
