"""marshmallow schemas of the JSON API; the OpenAPI document is generated from them."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class ErrorBodySchema(BaseSchema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "What was wrong, in words"})
    # `fields` on the wire; the attribute name `fields` belongs to marshmallow's Schema.
    field_messages = fields.Dict(
        keys=fields.String(),
        required=True,
        data_key="fields",
        metadata={"description": "Per-field messages, empty when the error is not about a field"},
    )


class ErrorSchema(BaseSchema):
    error = fields.Nested(ErrorBodySchema, required=True)


class HealthSchema(BaseSchema):
    status = fields.String(required=True, metadata={"description": "`ok` or `unavailable`"})
    database = fields.String(required=True)
    replica = fields.String(
        metadata={
            "description": "With DATABASE_READ_URL: `ok` or `unreachable` (pages then read "
            "the primary)"
        }
    )
    warnings = fields.List(
        fields.String(),
        metadata={"description": "Configuration an operator must fix, e.g. unchecked signatures"},
    )
    scheduler = fields.Dict(
        metadata={
            "description": "`status` ok, stale (no heartbeat for 5 minutes) or not_running; "
            "`last_beat`; `failed_jobs`: jobs whose last run failed"
        }
    )


class SummarySchema(BaseSchema):
    facilities = fields.Integer(required=True)
    facilities_by_level = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    doctors = fields.Integer(required=True, metadata={"description": "Active village doctors"})
    patients_by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    grids = fields.Integer(required=True)
    grids_by_condition = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    members = fields.Integer(required=True, metadata={"description": "Current grid members"})
    grids_without_doctor = fields.Integer(required=True)
    grids_without_coordinator = fields.Integer(required=True)


class EscalationEventSchema(BaseSchema):
    at = fields.String(required=True, metadata={"description": "ISO time, UTC"})
    kind = fields.String(
        required=True,
        metadata={
            "description": "opened, notified, delivered, failed, called, keypress, "
            "acknowledged, merged, escalated or closed"
        },
    )
    step = fields.Integer(allow_none=True, required=True)
    recipient = fields.String(
        allow_none=True, required=True, metadata={"description": "Masked phone number"}
    )
    channel = fields.String(
        allow_none=True, required=True, metadata={"description": "`sms` or `voice`"}
    )
    detail = fields.String(allow_none=True, required=True)


class EscalationSchema(BaseSchema):
    code = fields.String(required=True, metadata={"description": "Acknowledgement code, e.g. K7Q"})
    grid_code = fields.String(allow_none=True, required=True)
    seat = fields.Integer(allow_none=True, required=True)
    opened_at = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "open, acknowledged or closed"})
    kind = fields.String(required=True, metadata={"description": "urgent or critical"})
    acknowledged_by = fields.String(allow_none=True, required=True)
    acknowledged_at = fields.String(allow_none=True, required=True)
    outcome = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "home, referred, admitted, died or false (closed cases)"},
    )
    closed_at = fields.String(allow_none=True, required=True)
    followup_due = fields.String(
        allow_none=True, metadata={"description": "Referral follow-up day (ISO date)"}
    )
    followup_outcome = fields.String(
        allow_none=True, metadata={"description": "better, worse, admitted or died"}
    )
    events = fields.List(fields.Nested(EscalationEventSchema), required=True)


class CloseRequestSchema(BaseSchema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(["home", "referred", "admitted", "died", "false"]),
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class EscalationListSchema(BaseSchema):
    items = fields.List(fields.Nested(EscalationSchema), required=True)
