"""Enqueue outbound SMS: every message is an outbox row first, in the caller's transaction.

`enqueue` renders the body from the catalogue and inserts the row with
`INSERT ... ON CONFLICT DO NOTHING` (on PostgreSQL the partitioned outbox keeps its
keys in `outbox_keys`, whose trigger skips a taken key; docs/partitions.md), so
enqueuing the same key twice (even from two transactions at once) leaves one row
and sends once.
Nothing here commits: the row is written or rolled back with the change that
caused it.

`enqueue_broadcasts` is the fan-out path (the weekly reminders): one text per
(template, language, parameters) rendered and checked once, many recipients;
on PostgreSQL the rows go in with `COPY` (docs/outbox.md, "Fan-out").
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, Engine, Insert, String, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from grids.core.limits import E164, is_e164
from grids.core.notices import SMS, VOICE, Notice
from grids.storage.bulk import insert_many
from i18n import catalogue, normalise_language
from notifications.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

_BATCH = 1000
CHANNELS = (SMS, VOICE)


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
    if policy is not None:
        # SMS and `voice.*` templates are checked against their own backend's templates
        # (`ChannelTemplates`); a call through Twilio speaks its rendered text.
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
        "next_attempt_at": max(now, notice.not_before) if notice.not_before else now,
        "created_at": now,
        "updated_at": now,
    }


def _insert_ignoring_duplicates(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # No conflict target: the outbox is partitioned, and its keys' companion table
        # skips a row whose key is taken (docs/partitions.md).
        return postgresql.insert(OutboxMessage).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(OutboxMessage).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
    raise RuntimeError(f"the outbox supports PostgreSQL and SQLite, not {dialect}")


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
    return _insert_counting(session, list(rows.values()))


def _insert_counting(session: Session, values: list[dict[str, Any]]) -> int:
    """Insert `values` in batches, skipping keys already queued; returns how many were new."""
    # RETURNING the ids counts the new rows on every driver (an executemany's rowcount
    # is not reliable); ids are cheap to return where whole rows are not.
    statement = _insert_ignoring_duplicates(session).returning(OutboxMessage.__table__.c.id)
    connection = session.connection()
    added = 0
    for start in range(0, len(values), _BATCH):
        added += len(connection.execute(statement, values[start : start + _BATCH]).all())
    return added


@dataclass(frozen=True)
class Broadcast:
    """One message text to many people: the same template, language and parameters.

    `recipients` are (idempotency key, E.164 phone, recipient id) triples.
    """

    template: str
    language: str
    params: Mapping[str, Any]
    recipients: Sequence[tuple[str, str, int | None]]
    recipient_type: str | None = None
    urgent: bool = False
    channel: str = "sms"


BROADCAST_COLUMNS = (
    "idempotency_key",
    "to_phone",
    "recipient_type",
    "recipient_id",
    "template",
    "params",
    "language",
    "body",
    "urgent",
    "channel",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)


def _checked(
    broadcasts: Iterable[Broadcast], now: datetime, policy: TemplateCheck | None
) -> Iterator[tuple[Broadcast, tuple[Any, ...]]]:
    """Each broadcast with recipients, with the values its rows share (BROADCAST_COLUMNS
    from `template` on; JSON and timestamps as text), each text rendered and checked
    once; raises ValueError at the first bad key, phone or template."""
    bodies: dict[tuple[str, str, str, str, bool], str] = {}
    matches = E164.fullmatch
    moment = now.astimezone(UTC).isoformat()
    for broadcast in broadcasts:
        if not broadcast.recipients:
            continue
        params = dict(broadcast.params)
        params_json = json.dumps(params)
        text = (
            broadcast.template,
            broadcast.language,
            params_json,
            broadcast.channel,
            broadcast.urgent,
        )
        body = bodies.get(text)
        if body is None:
            # Checked and rendered as one notice would be (the first recipient's).
            key, phone, recipient_id = broadcast.recipients[0]
            first = Notice(
                key=key,
                phone=phone,
                language=broadcast.language,
                template=broadcast.template,
                params=params,
                urgent=broadcast.urgent,
                recipient_type=broadcast.recipient_type,
                recipient_id=recipient_id,
                channel=broadcast.channel,
            )
            body = bodies[text] = row_values(first, now, policy)["body"]
        for key, phone, _ in broadcast.recipients:
            if not key or len(key) > 200:
                raise ValueError(f"idempotency key {key!r} must be 1-200 characters")
            if not phone or matches(phone) is None:
                raise ValueError(
                    f"notice {key!r}: phone {phone!r} is not in E.164 form "
                    "(+ country code and number, e.g. +8613912345678)"
                )
        yield (
            broadcast,
            (
                broadcast.template,
                params_json,
                normalise_language(broadcast.language),
                body,
                broadcast.urgent,
                broadcast.channel,
                OutboxStatus.PENDING.value,
                0,
                moment,
                moment,
                moment,
            ),
        )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPING = re.compile(r"[\\\t\n\r]").search
_NULL = "\\N"


def _copy_text(value: object) -> str:
    """`value` as a field of COPY's text format."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.translate(_COPY_ESCAPES) if _NEEDS_ESCAPING(text) else text


