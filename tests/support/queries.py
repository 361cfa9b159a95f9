"""Reading rows back after the session that wrote them has closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from grids.storage.database import Database
from notifications.models import SmsContact


def count(db: Database, model: type, *where: Any) -> int:
    with db.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def rows(db: Database, model: Any, *where: Any) -> list[Any]:
    order = model.phone if model is SmsContact else model.id
    with db.unit_of_work() as session:
        found = list(session.scalars(select(model).where(*where).order_by(order)))
        session.expunge_all()
        return found
