"""Recording one follow-up: checked whole before anything is written, the next date by
the national rule (or the doctor's), and a critical reading opening a critical case the
way a coordinator's report does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from dataclasses import field as _default
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from grids import audit
from grids.accounts.access import Scope
from grids.accounts.models import User
from grids.core.notices import Notice
from grids.core.vocabulary import GONE_STATUSES
from grids.escalation.critical import findings
from grids.escalation.critical_cases import CriticalOutcome, report_critical
from grids.escalation.policy import policy_of
from grids.followups import rules
from grids.followups.models import Followup
from grids.models import Patient
from grids.reports.senders import current_grid_of, load_roster

LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "heart_rate": (Decimal(30), Decimal(220)),
    "weight_kg": (Decimal(20), Decimal(300)),
    "height_cm": (Decimal(100), Decimal(230)),
    "glucose_mmol": (Decimal("1.0"), Decimal("40.0")),
    "hba1c": (Decimal("3.0"), Decimal("20.0")),
    "cigarettes_per_day": (Decimal(0), Decimal(100)),
    "alcohol_liang_per_day": (Decimal(0), Decimal(50)),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "method": tuple(rules.Method),
    "classification": tuple(rules.Classification),
    "adherence": tuple(rules.Adherence),
    "hypoglycaemia": tuple(rules.Hypoglycaemia),
    "salt": tuple(rules.Salt),
}


@dataclass
class FollowupInput:
    """One follow-up as typed by the doctor; only member, date and method are required."""

    member_code: str
    visit_date: date
    method: str
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None
    glucose_mmol: Decimal | None = None
    hba1c: Decimal | None = None
    hypoglycaemia: str | None = None
    symptoms: list[str] = field(default_factory=list)
    symptoms_text: str | None = None
    cigarettes_per_day: int | None = None
    alcohol_liang_per_day: int | None = None
    exercise: str | None = None
    salt: str | None = None
    adherence: str | None = None
    adverse_reaction: bool = False
    adverse_text: str | None = None
    classification: str | None = None
    medicines: list[dict[str, str]] = field(default_factory=list)
    referral_reason: str | None = None
    referral_to: str | None = None
    next_due: date | None = None


@dataclass(frozen=True)
class Problem:
    """A bad value: the field, and a catalogue key (with parameters) saying the fix.

    The field is a `FollowupInput` attribute, except `date` (the visit date) and `bp`
    (systolic and diastolic together); each way in names it as its user typed it."""

    field: str
    key: str
    params: dict[str, Any] = _default(default_factory=dict)


class FollowupRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(", ".join(p.field for p in problems))
        self.problems = problems


class NotAllowed(Exception):
    """The user may not record for this member (or there is no such member or user)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class Recorded:
    followup: Followup
    critical: CriticalOutcome
    notices: list[Notice]


_ALIASES = {"visit_date": "date", "systolic": "bp", "diastolic": "bp"}
FIELD_ORDER = {
    name: index
    for index, name in enumerate(
        dict.fromkeys(_ALIASES.get(f.name, f.name) for f in fields(FollowupInput))
    )
}


def check(data: FollowupInput, today: date, unread: Iterable[Problem] = ()) -> list[Problem]:
    """Every problem of `data` at once, with `unread` (values that could not even be
    read, left None in `data`), in the record's field order; nothing is written while
    there is one. A visit date that could not be read is `date.min`."""
    problems: list[Problem] = list(unread)
    if data.visit_date > today:
        problems.append(Problem("date", "followups.error.future", {"today": today.isoformat()}))
    for name, choices in CHOICES.items():
        value = getattr(data, name)
        if value is not None and value not in choices:
            problems.append(
                Problem(
                    name, "followups.error.choice", {"value": value, "choices": "|".join(choices)}
                )
            )
    if (data.systolic is None) != (data.diastolic is None):
        problems.append(Problem("bp", "followups.error.bp", {"value": "-"}))
    elif data.systolic is not None and data.diastolic is not None:
        try:
            rules.parse_bp(f"{data.systolic}/{data.diastolic}")
        except ValueError:
            problems.append(
                Problem("bp", "followups.error.bp", {"value": f"{data.systolic}/{data.diastolic}"})
            )
    for name, (low, high) in LIMITS.items():
        value = getattr(data, name)
        if value is not None and not low <= Decimal(value) <= high:
            problems.append(
                Problem(name, "followups.error.range", {"value": value, "low": low, "high": high})
            )
    unknown = [s for s in data.symptoms if s not in rules.SYMPTOMS]
    if unknown:
        problems.append(
            Problem(
                "symptoms",
                "followups.error.choice",
                {"value": ",".join(unknown), "choices": "|".join(rules.SYMPTOMS)},
            )
        )
    visit_read = data.visit_date != date.min
    if data.next_due is not None and visit_read and data.next_due <= data.visit_date:
        problems.append(
            Problem("next_due", "followups.error.next", {"date": data.visit_date.isoformat()})
        )
    return sorted(problems, key=lambda p: FIELD_ORDER.get(p.field, len(FIELD_ORDER)))


