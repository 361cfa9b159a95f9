"""The follow-ups API's part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from grids.followups.schemas import FollowupRequestSchema, FollowupSchema


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def document_followups(spec: APISpec) -> None:
    spec.components.schema("FollowupRequest", schema=FollowupRequestSchema)
    spec.components.schema("Followup", schema=FollowupSchema)
    spec.path(
        path="/api/v1/followups",
        operations={
            "post": {
                "summary": "Record one follow-up (the national record's fields); the next "
                "date follows the national rule unless next_due is given",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "FollowupRequest"}},
                },
                "responses": {
                    "201": {
                        "description": "Recorded",
                        "content": {"application/json": {"schema": "Followup"}},
                    },
                    "400": _error("A bad value: each field with its fix"),
                    "401": _error("Not logged in"),
                    "403": _error("The member is outside the account's scope"),
                },
            }
        },
    )
