"""marshmallow schemas of the rollup API (the OpenAPI document is generated from them)."""

from __future__ import annotations

from marshmallow import fields, validate

from grids.rollups.indicators import CASE_OUTCOMES, INDICATOR_FIELDS, LEVELS
from grids.web.schemas import BaseSchema

WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"

_NULLABLE = {
    "urgent_ack_median_s",
    "urgent_ack_max_s",
    "avg_age_at_death",
    "critical_ack_median_s",
}


class RollupQuerySchema(BaseSchema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    code = fields.String(required=True, validate=validate.Length(min=1, max=48))
    week = fields.String(
        validate=validate.Regexp(WEEK_PATTERN, error="an ISO week such as 2026-W48"),
        metadata={"description": "ISO week; default: the last closed week"},
    )


def _indicator_fields() -> dict[str, fields.Field]:
    result: dict[str, fields.Field] = {}
    for name in INDICATOR_FIELDS:
        if name == "avg_age_at_death":
            result[name] = fields.Float(required=True, allow_none=True)
        elif name == "outcomes":
            result[name] = fields.Dict(
                keys=fields.String(validate=validate.OneOf(CASE_OUTCOMES)),
                values=fields.Integer(),
                required=True,
                metadata={"description": "Cases closed in the week, by outcome"},
            )
        else:
            result[name] = fields.Integer(required=True, allow_none=name in _NULLABLE)
    return result


IndicatorsSchema = BaseSchema.from_dict(_indicator_fields(), name="IndicatorsSchema")


class RollupSchema(BaseSchema):
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    code = fields.String(required=True)
    week = fields.String(required=True)
    as_of = fields.String(required=True, metadata={"description": "When the figures were computed"})
    provisional = fields.Boolean(
        required=True, metadata={"description": "The week is not over yet"}
    )
    revised = fields.Boolean(
        required=True,
        metadata={"description": "Late data changed the week after its first snapshot"},
    )
    indicators = fields.Nested(IndicatorsSchema, required=True)
