"""Who hears of an urgent report first.

`escalate` is the hook of the escalation ladder. The escalation issue replaces
its body with the full ladder (village doctor, then the township duty doctor,
then the county hospital, with deadlines and re-sends until someone
acknowledges). Until then it does one step, at once: the grid's village
doctor gets an urgent SMS; a grid with no doctor sends it to the duty phone of
the nearest township or community centre above the clinic.

It returns `Notice`s and sends nothing itself; the caller enqueues them in the
same transaction that stored the report.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from grids.models import Doctor, Facility, Grid, Patient, UrgentReport
from grids.notices import Notice
from grids.vocabulary import DoctorStatus, FacilityLevel

URGENT_TEXT_LIMIT = 40
"""Characters of the reporter's own words forwarded; keeps the SMS within two segments."""
FACILITY_NAME_LIMIT = 12

DUTY_LEVELS = frozenset({FacilityLevel.TOWNSHIP_CENTER, FacilityLevel.COMMUNITY_CENTER})
RECIPIENT_DOCTOR = "doctor"
RECIPIENT_FACILITY = "facility"
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def _reachable(phone: str | None) -> bool:
    return bool(phone) and _E164.fullmatch(phone or "") is not None


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def duty_facility(start: Facility | None) -> Facility | None:
    """The nearest township or community centre with a phone above `start`; failing
    that, the nearest facility above it with a phone (the county hospital)."""
    fallback: Facility | None = None
    seen: set[int] = set()
    facility = start.parent if start is not None else None
    while facility is not None and facility.id not in seen:
        seen.add(facility.id)
        if _reachable(facility.phone):
            if facility.level in DUTY_LEVELS:
                return facility
            fallback = fallback or facility
        facility = facility.parent
    return fallback


def _params(session: Session, urgent: UrgentReport) -> dict[str, str]:
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    patient = session.get(Patient, urgent.patient_id) if urgent.patient_id else None
    reporter = session.get(Patient, urgent.reporter_id) if urgent.reporter_id else None
    return {
        "grid": grid.code if grid else "-",
        "seat": str(urgent.seat) if urgent.seat else "?",
        "name": patient.name if patient else "",
        "text": clip(urgent.text, URGENT_TEXT_LIMIT),
        "code": urgent.code,
        "phone": (reporter.phone if reporter and reporter.phone else "-"),
    }


def escalate(
    session: Session, urgent: UrgentReport, now: datetime, *, default_language: str = "zh_CN"
) -> list[Notice]:
    """The first messages about `urgent`: its grid's doctor, else a duty phone; [] when
    nobody can be reached (the caller then tells the reporter to call 120)."""
    grid = session.get(Grid, urgent.grid_id) if urgent.grid_id else None
    params = _params(session, urgent)
    doctor = session.get(Doctor, grid.doctor_id) if grid and grid.doctor_id else None
    if doctor is not None and _reachable(doctor.phone) and doctor.status == DoctorStatus.ACTIVE:
        return [
            Notice(
                key=f"urgent:{urgent.id}:doctor:{doctor.id}",
                phone=doctor.phone,
                language=doctor.language,
                template="sms.urgent.doctor"
                if urgent.patient_id
                else "sms.urgent.doctor_no_member",
                params=params,
                urgent=True,
                recipient_type=RECIPIENT_DOCTOR,
                recipient_id=doctor.id,
            )
        ]
    start: Facility | None = None
    if grid is not None:
        start = session.get(Facility, grid.facility_id)
    elif urgent.patient_id is not None:
        patient = session.get(Patient, urgent.patient_id)
        start = session.get(Facility, patient.facility_id) if patient else None
    duty = duty_facility(start)
    if duty is None or duty.phone is None:
        return []
    return [
        Notice(
            key=f"urgent:{urgent.id}:facility:{duty.id}",
            phone=duty.phone,
            language=default_language,
            template="sms.urgent.duty" if urgent.patient_id else "sms.urgent.duty_no_member",
            params={**params, "facility": clip(duty.name, FACILITY_NAME_LIMIT)},
            urgent=True,
            recipient_type=RECIPIENT_FACILITY,
            recipient_id=duty.id,
        )
    ]
