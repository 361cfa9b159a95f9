"""`partitions-ahead` and `raw-text-retention`: keeping the history tables in shape
(docs/partitions.md). Both are idempotent; the first does nothing on SQLite."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from grids.storage.database import Database
from grids.storage.partitions import MONTHS_AHEAD, ensure_months, months_from
from notifications.retention import redact_raw_text
from scheduling.jobs.common import JobResult


def partitions_ahead(database: Database, settings: Settings, now: datetime) -> JobResult:
    """Create this month's partitions and the next MONTHS_AHEAD months' where missing."""
    with database.engine.begin() as connection:
        created = ensure_months(connection, months_from(now, MONTHS_AHEAD))
    return JobResult(note=f"{len(created)} partitions created")


def raw_text_retention(database: Database, settings: Settings, now: datetime) -> JobResult:
    """Reduce outbox and inbound rows older than RAW_TEXT_RETENTION_DAYS."""
    with database.unit_of_work() as session:
        redacted = redact_raw_text(session, now, settings.raw_text_retention_days)
    return JobResult(note=f"{redacted.inbound} inbound, {redacted.outbox} outbox rows reduced")
