"""marshmallow schemas of the administration API (`/api/v1/admin/...`)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from grids.admin.browse import CAPACITY_FILTERS
from grids.admin.operations import OPERATIONS, STATUSES
from grids.web.schemas import BaseSchema

_REQUIRED: dict[str, tuple[str, ...]] = {
    "move-grid": ("grid", "doctor"),
    "set-coordinator": ("grid", "patient"),
    "set-deputy": ("grid", "patient"),
    "move-member": (),
    "split": ("grid",),
    "merge": ("grids",),
    "retire-doctor": ("doctor",),
    "set-status": ("patient", "status"),
    "pause-member": ("patient", "until", "reason"),
    "rebalance": (),
}


class OperationRequestSchema(BaseSchema):
    """What to change; `dry_run` previews. Fields used depend on the operation."""

    grid = fields.String(metadata={"description": "Grid code"})
    doctor = fields.String(metadata={"description": "Doctor code"})
    patient = fields.String(metadata={"description": "Patient code"})
    facility = fields.String(
        metadata={"description": "rebalance: only this facility's clinics (default: county)"}
    )
    grids = fields.List(
        fields.String(),
        validate=validate.Length(equal=2),
        metadata={"description": "merge: [keep, absorb]"},
    )
    moves = fields.List(
        fields.List(fields.String(), validate=validate.Length(equal=2)),
        validate=validate.Length(min=1, max=5000),
        metadata={"description": "move-member in bulk: [[patient, grid], ...]"},
    )
    suspend = fields.Boolean(load_default=False)
    to = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "retire-doctor: grid code -> doctor code (edits the suggestion)"},
    )
    only = fields.List(  # type: ignore[assignment]  # the API's name; shadows Schema.only
        fields.String(), metadata={"description": "retire-doctor: share among these"}
    )
    status = fields.String(validate=validate.OneOf(STATUSES))
    died_on = fields.Date()
    until = fields.Date(metadata={"description": "pause-member: the day he is back"})
    dry_run = fields.Boolean(load_default=False)
    reason = fields.String(validate=validate.Length(max=2000), allow_none=True)
    override = fields.Boolean(load_default=False)
    expected_versions = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Grid code -> version from the preview; a change since is a 409"},
    )

    @validates_schema
    def _reason_with_override(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("override") and not (data.get("reason") or "").strip():
            raise ValidationError("A written reason is needed with override.", field_name="reason")


def missing_fields(operation: str, data: dict[str, Any]) -> dict[str, list[str]]:
    """The fields `operation` needs that `data` lacks (marshmallow 4 schemas have no context)."""
    missing = {
        name: ["Missing data for required field."]
        for name in _REQUIRED.get(operation, ())
        if not data.get(name)
    }
    if (
        operation == "move-member"
        and not data.get("moves")
        and not (data.get("patient") and data.get("grid"))
    ):
        missing["moves"] = ["Give moves, or patient and grid."]
    return missing


class UndoRequestSchema(BaseSchema):
    dry_run = fields.Boolean(load_default=False)
    reason = fields.String(validate=validate.Length(max=2000), allow_none=True)


class ProblemSchema(BaseSchema):
    code = fields.String(required=True)
    overridable = fields.Boolean(required=True)
    params = fields.Dict(required=True)
    message = fields.String(required=True)


class OutcomeSchema(BaseSchema):
    operation = fields.String(required=True, validate=validate.OneOf((*OPERATIONS, "undo")))
    subject = fields.String(required=True)
    dry_run = fields.Boolean(required=True)
    applied = fields.Boolean(required=True)
    change_set = fields.Integer(allow_none=True, required=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True, required=True)
    override = fields.Boolean(required=True)
    problems = fields.List(fields.Nested(ProblemSchema), required=True)
    blocking = fields.List(fields.Nested(ProblemSchema), required=True)
    notes = fields.List(fields.Nested(ProblemSchema), required=True)
    moves = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "patient, from, from_seat, to, to_seat"},
    )
    assignments = fields.List(
        fields.Dict(), required=True, metadata={"description": "grid, from, to"}
    )
    grids = fields.List(fields.Dict(), required=True, metadata={"description": "before and after"})
    doctors = fields.List(
        fields.Dict(), required=True, metadata={"description": "before and after"}
    )
    sms = fields.List(
        fields.Dict(), required=True, metadata={"description": "every SMS, numbers masked"}
    )
    versions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    changes = fields.List(fields.Dict(), required=True)


class ChangeSetSchema(BaseSchema):
    id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    operation = fields.String(required=True)
    subject = fields.String(allow_none=True)
    reason = fields.String(allow_none=True, required=True)
    override = fields.Boolean()
    undoes = fields.Integer(allow_none=True)
    undone_by = fields.Integer(allow_none=True)
    changes = fields.List(fields.Dict(), required=True)


class ChangeLogSchema(BaseSchema):
    items = fields.List(fields.Nested(ChangeSetSchema), required=True)


class GridFilterSchema(BaseSchema):
    township = fields.String()
    clinic = fields.String()
    condition = fields.String()
    doctor = fields.String()
    needs_coordinator = fields.Boolean(load_default=False)
    no_doctor = fields.Boolean(load_default=False)
    capacity = fields.String(validate=validate.OneOf(CAPACITY_FILTERS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    lang = fields.String()


class GridRowSchema(BaseSchema):
    code = fields.String(required=True)
    clinic = fields.String(required=True)
    clinic_name = fields.String(required=True)
    township = fields.String(allow_none=True)
    condition = fields.String(required=True)
    doctor = fields.String(allow_none=True)
    doctor_name = fields.String(allow_none=True)
    has_coordinator = fields.Boolean(required=True)
    members = fields.Integer(required=True)
    version = fields.Integer(required=True)


class GridPageSchema(BaseSchema):
    items = fields.List(fields.Nested(GridRowSchema), required=True)
    page = fields.Integer(required=True)
    more = fields.Boolean(required=True)
