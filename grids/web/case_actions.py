"""Closing a case from a page or the API: the account's scope is checked, then the
domain closes it (`grids.escalation.outcomes`) and the channel stops what was unsent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from grids import audit
from grids.accounts.access import Scope
from grids.accounts.models import User
from grids.channel import stop_case_messages
from grids.escalation.models import Escalation
from grids.escalation.outcomes import Closed, close_case
from grids.models import Grid


class CaseHidden(LookupError):
    """No such case, or (`forbidden`) one the account may not see."""

    def __init__(self, code: str, *, forbidden: bool) -> None:
        super().__init__(code)
        self.code = code
        self.forbidden = forbidden


def visible_case(session: Session, scope: Scope, code: str) -> Escalation:
    """The newest case with `code`, if the account may see its grid (admins: any)."""
    case = session.scalar(
        select(Escalation).where(Escalation.code == code).order_by(Escalation.id.desc()).limit(1)
    )
    if case is None:
        # Only admins, who see every case, learn that a code does not exist: to anyone
        # else it is refused as out of scope is, so codes cannot be enumerated.
        raise CaseHidden(code, forbidden=not scope.is_admin)
    if scope.is_admin:
        return case
    grid = session.get(Grid, case.grid_id) if case.grid_id else None
    if grid is None or not scope.can_see_grid(grid):
        raise CaseHidden(code, forbidden=True)
    return case


def display_name(user: User) -> str:
    return user.doctor.name if user.doctor is not None else user.username


def close_as(
    session: Session,
    scope: Scope,
    code: str,
    *,
    outcome: str,
    reason: str,
    via: str,
    now: datetime,
    tz: ZoneInfo,
) -> Closed:
    """`scope.user` closes case `code` with `outcome` (`via`: `web` or `api`)."""
    visible_case(session, scope, code)
    user = scope.user
    closed = close_case(
        session,
        code,
        outcome=outcome,
        reason=reason,
        actor=audit.actor(via, user.username),
        closed_by=display_name(user),
        now=now,
        tz=tz,
    )
    if closed.was_open:
        stop_case_messages(session, closed.escalation.id, now)
    return closed
