"""The one audit writer and reader: every change a person or a command makes is an
`AuditEntry` with an actor in one format, `kind:name`.

Actor kinds: `cli` (a command run by an operator: `cli:roster.import`), `user` (a web
or API account: `user:wang`), `sms` (a person by their code: `sms:doctor:D001`),
`system` (the scheduler and demo: `system:demo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Date, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grids.models import AuditEntry, ChangeSet, Doctor, Grid, Membership, Patient
from grids.storage.database import UTCDateTime

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


# --- change-sets: compare-and-set application, the record, and undo ---------------------
#
# A change is a plain, JSON-ready dict, applied in order:
#   {"op": "update", "table": "grids", "id": 5, "key": "G01", "field": "doctor_id",
#    "expected": 3, "set": 4}
#   {"op": "insert", "table": "memberships", "id": 77, "key": "P0001", "values": {...}}
#   {"op": "delete", "table": "memberships", "id": 77, "key": "P0001", "values": {...}}
# An update applies only if the row still holds `expected`; a delete only if the row
# still holds `values`. Before application, an insert may carry `"ref": NAME` (the row
# it creates is known by that name) and any id or value may be `{"ref": NAME}`; the
# recorded change holds real ids only.

CHANGE_TABLES: dict[str, Table] = {
    "grids": Grid.__table__,
    "memberships": Membership.__table__,
    "patients": Patient.__table__,
    "doctors": Doctor.__table__,
}


@dataclass(frozen=True)
class Conflict:
    """A row that was not as the change-set expected: what it holds and who changed it."""

    table: str
    row_id: int | None
    key: str | None
    field: str | None
    expected: Any
    actual: Any
    changed_by: int | None = None
    """The later change-set that touched the row, when one did."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "id": self.row_id,
            "key": self.key,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
            "changed_by": self.changed_by,
        }


class ChangeConflict(RuntimeError):
    """A row changed since it was read: nothing of the change-set may be kept."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("; ".join(f"{c.table}:{c.key or c.row_id}:{c.field}" for c in conflicts))
        self.conflicts = conflicts


class UndoRefused(RuntimeError):
    """An undo that cannot be done; `key` and `params` name the catalogue text."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def to_json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _from_json(table: Table, column: str, value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    kind = table.c[column].type
    if isinstance(kind, UTCDateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date) and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _resolve(value: Any, refs: dict[str, int]) -> Any:
    if isinstance(value, dict) and "ref" in value:
        return refs[value["ref"]]
    return value


def _current(session: Session, table: Table, row_id: int, field: str) -> Any:
    return to_json(session.execute(select(table.c[field]).where(table.c.id == row_id)).scalar())


