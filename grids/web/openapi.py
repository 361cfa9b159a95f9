"""The OpenAPI document served at `/api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from grids.web.escalations import OPEN_VALUES
from grids.web.schemas import (
    CloseRequestSchema,
    ErrorSchema,
    EscalationListSchema,
    EscalationSchema,
    HealthSchema,
    SummarySchema,
)

_TWILIO_FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _rollups(spec: APISpec) -> None:
    from grids.rollups.schemas import RollupQuerySchema, RollupSchema

    spec.components.schema("Rollup", schema=RollupSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "A logged-in page's session; POSTs also need its X-CSRFToken",
        },
    )
    spec.path(
        path="/api/v1/rollups",
        operations={
            "get": {
                "summary": "Weekly indicators of a grid, doctor, township or county (counts)",
                "security": [{"bearer": []}],
                "parameters": [{"in": "query", "schema": RollupQuerySchema}],
                "responses": {
                    "200": {
                        "description": "The rollup document (DESIGN §5)",
                        "content": {"application/json": {"schema": "Rollup"}},
                    },
                    "400": _error("Bad level, code or week"),
                    "401": _error("No or bad credentials"),
                    "403": _error("Outside the account's scope (or no such subject)"),
                    "404": _error("No such subject at that level (administrators)"),
                },
            }
        },
    )


def build_openapi() -> dict[str, Any]:
    spec = APISpec(
        title="Huzhu",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Grid mutual-aid service for chronic-disease care."},
    )
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("Health", schema=HealthSchema)
    spec.components.schema("Summary", schema=SummarySchema)
    _rollups(spec)
    spec.components.schema("Escalation", schema=EscalationSchema)
    spec.components.schema("EscalationList", schema=EscalationListSchema)
    spec.path(
        path="/api/v1/escalations",
        operations={
            "get": {
                "summary": "Escalations, newest first, with their timelines (numbers masked)",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "open",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(OPEN_VALUES)},
                        "description": "1 (true, yes): only escalations still open",
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Escalations",
                        "content": {"application/json": {"schema": "EscalationList"}},
                    },
                    "400": _error("`open` is none of its values"),
                    "401": _error("No Bearer token"),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/escalations/{code}",
        operations={
            "get": {
                "summary": "One escalation and its timeline",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The escalation",
                        "content": {"application/json": {"schema": "Escalation"}},
                    },
                    "401": _error("No Bearer token"),
                    "403": _error("Out of the account's scope, or no such code (alike)"),
                    "404": _error("No escalation with that code (administrators)"),
                },
            }
        },
    )
    spec.components.schema("CloseRequest", schema=CloseRequestSchema)
    spec.path(
        path="/api/v1/escalations/{code}/close",
        operations={
            "post": {
                "summary": "Close a case with its outcome (referred: follow-up at 14 days)",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "CloseRequest"}},
                },
                "responses": {
                    "200": {
                        "description": "The closed escalation",
                        "content": {"application/json": {"schema": "Escalation"}},
                    },
                    "400": _error("Missing or bad outcome or reason"),
                    "401": _error("No Bearer token"),
                    "403": _error("Out of the account's scope, or no such code (alike)"),
                    "404": _error("No escalation with that code (administrators)"),
                    "409": _error("Already closed"),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/summary",
        operations={
            "get": {
                "summary": "County-wide counts (no personal data)",
                "security": [{"bearer": []}, {"session": []}],
                "responses": {
                    "200": {
                        "description": "Counts",
                        "content": {"application/json": {"schema": "Summary"}},
                    },
                    "401": _error("No Bearer token"),
                },
            }
        },
    )
    spec.path(
        path="/healthz",
        operations={
            "get": {
                "summary": "Liveness and database check",
                "responses": {
                    "200": {
                        "description": "Healthy",
                        "content": {"application/json": {"schema": "Health"}},
                    },
                    "503": {
                        "description": "Database unreachable",
                        "content": {"application/json": {"schema": "Health"}},
                    },
                },
            }
        },
    )
    for path, summary, answered in (
        (
            "/voice/twilio/gather",
            "Twilio webhook: a key pressed on an escalation call",
            {"200": {"description": "TwiML"}},
        ),
        (
            "/sms/twilio/inbound",
            "Twilio webhook: an inbound SMS",
            {"200": {"description": "TwiML reply"}},
        ),
        (
            "/sms/twilio/status",
            "Twilio webhook: delivery status of an outbound SMS",
            {"204": {"description": "Recorded (or no such message: nothing to retry)"}},
        ),
    ):
        spec.path(
            path=path,
            operations={
                "post": {
                    "summary": summary,
                    "description": "Requires a valid X-Twilio-Signature computed for "
                    "PUBLIC_BASE_URL + path.",
                    "parameters": [
                        {
                            "name": "X-Twilio-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {"required": True, "content": _TWILIO_FORM},
                    "responses": {
                        **answered,
                        "400": _error("A required field is missing"),
                        "403": _error("Missing or invalid signature"),
                    },
                }
            },
        )
    from grids.admin.openapi import document_admin
    from grids.followups.openapi import document_followups

    document_admin(spec)
    document_followups(spec)
    return spec.to_dict()
