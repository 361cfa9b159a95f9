"""The national layout of a quarter's follow-ups: one row per follow-up, the record's
field names as Chinese headers, values as the provincial systems take them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from grids.accounts.access import facility_subtree_ids
from grids.core.spreadsheet_cells import csv_file, xlsx_file
from grids.followups.models import Followup
from grids.models import Doctor, Facility, Grid, Patient
from i18n import translate

NATIONAL = "zh_CN"
"""The national record is in Chinese whatever the reader's language."""


def headers() -> list[str]:
    return translate("followups.export.header", NATIONAL).split("|")


def _label(kind: str, value: str | None) -> str | None:
    return translate(f"followups.{kind}.{value}", NATIONAL) if value else None


def _number(value: Decimal | int | None) -> float | int | None:
    return float(value) if isinstance(value, Decimal) else value


def _row(followup: Followup, grid_code: str | None, doctor_name: str | None) -> list[Any]:
    symptoms = "、".join(translate(f"followups.symptom.{s}", NATIONAL) for s in followup.symptoms)
    if followup.symptoms_text:
        symptoms = f"{symptoms} {followup.symptoms_text}".strip()
    adverse = translate(
        "web.followup.yes" if followup.adverse_reaction else "web.followup.no", NATIONAL
    )
    if followup.adverse_reaction and followup.adverse_text:
        adverse = f"{adverse}：{followup.adverse_text}"
    medicines = "；".join(
        " ".join(part for part in (m.get("name"), m.get("dose")) if part)
        for m in followup.medicines
    )
    return [
        followup.patient.code,
        followup.patient.name,
        grid_code,
        followup.visit_date.isoformat(),
        _label("method", followup.method),
        symptoms or None,
        followup.systolic,
        followup.diastolic,
        _number(followup.weight_kg),
        _number(followup.bmi),
        followup.heart_rate,
        _number(followup.glucose_mmol),
        followup.cigarettes_per_day,
        followup.alcohol_liang_per_day,
        followup.exercise,
        _label("salt", followup.salt),
        _label("adherence", followup.adherence),
        adverse,
        _label("classification", followup.classification),
        medicines or None,
        followup.referral_reason,
        followup.referral_to,
        followup.next_due.isoformat(),
        doctor_name,
    ]


def quarter_rows(
    session: Session,
    start: date,
    end: date,
    *,
    doctor: Doctor | None = None,
    township: Facility | None = None,
) -> list[list[Any]]:
    """Rows of the follow-ups dated in [start, end]: a doctor's (his own and his grids'),
    a township's (its facilities' members and grids), or the county's (neither given)."""
    query = (
        select(Followup, Grid.code, Doctor.name)
        .join(Patient, Patient.id == Followup.patient_id)
        .outerjoin(Grid, Grid.id == Followup.grid_id)
        .outerjoin(Doctor, Doctor.id == Followup.doctor_id)
        .where(Followup.visit_date >= start, Followup.visit_date <= end)
        .order_by(Followup.visit_date, Patient.code, Followup.id)
    )
    if doctor is not None:
        query = query.where(or_(Followup.doctor_id == doctor.id, Grid.doctor_id == doctor.id))
    if township is not None:
        facilities = facility_subtree_ids(session, township.id)
        query = query.where(
            or_(Patient.facility_id.in_(facilities), Grid.facility_id.in_(facilities))
        )
    return [_row(f, grid_code, name) for f, grid_code, name in session.execute(query)]


def to_csv(table: Sequence[Sequence[Any]]) -> bytes:
    return csv_file(headers(), table)


def to_xlsx(table: Sequence[Sequence[Any]], sheet: str) -> bytes:
    return xlsx_file(headers(), table, sheet)