def apply_changes(session: Session, changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply `changes` in order with compare-and-set; return them as recorded (real ids,
    JSON values). Raises `ChangeConflict` at the first row that is not as expected; the
    caller then rolls back, so nothing is half-applied. Never commits.

    Runs of like changes go in one statement each: updates of one column from the same
    value to the same value (`WHERE id IN (...) AND column IS NOT DISTINCT FROM expected`,
    every row must match), and inserts into one table."""
    refs: dict[str, int] = {}
    recorded: list[dict[str, Any]] = []
    index = 0
    while index < len(changes):
        change = changes[index]
        run = [change]
        while index + len(run) < len(changes) and _alike(change, changes[index + len(run)]):
            run.append(changes[index + len(run)])
        index += len(run)
        table = CHANGE_TABLES[change["table"]]
        op = change["op"]
        if op == "update" and len(run) > 1:
            recorded += _update_many(session, table, run)
        elif op == "update":
            recorded.append(_update(session, table, change, refs))
        elif op == "insert" and len(run) > 1:
            recorded += _insert_many(session, table, run, refs)
        elif op == "insert":
            recorded.append(_insert(session, table, change, refs))
        elif op == "delete":
            recorded += [_delete(session, table, one) for one in run]
        else:
            raise ValueError(f"unknown change op {op!r}")
    return recorded


def _has_ref(value: Any) -> bool:
    return isinstance(value, dict) and "ref" in value


def _alike(first: dict[str, Any], other: dict[str, Any]) -> bool:
    if first["op"] != other["op"] or first["table"] != other["table"]:
        return False
    if first["op"] == "update":
        return (
            first["field"] == other["field"]
            and first["expected"] == other["expected"]
            and first["set"] == other["set"]
            and not any(_has_ref(c[k]) for c in (first, other) for k in ("id", "expected", "set"))
        )
    if first["op"] == "insert":
        return (
            not first.get("ref")
            and not other.get("ref")
            and first.get("id") is None
            and (other.get("id") is None)
        )
    return first["op"] == "delete"


def _update_many(session: Session, table: Table, run: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = run[0]
    field = first["field"]
    ids = [change["id"] for change in run]
    expected = _from_json(table, field, first["expected"])
    value = _from_json(table, field, first["set"])
    result = session.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c[field].is_not_distinct_from(expected))
        .values({field: value})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(set(ids)):  # type: ignore[attr-defined]
        matched = set(ids)
        rows = session.execute(select(table.c.id, table.c[field]).where(table.c.id.in_(ids))).all()
        for row_id, actual in rows:
            if to_json(actual) != to_json(value):  # not set by this statement
                matched.discard(row_id)
        missing = next((change for change in run if change["id"] not in matched), run[0])
        raise ChangeConflict(
            [
                Conflict(
                    first["table"],
                    missing["id"],
                    missing.get("key"),
                    field,
                    to_json(expected),
                    _current(session, table, missing["id"], field),
                    _later_change_set(session, first["table"], missing["id"], None),
                )
            ]
        )
    return [
        {
            "op": "update",
            "table": change["table"],
            "id": change["id"],
            "key": change.get("key"),
            "field": field,
            "expected": to_json(expected),
            "set": to_json(value),
        }
        for change in run
    ]


def _insert_many(
    session: Session, table: Table, run: list[dict[str, Any]], refs: dict[str, int]
) -> list[dict[str, Any]]:
    rows = [
        {
            column: _from_json(table, column, _resolve(value, refs))
            for column, value in change["values"].items()
        }
        for change in run
    ]
    try:
        ids = session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).all()
    except IntegrityError as error:
        raise ChangeConflict(
            [Conflict(run[0]["table"], None, run[0].get("key"), None, None, "taken")]
        ) from error
    return [
        {
            "op": "insert",
            "table": change["table"],
            "id": row_id,
            "key": change.get("key"),
            "values": {column: to_json(value) for column, value in values.items()},
        }
        for change, row_id, values in zip(run, ids, rows, strict=True)
    ]


def _update(
    session: Session, table: Table, change: dict[str, Any], refs: dict[str, int]
) -> dict[str, Any]:
    row_id = _resolve(change["id"], refs)
    field = change["field"]
    expected = _from_json(table, field, _resolve(change["expected"], refs))
    value = _from_json(table, field, _resolve(change["set"], refs))
    result = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c[field].is_not_distinct_from(expected))
        .values({field: value})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        actual = _current(session, table, row_id, field)
        raise ChangeConflict(
            [
                Conflict(
                    change["table"],
                    row_id,
                    change.get("key"),
                    field,
                    to_json(expected),
                    actual,
                    _later_change_set(session, change["table"], row_id, None),
                )
            ]
        )
    return {
        "op": "update",
        "table": change["table"],
        "id": row_id,
        "key": change.get("key"),
        "field": field,
        "expected": to_json(expected),
        "set": to_json(value),
    }


def _insert(
    session: Session, table: Table, change: dict[str, Any], refs: dict[str, int]
) -> dict[str, Any]:
    values = {
        column: _from_json(table, column, _resolve(value, refs))
        for column, value in change["values"].items()
    }
    if change.get("id") is not None:
        values["id"] = change["id"]
    try:
        row_id = session.execute(insert(table).values(values).returning(table.c.id)).scalar_one()
    except IntegrityError as error:
        raise ChangeConflict(
            [Conflict(change["table"], values.get("id"), change.get("key"), None, None, "taken")]
        ) from error
    if change.get("ref"):
        refs[change["ref"]] = row_id
    stored = {column: to_json(value) for column, value in values.items() if column != "id"}
    return {
        "op": "insert",
        "table": change["table"],
        "id": row_id,
        "key": change.get("key"),
        "values": stored,
    }


def _delete(session: Session, table: Table, change: dict[str, Any]) -> dict[str, Any]:
    row_id = change["id"]
    values = change["values"]
    checks = [
        table.c[column].is_not_distinct_from(_from_json(table, column, value))
        for column, value in values.items()
    ]
    try:
        result = session.execute(delete(table).where(table.c.id == row_id, *checks))
    except IntegrityError as error:
        raise ChangeConflict(
            [Conflict(change["table"], row_id, change.get("key"), None, None, "referenced")]
        ) from error
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ChangeConflict(
            [
                Conflict(
                    change["table"],
                    row_id,
                    change.get("key"),
                    None,
                    values,
                    None,
                    _later_change_set(session, change["table"], row_id, None),
                )
            ]
        )
    return {**change, "op": "delete"}


def inverse(changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes that put every row back as it was, in reverse order."""
    reversed_changes: list[dict[str, Any]] = []
    for change in reversed(changes):
        if change["op"] == "update":
            reversed_changes.append(
                {**change, "expected": change["set"], "set": change["expected"]}
            )
        elif change["op"] == "insert":
            reversed_changes.append({**change, "op": "delete"})
        else:
            reversed_changes.append({**change, "op": "insert"})
    return reversed_changes


def record_change_set(
    session: Session,
    *,
    actor: str,
    operation: str,
    subject: str | None,
    reason: str | None,
    override: bool,
    changes: list[dict[str, Any]],
    at: datetime,
    undoes: ChangeSet | None = None,
) -> ChangeSet:
    """Write the change-set row (and its line in the audit log) in the caller's transaction."""
    change_set = ChangeSet(
        at=at,
        actor=actor[:ACTOR_LIMIT],
        operation=operation,
        subject=subject,
        reason=reason,
        override=override,
        changes=changes,
        undoes_id=undoes.id if undoes is not None else None,
    )
    session.add(change_set)
    session.flush()
    if undoes is not None:
        undoes.undone_by_id = change_set.id
        session.flush()
    record(
        session,
        actor=actor,
        action=f"admin.{operation}",
        entity_type="change_set",
        entity_code=str(change_set.id),
        after={"subject": subject, "rows": len(changes), "override": override},
        reason=reason,
        at=at,
    )
    return change_set


def change_sets(session: Session, *, limit: int = 100, offset: int = 0) -> list[ChangeSet]:
    """Newest first."""
    query = select(ChangeSet).order_by(ChangeSet.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def change_sets_touching(
    session: Session, table: str, row_id: int, *, limit: int = 50
) -> list[ChangeSet]:
    """The newest change-sets that touched one row (a grid's history)."""
    found: list[ChangeSet] = []
    for change_set in session.scalars(select(ChangeSet).order_by(ChangeSet.id.desc()).limit(2000)):
        if any(c["table"] == table and c["id"] == row_id for c in change_set.changes):
            found.append(change_set)
            if len(found) >= limit:
                break
    return found


def _later_change_set(
    session: Session, table: str, row_id: int | None, after_id: int | None
) -> int | None:
    """The newest change-set (after `after_id`) that touched the row, if any."""
    if row_id is None:
        return None
    query = select(ChangeSet).order_by(ChangeSet.id.desc()).limit(2000)
    if after_id is not None:
        query = query.where(ChangeSet.id > after_id)
    for change_set in session.scalars(query):
        if any(c["table"] == table and c["id"] == row_id for c in change_set.changes):
            return change_set.id
    return None


def undo_changes(session: Session, change_set: ChangeSet) -> list[dict[str, Any]]:
    """Apply the inverse of `change_set` if every row is as it left them.

    Raises `UndoRefused` naming the later change in the way (or that it was undone
    already). Never commits; the caller records the inverse with `record_change_set`.
    """
    if change_set.undone_by_id is not None:
        raise UndoRefused("admin.undo.already", id=change_set.id, by=change_set.undone_by_id)
    try:
        return apply_changes(session, inverse(change_set.changes))
    except ChangeConflict as conflict:
        first = conflict.conflicts[0]
        later = _later_change_set(session, first.table, first.row_id, change_set.id)
        if later is not None:
            raise UndoRefused(
                "admin.undo.later_change", id=change_set.id, later=later, row=first.key or ""
            ) from conflict
        raise UndoRefused(
            "admin.undo.changed_outside", id=change_set.id, row=first.key or ""
        ) from conflict
