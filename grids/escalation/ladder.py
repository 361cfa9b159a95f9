"""The escalation ladder of a grid: who is told of an urgent case, in what order, how long
each waits for an acknowledgement. Plain data over the hierarchy graph; no database.

Steps, from the graph (steps nobody can be reached on are left out):

1. `doctor`: the grid's village doctor, by SMS at once and by a call when there is
   no acknowledgement after `DOCTOR_CALL_AFTER_MINUTES`;
2. `clinic`: the other active doctors of the same clinic;
3. `township`: the duty phone of the nearest township or community centre above;
4. `county`: the county hospital's emergency phone.

A number that is not a mobile (a landline) is called instead of texted; one that
cannot get SMS (opted out, flagged invalid) is skipped. Each step waits its
`ESCALATION_TIMEOUTS` minutes. Reaching the top unacknowledged repeats the top step
and alerts the county bureau's duty phone (`COUNTY_DUTY_PHONE`): never silence. A red
flag also tells the county hospital from the first minute (`parallel`).

The ladder is copied onto the escalation when it opens (`to_json`), so a roster
change mid-incident does not change who is next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from config.settings import EscalationTimeouts
from grids.core.notices import SMS, VOICE
from grids.core.phones import is_mobile
from grids.core.vocabulary import FacilityLevel
from grids.escalation.hierarchy import DoctorInfo, FacilityInfo, Hierarchy

DOCTOR_CALL_AFTER_MINUTES = 3
DUTY_LEVELS = frozenset({FacilityLevel.TOWNSHIP_CENTER.value, FacilityLevel.COMMUNITY_CENTER.value})
COUNTY_LEVEL = FacilityLevel.COUNTY_HOSPITAL.value
DEFAULT_TIMEOUTS: Mapping[str, int] = EscalationTimeouts().as_dict()

CanReceive = Callable[[str], bool]
"""Whether a mobile number can get SMS (not opted out, not flagged invalid)."""


def _anyone(_phone: str) -> bool:
    return True


@dataclass(frozen=True)
class Contact:
    """Someone a step reaches: a doctor, a facility's duty phone, the county bureau."""

    kind: str
    """`doctor`, `facility` or `county_duty`."""
    id: int | None
    name: str
    phone: str
    language: str = "zh_CN"
    channel: str = SMS
    """How the step's message reaches them: `sms`, or `voice` for a landline."""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "phone": self.phone,
            "language": self.language,
            "channel": self.channel,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Contact:
        return cls(
            kind=data["kind"],
            id=data.get("id"),
            name=data.get("name", ""),
            phone=data["phone"],
            language=data.get("language", "zh_CN"),
            channel=data.get("channel", SMS),
        )


@dataclass(frozen=True)
class Step:
    level: str
    contacts: tuple[Contact, ...]
    timeout_minutes: int
    call_after_minutes: int | None = None
    """Call the step's SMS contacts when nobody acknowledged this many minutes after sending."""
    facility_id: int | None = None
    facility_name: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "contacts": [contact.as_json() for contact in self.contacts],
            "timeout_minutes": self.timeout_minutes,
            "call_after_minutes": self.call_after_minutes,
            "facility_id": self.facility_id,
            "facility_name": self.facility_name,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        return cls(
            level=data["level"],
            contacts=tuple(Contact.from_json(item) for item in data.get("contacts", [])),
            timeout_minutes=int(data["timeout_minutes"]),
            call_after_minutes=data.get("call_after_minutes"),
            facility_id=data.get("facility_id"),
            facility_name=data.get("facility_name", ""),
        )


@dataclass(frozen=True)
class Hold:
    """Hours (local `start` to `end`, e.g. 22:00-07:00) when a case's messages wait."""

    start: str
    end: str
    timezone: str

    def as_json(self) -> dict[str, str]:
        return {"start": self.start, "end": self.end, "timezone": self.timezone}


