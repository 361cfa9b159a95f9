"""Extract what the Twilio stand-in needs from Twilio's OpenAPI description.

Source: `twilio_api_v2010.json`, Twilio's own OpenAPI 3.0.1 description of its
2010-04-01 REST API (public repository twilio/twilio-oai,
`spec/json/twilio_api_v2010.json`), kept beside the project in
`../shared/twilio/`. The test suite must not read files outside the
repository, so this script copies the one operation the stand-in plays,
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, into
`tests/support/data/twilio_messages_api.json` (and the Calls create operation of the
escalation ladder's voice step into `twilio_calls_api.json`): its path parameter, security scheme,
request schema and the Message schema and examples of its 201 answer, with
every `$ref` resolved and descriptions dropped. It also writes
`tests/support/data/twilio_messages_openapi.json`, a valid OpenAPI document holding
only that operation, for Prism (`prism mock`) as a second stand-in.

Run from the project root when Twilio's description changes:

    .venv/bin/python tests/support/data/extract_twilio_messages_api.py [twilio_api_v2010.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
TARGET = Path(__file__).resolve().parent / "twilio_messages_api.json"
OPENAPI_TARGET = Path(__file__).resolve().parent / "twilio_messages_openapi.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
CALLS_PATH = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
CALLS_TARGET = Path(__file__).resolve().parent / "twilio_calls_api.json"
DROPPED_KEYS = {"description", "x-twilio", "summary"}


def resolve(node: Any, spec: dict[str, Any]) -> Any:
    """Inline local `$ref`s and drop prose, recursively."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/components/schemas/")
            return resolve(spec["components"]["schemas"][name], spec)
        return {key: resolve(value, spec) for key, value in node.items() if key not in DROPPED_KEYS}
    if isinstance(node, list):
        return [resolve(item, spec) for item in node]
    return node


def extract(spec: dict[str, Any], path: str = MESSAGES_PATH) -> dict[str, Any]:
    operation = spec["paths"][path]["post"]
    request = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
    created = operation["responses"]["201"]["content"]["application/json"]
    return {
        "source": {
            "file": "twilio_api_v2010.json (twilio/twilio-oai, spec/json)",
            "title": spec["info"]["title"],
            "version": spec["info"]["version"],
            "extracted_by": "tests/support/data/extract_twilio_messages_api.py",
        },
        "server": spec["servers"][0]["url"],
        "path": path,
        "method": "POST",
        "security": resolve(spec["components"]["securitySchemes"], spec),
        "path_parameters": {
            parameter["name"]: resolve(parameter["schema"], spec)
            for parameter in operation["parameters"]
            if parameter["in"] == "path"
        },
        "request_content_type": "application/x-www-form-urlencoded",
        "request_schema": resolve(request["schema"], spec),
        "response_status": 201,
        "response_schema": resolve(created["schema"], spec),
        "response_examples": {
            name: example["value"] for name, example in created.get("examples", {}).items()
        },
    }


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    return set()


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_prose(v) for k, v in node.items() if k not in DROPPED_KEYS}
    if isinstance(node, list):
        return [_without_prose(item) for item in node]
    return node


def minimal_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI document with the Messages create operation and the schemas it uses."""
    operation = _without_prose(spec["paths"][MESSAGES_PATH]["post"])
    schemas: dict[str, Any] = {}
    pending = _references(operation)
    while pending:
        name = pending.pop().removeprefix("#/components/schemas/")
        if name in schemas:
            continue
        schemas[name] = _without_prose(spec["components"]["schemas"][name])
        pending |= _references(schemas[name])
    return {
        "openapi": spec["openapi"],
        "info": {
            "title": spec["info"]["title"] + " (Messages only)",
            "version": spec["info"]["version"],
        },
        "servers": spec["servers"],
        "security": spec["security"],
        "paths": {MESSAGES_PATH: {"post": operation}},
        "components": {
            "securitySchemes": spec["components"]["securitySchemes"],
            "schemas": schemas,
        },
    }


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    if not source.exists():
        print(f"no {source}: pass the path of twilio_api_v2010.json", file=sys.stderr)
        return 1
    spec = json.loads(source.read_text(encoding="utf-8"))
    TARGET.write_text(
        json.dumps(extract(spec), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    CALLS_TARGET.write_text(
        json.dumps(extract(spec, CALLS_PATH), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    OPENAPI_TARGET.write_text(
        json.dumps(minimal_openapi(spec), indent=1, ensure_ascii=False, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    print(
        f"wrote {TARGET.relative_to(PROJECT_ROOT)}, {CALLS_TARGET.name} and "
        f"{OPENAPI_TARGET.name} from {source}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