def user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        raise NotAllowed("followups.error.no_user", username=username)
    return user


def member_for(session: Session, user: User, code: str) -> Patient:
    """The member `code` if `user` may record for him: a doctor his own members, a
    township its clinics' members, an admin anyone."""
    patient = session.scalar(select(Patient).where(Patient.code == code))
    if patient is None or not Scope(session, user).can_see_patient(patient):
        raise NotAllowed("followups.error.member", member=code)
    if patient.status in GONE_STATUSES:
        raise NotAllowed("followups.error.gone", member=code, status=str(patient.status))
    return patient


def record_followup(
    session: Session,
    data: FollowupInput,
    *,
    user: User,
    now: datetime,
    settings: Settings,
    unread: Iterable[Problem] = (),
) -> Recorded:
    """Check and add one follow-up (flushed, not committed); the caller hands the
    notices to the channel in the same transaction. `unread`: the problems of values
    that could not even be read, reported with the others."""
    tz: ZoneInfo = settings.tz
    problems = check(data, now.astimezone(tz).date(), unread)
    if problems:
        raise FollowupRefused(problems)
    patient = member_for(session, user, data.member_code)
    grid = current_grid_of(session, patient)
    classification = rules.Classification(data.classification) if data.classification else None
    referred = bool(data.referral_reason or data.referral_to)
    if data.next_due is not None:
        due, reason = data.next_due, rules.Reason.SET
    else:
        due = rules.next_due(data.visit_date, classification, referred=referred)
        reason = rules.rule_reason(classification, referred)
    doctor_id = user.doctor_id if user.role == "doctor" else (grid.doctor_id if grid else None)
    followup = Followup(
        patient_id=patient.id,
        doctor_id=doctor_id,
        grid_id=grid.id if grid else None,
        visit_date=data.visit_date,
        method=data.method,
        symptoms=list(data.symptoms),
        symptoms_text=data.symptoms_text,
        systolic=data.systolic,
        diastolic=data.diastolic,
        heart_rate=data.heart_rate,
        weight_kg=data.weight_kg,
        height_cm=data.height_cm,
        bmi=rules.bmi(data.weight_kg, data.height_cm),
        glucose_mmol=data.glucose_mmol,
        hba1c=data.hba1c,
        hypoglycaemia=data.hypoglycaemia,
        cigarettes_per_day=data.cigarettes_per_day,
        alcohol_liang_per_day=data.alcohol_liang_per_day,
        exercise=data.exercise,
        salt=data.salt,
        adherence=data.adherence,
        adverse_reaction=data.adverse_reaction,
        adverse_text=data.adverse_text,
        classification=data.classification,
        medicines=list(data.medicines),
        referral_reason=data.referral_reason,
        referral_to=data.referral_to,
        next_due=due,
        next_due_reason=str(reason),
        recorded_by=audit.actor("user", user.username),
        recorded_at=now,
    )
    session.add(followup)
    session.flush()
    audit.record(
        session,
        actor=followup.recorded_by,
        action="followup.record",
        entity_type="patient",
        entity_code=patient.code,
        after={"date": data.visit_date.isoformat(), "method": data.method, "next": due.isoformat()},
        at=now,
    )
    critical = _critical(session, patient, grid, followup, now, settings)
    return Recorded(followup, critical, list(critical.notices))


def _critical(
    session: Session,
    patient: Patient,
    grid: Any,
    followup: Followup,
    now: datetime,
    settings: Settings,
) -> CriticalOutcome:
    if grid is None:
        return CriticalOutcome()
    roster = load_roster(session, grid)
    seat = roster.seat_of(patient.id)
    if seat is None:
        return CriticalOutcome()
    found = findings(
        [(seat, followup.systolic, followup.diastolic, followup.glucose_mmol)], settings.critical
    )
    if not found:
        return CriticalOutcome()
    return report_critical(
        session,
        reporter=None,
        roster=roster,
        found=found,
        now=now,
        policy=policy_of(settings),
        can_receive=lambda phone: True,
        source_ref=f"followup:{followup.id}",
    )


def last_followup(session: Session, patient_id: int) -> Followup | None:
    return session.scalar(
        select(Followup)
        .where(Followup.patient_id == patient_id)
        .order_by(Followup.visit_date.desc(), Followup.id.desc())
        .limit(1)
    )