def _copy_data(checked: Iterable[tuple[Broadcast, tuple[Any, ...]]]) -> Iterator[bytes]:
    """COPY text-format lines, one chunk per broadcast: the shared values are escaped
    once, then each recipient's key, phone and id go in front (a phone checked as
    E.164 and an integer id need no escaping)."""
    for broadcast, shared in checked:
        tail = "\t".join(_copy_text(value) for value in shared)
        kind = _copy_text(broadcast.recipient_type)
        yield "".join(
            [
                f"{key.translate(_COPY_ESCAPES) if _NEEDS_ESCAPING(key) else key}\t{phone}"
                f"\t{kind}\t{_NULL if rid is None else rid}\t{tail}\n"
                for key, phone, rid in broadcast.recipients
            ]
        ).encode()


def enqueue_broadcasts(session: Session, broadcasts: Sequence[Broadcast], *, now: datetime) -> int:
    """Add every recipient's message of `broadcasts`; returns how many rows were new
    (a key already queued adds nothing). No commit.

    A bad key, phone or template raises ValueError and inserts none of them. On
    PostgreSQL the rows are streamed into the outbox with `COPY` (psycopg sends
    them from a thread while the next ones are built) when none of them can be
    there yet; otherwise, or when another transaction queued some meanwhile (the
    `COPY` fails on the unique key and is rolled back to a savepoint), they are
    copied into a temporary table and inserted from it with `ON CONFLICT DO NOTHING`
    (a taken key is skipped by the outbox keys' trigger, docs/partitions.md). On
    SQLite they are inserted in batches like `enqueue_count`.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware datetime (UTC)")
    policy = template_policy(session)
    if session.get_bind().dialect.name == "postgresql":
        return _copy_broadcasts(session, broadcasts, now, policy)
    values = []
    for broadcast, shared in _checked(broadcasts, now, policy):
        for key, phone, recipient_id in broadcast.recipients:
            row = (key, phone, broadcast.recipient_type, recipient_id, *shared)
            value = dict(zip(BROADCAST_COLUMNS, row, strict=True))
            value.update(params=json.loads(shared[1]), next_attempt_at=now, created_at=now)
            value.update(updated_at=now)
            values.append(value)
    return _insert_counting(session, values)


def _copy_broadcasts(
    session: Session, broadcasts: Sequence[Broadcast], now: datetime, policy: TemplateCheck | None
) -> int:
    columns = ", ".join(BROADCAST_COLUMNS)
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)

    def copy_into(table: str) -> int:
        with driver.cursor() as cursor:
            statement = f"COPY {table} ({columns}) FROM STDIN"
            with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
                for data in _copy_data(_checked(broadcasts, now, policy)):
                    copy.write(data)
            # COPY's count leaves out a row whose key was taken meanwhile, which the
            # outbox keys' trigger skipped (docs/partitions.md).
            copied = cursor.rowcount
        return copied if copied >= 0 else sum(len(b.recipients) for b in broadcasts)

    if not _any_queued(session, broadcasts):
        # A savepoint of our own on the driver's connection, around the COPY only.
        with driver.cursor() as cursor:
            cursor.execute("SAVEPOINT outbox_broadcast")
        try:
            copied = copy_into("outbox")
        except BaseException as error:
            with driver.cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT outbox_broadcast")
            if not isinstance(error, psycopg.errors.UniqueViolation):
                raise
            log.info("outbox: some of the broadcast keys were queued meanwhile")
        else:
            with driver.cursor() as cursor:
                cursor.execute("RELEASE SAVEPOINT outbox_broadcast")
            return copied
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS outbox_broadcast ({_STAGING_COLUMNS}) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE outbox_broadcast")
    copy_into("outbox_broadcast")
    with driver.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO outbox ({columns}) SELECT {columns} FROM outbox_broadcast "
            "ON CONFLICT DO NOTHING"
        )
        added = cursor.rowcount
        cursor.execute("TRUNCATE outbox_broadcast")
    return added


_STAGING_COLUMNS = (
    "idempotency_key varchar(200), to_phone varchar(20), recipient_type varchar(16), "
    "recipient_id integer, template varchar(80), params json, language varchar(8), "
    "body text, urgent boolean, channel varchar(8), status varchar(16), attempts integer, "
    "next_attempt_at timestamptz, created_at timestamptz, updated_at timestamptz"
)


def _any_queued(session: Session, broadcasts: Sequence[Broadcast]) -> bool:
    """Whether a sample of the keys (each broadcast's first, and the very last) is in
    the outbox already: a re-run or an overlapping run, where COPY would fail."""
    sample = [b.recipients[0][0] for b in broadcasts if b.recipients]
    if not sample:
        return False
    sample.append(next(b.recipients[-1][0] for b in reversed(broadcasts) if b.recipients))
    outbox = OutboxMessage.__table__
    keys = bindparam("keys", sample, type_=postgresql.ARRAY(String))
    statement = select(outbox.c.id).where(outbox.c.idempotency_key == any_(keys)).limit(1)
    return session.execute(statement).first() is not None
