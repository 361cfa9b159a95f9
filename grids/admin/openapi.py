"""The administration API's part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from apispec import APISpec

from grids.admin.operations import OPERATIONS
from grids.admin.schemas import (
    ChangeLogSchema,
    GridPageSchema,
    OperationRequestSchema,
    OutcomeSchema,
    UndoRequestSchema,
)

_BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


def document_admin(spec: APISpec) -> None:
    spec.components.schema("AdminOperationRequest", schema=OperationRequestSchema)
    spec.components.schema("AdminOutcome", schema=OutcomeSchema)
    spec.components.schema("AdminUndoRequest", schema=UndoRequestSchema)
    spec.components.schema("AdminChangeLog", schema=ChangeLogSchema)
    spec.components.schema("AdminGridPage", schema=GridPageSchema)
    denied = {"401": _error("Not logged in"), "403": _error("Not an admin or township account")}
    spec.path(
        path="/api/v1/admin/grids",
        operations={
            "get": {
                "summary": "Grid browser: one page of grids, filtered",
                "security": _BEARER,
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": kind}}
                    for name, kind in (
                        ("township", "string"),
                        ("clinic", "string"),
                        ("condition", "string"),
                        ("doctor", "string"),
                        ("needs_coordinator", "boolean"),
                        ("no_doctor", "boolean"),
                        ("capacity", "string"),
                        ("page", "integer"),
                    )
                ],
                "responses": {
                    "200": {"description": "Grids", "content": _json("AdminGridPage")},
                    "400": _error("Bad filter"),
                    **denied,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/admin/operations/{operation}",
        operations={
            "post": {
                "summary": "Preview (dry_run) or apply a reassignment as one change-set",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "operation",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(OPERATIONS)},
                    }
                ],
                "requestBody": {"required": True, "content": _json("AdminOperationRequest")},
                "responses": {
                    "200": {"description": "Preview or applied", "content": _json("AdminOutcome")},
                    "400": _error("Invalid request"),
                    **denied,
                    "404": _error("Unknown grid, doctor or patient"),
                    "409": _error("A grid changed since it was read: fields say what changed"),
                    "422": _error("Rules broken: fields list them"),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/admin/changes",
        operations={
            "get": {
                "summary": "The change log, newest first",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    }
                ],
                "responses": {
                    "200": {"description": "Change-sets", "content": _json("AdminChangeLog")},
                    "400": _error("limit is not a whole number from 1 to 500"),
                    **denied,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/admin/changes/{change_set_id}/undo",
        operations={
            "post": {
                "summary": "Undo a change-set with an inverse change-set",
                "security": _BEARER,
                "parameters": [
                    {
                        "name": "change_set_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "requestBody": {"content": _json("AdminUndoRequest")},
                "responses": {
                    "200": {"description": "Undone (or preview)", "content": _json("AdminOutcome")},
                    **denied,
                    "404": _error("No change-set with that id"),
                    "409": _error("A later change is in the way, or already undone"),
                },
            }
        },
    )
