"""Who hears of an urgent report first.

`escalate` is the hook of the escalation ladder. The escalation issue replaces
its body with the full ladder (village doctor, then the township duty doctor,
then the county hospital, with deadlines and re-sends until someone
acknowledges). Until then it does one step, at once: the grid's village
doctor gets an urgent SMS; a grid with no active doctor, or one whose number
cannot get SMS (opted out, or flagged invalid by the provider), sends it to the
duty phone of the nearest township or community centre above the clinic.

Whether a number can get SMS is the SMS channel's knowledge: the caller passes
it in as `can_receive`. A case whose member is unclear (no seat, or a seat the
grid does not have) names the reporter, so the doctor knows whom to call.

It returns `Notice`s and sends nothing itself; the caller enqueues them in the
same transaction that stored the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from grids.core.limits import URGENT_FORWARD_CHARS, is_e164
from grids.core.notices import Notice
from grids.core.vocabulary import DoctorStatus, FacilityLevel
from grids.models import Doctor, Facility, Grid, Patient, UrgentReport
from i18n import normalise_language, translate

FACILITY_NAME_LIMIT = 12
NAME_LIMIT = 8

DUTY_LEVELS = frozenset({FacilityLevel.TOWNSHIP_CENTER, FacilityLevel.COMMUNITY_CENTER})
RECIPIENT_DOCTOR = "doctor"
RECIPIENT_FACILITY = "facility"

CanReceive = Callable[[str], bool]


def _anyone(_phone: str) -> bool:
    return True


def _reachable(phone: str | None, can_receive: CanReceive | None = None) -> bool:
    if phone is None or not is_e164(phone):
        return False
    return (can_receive or _anyone)(phone)


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def duty_facility(start: Facility | None, can_receive: CanReceive | None = None) -> Facility | None:
    """The nearest township or community centre with a phone above `start`; failing
    that, the nearest facility above it with a phone (the county hospital)."""
    fallback: Facility | None = None
    seen: set[int] = set()
    facility = start.parent if start is not None else None
    while facility is not None and facility.id not in seen:
        seen.add(facility.id)
        if _reachable(facility.phone, can_receive):
            if facility.level in DUTY_LEVELS:
                return facility
            fallback = fallback or facility
        facility = facility.parent
    return fallback


@dataclass(frozen=True)
class Escalation:
    """The first messages about an urgent report, and who they reach."""

    notices: list[Notice] = field(default_factory=list)
    doctor: Doctor | None = None
    """The grid's doctor, when alerted."""
    facility: Facility | None = None
    """The duty facility alerted instead of the doctor."""
    doctor_unreachable: Doctor | None = None
    """The grid's doctor, active but with a number that cannot get SMS."""


def _params(session: Session, urgent: UrgentReport) -> dict[str, str]:
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    patient = session.get(Patient, urgent.patient_id) if urgent.patient_id else None
    reporter = session.get(Patient, urgent.reporter_id) if urgent.reporter_id else None
    return {
        "grid": grid.code if grid else "-",
        "seat": str(urgent.seat) if urgent.seat else "?",
        "name": patient.name if patient else "",
        "text": clip(urgent.text, URGENT_FORWARD_CHARS),
        "code": urgent.code,
        "phone": (reporter.phone if reporter and reporter.phone else "-"),
        "reporter": clip(reporter.name, NAME_LIMIT) if reporter else "-",
    }


def escalate(
    session: Session,
    urgent: UrgentReport,
    now: datetime,
    *,
    default_language: str = "zh_CN",
    can_receive: CanReceive | None = None,
) -> Escalation:
    """The first messages about `urgent`: its grid's doctor, else a duty phone; no
    notices when nobody can be reached (the caller then tells the reporter to call 120)."""
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    params = _params(session, urgent)
    member_known = urgent.patient_id is not None
    doctor = session.get(Doctor, grid.doctor_id) if grid and grid.doctor_id else None
    active = doctor is not None and doctor.status == DoctorStatus.ACTIVE
    if doctor is not None and active and _reachable(doctor.phone, can_receive):
        notice = Notice.to_person(
            doctor,
            key=f"urgent:{urgent.id}:doctor:{doctor.id}",
            template="sms.urgent.doctor" if member_known else "sms.urgent.doctor_unclear",
            params=params,
            urgent=True,
        )
        return Escalation(notices=[notice], doctor=doctor)
    unreachable = doctor if active else None
    start: Facility | None = None
    if grid is not None:
        start = session.get(Facility, grid.facility_id)
    elif urgent.patient_id is not None:
        patient = session.get(Patient, urgent.patient_id)
        start = session.get(Facility, patient.facility_id) if patient else None
    duty = duty_facility(start, can_receive)
    if duty is None or duty.phone is None:
        return Escalation(doctor_unreachable=unreachable)
    language = normalise_language(default_language)
    if unreachable is not None:
        reason = translate(
            "sms.urgent.reason.doctor_unreachable",
            language,
            doctor=clip(unreachable.name, NAME_LIMIT),
        )
    else:
        reason = translate("sms.urgent.reason.no_doctor", language)
    notice = Notice.to_facility(
        duty,
        key=f"urgent:{urgent.id}:facility:{duty.id}",
        language=language,
        template="sms.urgent.duty_member" if member_known else "sms.urgent.duty_unclear",
        params={**params, "facility": clip(duty.name, FACILITY_NAME_LIMIT), "reason": reason},
        urgent=True,
    )
    return Escalation(notices=[notice], facility=duty, doctor_unreachable=unreachable)
