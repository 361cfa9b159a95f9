"""marshmallow schemas of `POST /api/v1/followups` (and the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from grids.followups import rules
from grids.web.schemas import BaseSchema


def _choice(values: Any) -> validate.OneOf:
    return validate.OneOf([str(v) for v in values])


class MedicineSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    dose = fields.String(load_default=None, validate=validate.Length(max=60))


class FollowupRequestSchema(BaseSchema):
    member_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    date = fields.Date(required=True, metadata={"description": "Day of the follow-up"})
    method = fields.String(required=True, validate=_choice(rules.Method))
    systolic = fields.Integer(load_default=None)
    diastolic = fields.Integer(load_default=None)
    heart_rate = fields.Integer(load_default=None)
    weight_kg = fields.Decimal(load_default=None, places=1)
    height_cm = fields.Decimal(load_default=None, places=1)
    glucose_mmol = fields.Decimal(load_default=None, places=1)
    hba1c = fields.Decimal(load_default=None, places=1)
    hypoglycaemia = fields.String(load_default=None, validate=_choice(rules.Hypoglycaemia))
    symptoms = fields.List(fields.String(validate=_choice(rules.SYMPTOMS)), load_default=list)
    symptoms_text = fields.String(load_default=None, validate=validate.Length(max=500))
    cigarettes_per_day = fields.Integer(load_default=None)
    alcohol_liang_per_day = fields.Integer(load_default=None)
    exercise = fields.String(load_default=None, validate=validate.Length(max=60))
    salt = fields.String(load_default=None, validate=_choice(rules.Salt))
    adherence = fields.String(load_default=None, validate=_choice(rules.Adherence))
    adverse_reaction = fields.Boolean(load_default=False)
    adverse_text = fields.String(load_default=None, validate=validate.Length(max=500))
    classification = fields.String(load_default=None, validate=_choice(rules.Classification))
    medicines = fields.List(fields.Nested(MedicineSchema), load_default=list)
    referral_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    referral_to = fields.String(load_default=None, validate=validate.Length(max=120))
    next_due = fields.Date(
        load_default=None, metadata={"description": "Set by the doctor; else the national rule"}
    )

    @validates_schema
    def _both_parts(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("systolic") is None) != (data.get("diastolic") is None):
            raise ValidationError("give systolic and diastolic together", "systolic")


class FollowupSchema(BaseSchema):
    id = fields.Integer(required=True)
    member_code = fields.String(required=True)
    date = fields.String(required=True)
    method = fields.String(required=True)
    bmi = fields.String(allow_none=True, required=True)
    classification = fields.String(allow_none=True, required=True)
    next_due = fields.String(required=True)
    next_due_reason = fields.String(
        required=True, metadata={"description": "routine, recheck, referral or set"}
    )
    critical_cases = fields.List(
        fields.String(), required=True, metadata={"description": "Codes of cases opened"}
    )


class DueItemSchema(BaseSchema):
    member_code = fields.String(required=True)
    grid_code = fields.String(allow_none=True, required=True)
    due = fields.String(required=True)
    days_overdue = fields.Integer(required=True)
    colour = fields.String(required=True)
    reason = fields.String(required=True)
