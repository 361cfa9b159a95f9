"""Who may open what: the login gate, role decorators and scope checks.

Every request passes `gate()`: a route is public only when its rule is listed
in `PUBLIC_RULES` (or starts with a webhook prefix, which checks its own
signature or secret path segment); anything else needs a logged-in user (a
session cookie on pages, `Authorization: Bearer TOKEN` on `/api/`). Views then
say which roles may use them with `require_role(...)` and check scope with the
`*_or_403` loaders, which answer 403 whether the thing is out of scope or
does not exist, so nobody learns what lies outside their scope.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from grids.accounts.models import ROLES, User
from grids.models import Doctor, Facility, Grid, Membership, Patient

# Routes anyone may open. Keep in step with tests/e2e/test_route_access.py.
PUBLIC_RULES = frozenset(
    {
        "/",  # county counts only, no personal data
        "/login",
        "/healthz",
        "/static/<path:filename>",
        "/api/v1/openapi.json",
    }
)
# Provider webhooks: each checks a signature (Twilio) or a secret path segment.
WEBHOOK_PREFIXES = ("/sms/", "/voice/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLES_ATTRIBUTE = "__huzhu_roles__"

F = TypeVar("F", bound=Callable[..., Any])


def is_public_rule(rule: str) -> bool:
    return rule in PUBLIC_RULES or rule.startswith(WEBHOOK_PREFIXES)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def require_role(*roles: str) -> Callable[[F], F]:
    """Only users with one of `roles` may call the view; others get 403."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}; use {ROLES}")

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                abort(401)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        setattr(checked, ROLES_ATTRIBUTE, tuple(roles))
        return cast(F, checked)

    return decorate


def any_role(view: F) -> F:
    """Any logged-in user; scope is still checked inside the view."""
    return require_role(*ROLES)(view)


def gate() -> Any:
    """Runs before every request: anonymous users go to the login page, API clients get 401."""
    from grids.accounts import csrf

    rule = request.url_rule
    if rule is None or is_public_rule(rule.rule):
        return None
    if not current_user.is_authenticated:
        if is_api_request():
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if request.method not in SAFE_METHODS and not getattr(current_user, "via_token", False):
        csrf.protect()
    return None


def current() -> User:
    """The logged-in user (a view behind `require_role` always has one)."""
    return cast(User, current_user._get_current_object())


# --- scope -------------------------------------------------------------------


def facility_subtree_ids(session: Session, root_id: int) -> set[int]:
    """The facility and every facility below it (a recursive query, same on both databases)."""
    tree = select(Facility.id).where(Facility.id == root_id).cte("tree", recursive=True)
    tree = tree.union_all(select(Facility.id).where(Facility.parent_id == tree.c.id))
    return set(session.scalars(select(tree.c.id)))


class Scope:
    """What one user may see: everything (admin), a facility subtree (township), a doctor."""

    def __init__(self, session: Session, user: User) -> None:
        self.session = session
        self.user = user
        self._facilities: set[int] | None = None

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    def facility_ids(self) -> set[int] | None:
        """Facilities in scope for a township account; None means all."""
        if self.user.role != "township" or self.user.facility_id is None:
            return None
        if self._facilities is None:
            self._facilities = facility_subtree_ids(self.session, self.user.facility_id)
        return self._facilities

    def can_see_facility(self, facility: Facility) -> bool:
        if self.is_admin:
            return True
        if self.user.role == "township":
            return facility.id in (self.facility_ids() or set())
        return False

    def can_see_doctor(self, doctor: Doctor) -> bool:
        if self.is_admin:
            return True
        if self.user.role == "township":
            return doctor.facility_id in (self.facility_ids() or set())
        return doctor.id == self.user.doctor_id

    def can_see_grid(self, grid: Grid) -> bool:
        if self.is_admin:
            return True
        if self.user.role == "township":
            facilities = self.facility_ids() or set()
            if grid.facility_id in facilities:
                return True
            return grid.doctor is not None and grid.doctor.facility_id in facilities
        return grid.doctor_id is not None and grid.doctor_id == self.user.doctor_id

    def can_see_patient(self, patient: Patient) -> bool:
        if self.is_admin:
            return True
        grid = self.session.scalar(
            select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.patient_id == patient.id, Membership.left_at.is_(None))
        )
        if self.user.role == "township" and patient.facility_id in (self.facility_ids() or set()):
            return True
        return grid is not None and self.can_see_grid(grid)

    def sees_phones(self) -> bool:
        """Unmasked phone numbers: admins, and doctors on their own members' pages."""
        return self.user.role in ("admin", "doctor")


def scope_for(session: Session) -> Scope:
    return Scope(session, current())


def grid_or_403(session: Session, code: str) -> Grid:
    grid = session.scalar(select(Grid).where(Grid.code == code))
    if grid is None or not scope_for(session).can_see_grid(grid):
        _deny(grid is None)
    return cast(Grid, grid)


def doctor_or_403(session: Session, code: str) -> Doctor:
    doctor = session.scalar(select(Doctor).where(Doctor.code == code))
    if doctor is None or not scope_for(session).can_see_doctor(doctor):
        _deny(doctor is None)
    return cast(Doctor, doctor)


def facility_or_403(session: Session, code: str) -> Facility:
    facility = session.scalar(select(Facility).where(Facility.code == code))
    if facility is None or not scope_for(session).can_see_facility(facility):
        _deny(facility is None)
    return cast(Facility, facility)


def patient_or_403(session: Session, code: str) -> Patient:
    patient = session.scalar(select(Patient).where(Patient.code == code))
    if patient is None or not scope_for(session).can_see_patient(patient):
        _deny(patient is None)
    return cast(Patient, patient)


def _deny(missing: bool) -> None:
    # Admins see everything, so telling them "not found" reveals nothing.
    if missing and current().role == "admin":
        abort(404)
    abort(403)
