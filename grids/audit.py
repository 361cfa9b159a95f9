"""The one audit writer and reader: every change a person or a command makes is an
`AuditEntry` with an actor in one format, `kind:name`.

Actor kinds: `cli` (a command run by an operator: `cli:roster.import`), `user` (a web
or API account: `user:wang`), `sms` (a person by their code: `sms:doctor:D001`),
`system` (the scheduler and demo: `system:demo`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.models import AuditEntry

ACTOR_LIMIT = 80


def actor(kind: str, *names: str) -> str:
    """`actor("sms", "doctor", "D001")` → `sms:doctor:D001` (clipped to the column)."""
    return ":".join((kind, *names))[:ACTOR_LIMIT]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one audit entry to the caller's transaction; committed with the change."""
    entry = AuditEntry(
        actor=actor[:ACTOR_LIMIT],
        action=action,
        entity_type=entity_type,
        entity_code=entity_code,
        before=before,
        after=after,
        reason=reason,
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    return entry


def entries(session: Session, *, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """The newest entries first, optionally of one action."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