@dataclass(frozen=True)
class Ladder:
    steps: tuple[Step, ...]
    parallel: tuple[Contact, ...] = ()
    """Told at once beside the first step: the county hospital, for a red flag."""
    county_duty: Contact | None = None
    """Told when the top is reached without an acknowledgement."""
    facility_ids: tuple[int, ...] = ()
    """Facilities on the ladder: their doctors and duty phones may acknowledge."""
    doctor_unreachable: str | None = None
    """The name of the grid's doctor, active but with a number that cannot get SMS."""
    grid_has_doctor: bool = True
    problems: tuple[str, ...] = field(default=())
    """Why a level is missing: `no_doctor`, `doctor_unreachable`, `no_clinic_doctors`,
    `no_township_phone`, `no_county_phone`, `no_county_hospital`."""
    kind: str = "urgent"
    """`urgent`, or `critical` (hours-scale, its own messages: `grids.escalation.critical`)."""
    hold: Hold | None = None
    """When the case's messages wait (critical cases: at night)."""

    @property
    def top(self) -> int:
        return len(self.steps) - 1

    def contacts(self) -> list[Contact]:
        """Everyone the ladder may reach, the county duty phone included."""
        everyone = [contact for step in self.steps for contact in step.contacts]
        everyone += list(self.parallel)
        if self.county_duty is not None:
            everyone.append(self.county_duty)
        return everyone

    def as_json(self) -> dict[str, Any]:
        return {
            "steps": [step.as_json() for step in self.steps],
            "parallel": [contact.as_json() for contact in self.parallel],
            "county_duty": self.county_duty.as_json() if self.county_duty else None,
            "facility_ids": list(self.facility_ids),
            "doctor_unreachable": self.doctor_unreachable,
            "grid_has_doctor": self.grid_has_doctor,
            "problems": list(self.problems),
            "kind": self.kind,
            "hold": self.hold.as_json() if self.hold else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ladder:
        duty = data.get("county_duty")
        held = data.get("hold")
        return cls(
            steps=tuple(Step.from_json(item) for item in data.get("steps", [])),
            parallel=tuple(Contact.from_json(item) for item in data.get("parallel", [])),
            county_duty=Contact.from_json(duty) if duty else None,
            facility_ids=tuple(data.get("facility_ids", [])),
            doctor_unreachable=data.get("doctor_unreachable"),
            grid_has_doctor=data.get("grid_has_doctor", True),
            problems=tuple(data.get("problems", [])),
            kind=data.get("kind", "urgent"),
            hold=Hold(held["start"], held["end"], held["timezone"]) if held else None,
        )


@lru_cache(maxsize=65536)
def _mobile(phone: str) -> bool | None:
    """Whether `phone` is a mobile (None: not a number); phonenumbers is slow, numbers repeat."""
    try:
        return is_mobile(phone)
    except Exception:
        return None


def channel_for(phone: str | None, can_receive: CanReceive = _anyone) -> str | None:
    """`sms` for a mobile that can get SMS, `voice` for a landline, None for neither."""
    if not phone:
        return None
    mobile = _mobile(phone)
    if mobile is None:
        return None
    if not mobile:
        return VOICE
    return SMS if can_receive(phone) else None


def _doctor_contact(doctor: DoctorInfo, can_receive: CanReceive) -> Contact | None:
    if not doctor.active:
        return None
    channel = channel_for(doctor.phone, can_receive)
    if channel is None:
        return None
    return Contact("doctor", doctor.id, doctor.name, doctor.phone, doctor.language, channel)


def _facility_contact(
    facility: FacilityInfo, language: str, can_receive: CanReceive
) -> Contact | None:
    channel = channel_for(facility.phone, can_receive)
    if channel is None or facility.phone is None:
        return None
    return Contact("facility", facility.id, facility.name, facility.phone, language, channel)


def build_ladder(
    hierarchy: Hierarchy,
    *,
    grid_id: int | None = None,
    facility_id: int | None = None,
    timeouts: Mapping[str, int] = DEFAULT_TIMEOUTS,
    can_receive: CanReceive = _anyone,
    red_flag: bool = False,
    county_duty_phone: str | None = None,
    language: str = "zh_CN",
) -> Ladder:
    """The ladder for an urgent case in grid `grid_id` (or, for a patient in no grid, at
    facility `facility_id`). `can_receive` says whether a mobile can get SMS."""
    problems: list[str] = []
    doctor: DoctorInfo | None = None
    if grid_id is not None:
        grid = hierarchy.grid(grid_id)
        clinic_id = grid.facility_id
        if grid.doctor_id is not None:
            doctor = hierarchy.doctor(grid.doctor_id)
            clinic_id = doctor.facility_id
    elif facility_id is not None:
        clinic_id = facility_id
    else:
        raise ValueError("build_ladder needs a grid or a facility")

    steps: list[Step] = []
    clinic = hierarchy.facility(clinic_id)
    facility_ids = [clinic.id]
    unreachable: str | None = None
    if doctor is not None and doctor.active:
        contact = _doctor_contact(doctor, can_receive)
        if contact is None:
            unreachable = doctor.name
            problems.append("doctor_unreachable")
        else:
            steps.append(
                Step(
                    "doctor",
                    (contact,),
                    timeouts["doctor"],
                    DOCTOR_CALL_AFTER_MINUTES if contact.channel == SMS else None,
                    clinic.id,
                    clinic.name,
                )
            )
    elif grid_id is not None:
        problems.append("no_doctor")

    colleagues = [
        contact
        for other in hierarchy.doctors_at(clinic.id)
        if doctor is None or other.id != doctor.id
        for contact in [_doctor_contact(other, can_receive)]
        if contact is not None
    ]
    if colleagues:
        steps.append(
            Step("clinic", tuple(colleagues), timeouts["clinic"], None, clinic.id, clinic.name)
        )
    else:
        problems.append("no_clinic_doctors")

    above = hierarchy.facilities_above(clinic.id)
    facility_ids += [facility.id for facility in above]
    township = next(
        (
            (facility, contact)
            for facility in above
            if facility.level in DUTY_LEVELS
            for contact in [_facility_contact(facility, language, can_receive)]
            if contact is not None
        ),
        None,
    )
    if township is not None:
        facility, contact = township
        steps.append(
            Step("township", (contact,), timeouts["township"], None, facility.id, facility.name)
        )
    else:
        problems.append("no_township_phone")

    county = next((facility for facility in above if facility.level == COUNTY_LEVEL), None)
    county_contact = _facility_contact(county, language, can_receive) if county else None
    if county is None:
        problems.append("no_county_hospital")
    elif county_contact is None:
        problems.append("no_county_phone")
    else:
        steps.append(
            Step("county", (county_contact,), timeouts["county"], None, county.id, county.name)
        )

    duty = (
        Contact("county_duty", None, "", county_duty_phone, language, SMS)
        if county_duty_phone
        else None
    )
    parallel: tuple[Contact, ...] = ()
    if red_flag and county_contact is not None and (not steps or steps[0].level != "county"):
        parallel = (county_contact,)
    return Ladder(
        steps=tuple(steps),
        parallel=parallel,
        county_duty=duty,
        facility_ids=tuple(facility_ids),
        doctor_unreachable=unreachable,
        grid_has_doctor=doctor is not None and doctor.active,
        problems=tuple(problems),
    )
