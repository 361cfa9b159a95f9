"""Enqueue outbound SMS: every message is an outbox row first, in the caller's transaction.

`enqueue` renders the body from the catalogue and inserts the row with
`INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`, so enqueuing the same
key twice (even from two transactions at once) leaves one row and sends once.
Nothing here commits: the row is written or rolled back with the change that
caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from grids.core.limits import is_e164
from grids.core.notices import Notice
from grids.storage.bulk import insert_many
from i18n import catalogue, normalise_language
from notifications.models import OutboxMessage, OutboxStatus

_BATCH = 1000
CHANNELS = ("sms", "voice")


class TemplateCheck(Protocol):
    def check(self, name: str, language: str, params: Mapping[str, Any]) -> None: ...


_TEMPLATE_POLICIES: WeakKeyDictionary[Engine, TemplateCheck] = WeakKeyDictionary()


def use_template_policy(engine: Engine, policy: TemplateCheck | None) -> None:
    """Check every message queued through `engine` against `policy` (a mainland provider's
    templates), or nothing (None); set when the application is built."""
    if policy is None:
        _TEMPLATE_POLICIES.pop(engine, None)
    else:
        _TEMPLATE_POLICIES[engine] = policy


def template_policy(session: Session) -> TemplateCheck | None:
    """The template rules of the provider that will send what this session queues."""
    if not _TEMPLATE_POLICIES:
        return None
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _TEMPLATE_POLICIES.get(engine)


def render(notice: Notice) -> str:
    """The message text of `notice` in its language; ValueError says what is wrong."""
    language = normalise_language(notice.language)
    texts = catalogue(language)
    if not texts.has(notice.template):
        raise ValueError(
            f"SMS template {notice.template!r} is not in the {language} catalogue: "
            f"add it to i18n/locales/{language}/LC_MESSAGES/messages.po"
        )
    missing = texts.placeholders(notice.template) - set(notice.params)
    if missing:
        raise ValueError(
            f"SMS template {notice.template!r} needs parameters "
            f"{', '.join(sorted(missing))}; notice {notice.key!r} did not give them"
        )
    return texts.text(notice.template, **dict(notice.params))


def row_values(
    notice: Notice, now: datetime, policy: TemplateCheck | None = None
) -> dict[str, Any]:
    """The outbox row for `notice`; raises ValueError for a bad key, phone or template
    (`policy`: also one the provider cannot send)."""
    if not notice.key or len(notice.key) > 200:
        raise ValueError(f"idempotency key {notice.key!r} must be 1-200 characters")
    if notice.channel not in CHANNELS:
        raise ValueError(f"notice {notice.key!r}: channel {notice.channel!r} is not sms or voice")
    if not is_e164(notice.phone):
        raise ValueError(
            f"notice {notice.key!r}: phone {notice.phone!r} is not in E.164 form "
            "(+ country code and number, e.g. +8613912345678); normalise it with "
            "grids.core.phones.normalise_phone first"
        )
    body = render(notice)
    language = normalise_language(notice.language)
    if policy is not None and notice.channel == "sms":
        # A call speaks its rendered text: SMS provider templates do not apply.
        policy.check(notice.template, language, notice.params)
    return {
        "idempotency_key": notice.key,
        "to_phone": notice.phone,
        "recipient_type": notice.recipient_type,
        "recipient_id": notice.recipient_id,
        "template": notice.template,
        "params": dict(notice.params),
        "language": language,
        "body": body,
        "urgent": notice.urgent,
        "channel": notice.channel,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _insert_ignoring_duplicates(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(OutboxMessage)
    elif dialect == "sqlite":
        statement = sqlite.insert(OutboxMessage)
    else:
        raise RuntimeError(f"the outbox supports PostgreSQL and SQLite, not {dialect}")
    return statement.on_conflict_do_nothing(index_elements=["idempotency_key"])


def enqueue(session: Session, notice: Notice, *, now: datetime) -> OutboxMessage | None:
    """Add `notice` to the outbox in the session's transaction (no commit).

    Returns the new row, or None when a row with the same idempotency key exists.
    """
    values = row_values(notice, now, template_policy(session))
    statement = _insert_ignoring_duplicates(session).values(values).returning(OutboxMessage)
    return session.scalars(statement).one_or_none()


def enqueue_many(
    session: Session,
    notices: Iterable[Notice],
    *,
    now: datetime,
    returning: bool = True,
) -> list[OutboxMessage]:
    """Add many notices with bulk INSERT ... ON CONFLICT DO NOTHING; returns the new rows
    (none with `returning=False`, which spares loading them: one statement on PostgreSQL).

    Every notice is checked before anything is inserted, so one bad notice
    inserts none of them.
    """
    rows: dict[str, dict[str, Any]] = {}
    policy = template_policy(session)
    for notice in notices:
        rows.setdefault(notice.key, row_values(notice, now, policy))
    if not rows:
        return []
    values = list(rows.values())
    if not returning:
        insert_many(
            session.connection(),
            OutboxMessage.__table__,
            values,
            skip_conflicts_on=["idempotency_key"],
        )
        return []
    inserted: list[OutboxMessage] = []
    statement = _insert_ignoring_duplicates(session).returning(OutboxMessage)
    for start in range(0, len(values), _BATCH):
        inserted.extend(session.scalars(statement, values[start : start + _BATCH]).all())
    return inserted


def enqueue_count(session: Session, notices: Iterable[Notice], *, now: datetime) -> int:
    """Like `enqueue_many` without reading the rows back: returns how many were new.

    For fan-outs of many thousands of messages (the weekly reminders), where
    returning every row would cost more than inserting it.
    """
    rows: dict[str, dict[str, Any]] = {}
    policy = template_policy(session)
    for notice in notices:
        rows.setdefault(notice.key, row_values(notice, now, policy))
    values = list(rows.values())
    # RETURNING the ids counts the new rows on every driver (an executemany's rowcount
    # is not reliable); ids are cheap to return where whole rows are not.
    statement = _insert_ignoring_duplicates(session).returning(OutboxMessage.__table__.c.id)
    connection = session.connection()
    added = 0
    for start in range(0, len(values), _BATCH):
        added += len(connection.execute(statement, values[start : start + _BATCH]).all())
    return added
