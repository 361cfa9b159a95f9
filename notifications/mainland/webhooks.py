"""The push routes of Aliyun and Tencent Cloud, under the secret path segment.

Neither provider signs its pushes, so each route answers 404 unless the path
carries `SMS_CALLBACK_SECRET` (compared in constant time), and the Tencent
routes refuse (403) any source outside `TENCENT_SMS_CALLBACK_IPS` when it is
set. A body past `MAX_PUSH_BYTES` or `MAX_PUSH_ITEMS` (docs/mainland-sms.md, "Batch
sizes") gets 413 and nothing is stored; a body that is not JSON gets 400; a processing
failure 500, so the
provider pushes again (repeats are deduplicated). Otherwise each provider
gets the answer it expects, whatever single items were refused:
Aliyun `{"code": 0, "msg": "接收成功"}`, Tencent `{"result": 0, "errmsg": "OK"}`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import RequestEntityTooLarge

from config.clock import now as clock_now
from config.runtime import current_settings
from grids.storage.session import current_db
from grids.web.request_checks import JsonTooDeep, loads_json
from i18n import translate
from notifications.mainland import pushes

log = logging.getLogger(__name__)

mainland_webhooks = Blueprint("mainland_webhooks", __name__)

ALIYUN_OK = {"code": 0, "msg": "接收成功"}
TENCENT_OK = {"result": 0, "errmsg": "OK"}


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def _secret_ok(given: str) -> bool:
    secret = current_settings().sms_callback_secret
    return bool(secret) and hmac.compare_digest(given.encode(), (secret or "").encode())


def _source_allowed() -> bool:
    allowed = current_settings().tencent_callback_ips
    if not allowed:
        return True
    try:
        source = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(source in ipaddress.ip_network(net, strict=False) for net in allowed)


def push_route(
    provider: str, failure: Callable[[str], dict[str, Any]], *, voice: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Check the secret (and Tencent's source), parse the JSON body, answer errors the
    provider's way. The route is live only while `provider` is the configured SMS
    backend (the voice backend for a `voice` route)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(secret: str) -> Any:
            # Only the configured provider's routes are live: nobody else may store messages.
            settings = current_settings()
            backend = settings.voice_backend if voice else settings.sms_backend
            if backend != provider or not _secret_ok(secret):
                abort(404)
            if provider == "tencent" and not _source_allowed():
                log.warning(
                    "refused a Tencent push from %s (not in the allowlist)", request.remote_addr
                )
                abort(403)
            language = current_settings().default_language
            too_large = _json(failure(_too_large_reason(language)), 413)
            if (request.content_length or 0) > pushes.MAX_PUSH_BYTES:
                return too_large
            request.max_content_length = pushes.MAX_PUSH_BYTES  # a chunked body too
            try:
                payload = loads_json(request.get_data(as_text=True) or "null")
                if len(pushes.items_of(payload)) > pushes.MAX_PUSH_ITEMS:
                    return too_large
            except RequestEntityTooLarge:
                return too_large
            except ValueError as error:
                detail = (
                    translate("http.fix.json_too_deep", language, field="JSON")
                    if isinstance(error, JsonTooDeep)
                    else str(error)[:120]
                )
                reason = translate("sms.callback.bad_body", language, reason=detail)
                log.warning(
                    "%s push to %s refused: %s", provider, request.path.split("/")[-1], error
                )
                return _json(failure(reason), 400)
            try:
                return view(payload)
            except Exception:
                log.exception(
                    "%s push to %s failed; the provider will push again",
                    provider,
                    request.path.split("/")[-1],
                )
                return _json(failure("internal error"), 500)

        return wrapper

    return decorate


def _too_large_reason(language: str) -> str:
    return translate(
        "sms.callback.too_large",
        language,
        items=pushes.MAX_PUSH_ITEMS,
        megabytes=pushes.MAX_PUSH_BYTES // (1024 * 1024),
    )


def _aliyun_failure(reason: str) -> dict[str, Any]:
    return {"code": 1, "msg": reason}


def _tencent_failure(reason: str) -> dict[str, Any]:
    return {"result": 1, "errmsg": reason}


def _log(kind: str, result: pushes.PushResult) -> None:
    log.info(
        "%s push: %d accepted, %d duplicates, %d refused, %d unknown",
        kind,
        result.accepted,
        result.duplicates,
        result.rejected,
        result.unknown,
    )


@mainland_webhooks.post("/sms/aliyun/<secret>/up")
@push_route("aliyun", _aliyun_failure)
def aliyun_up(payload: Any) -> Response:
    _log(
        "aliyun up",
        pushes.receive_aliyun_up(current_db(), current_settings(), payload, clock_now()),
    )
    return _json(ALIYUN_OK)


@mainland_webhooks.post("/sms/aliyun/<secret>/report")
@push_route("aliyun", _aliyun_failure)
def aliyun_report(payload: Any) -> Response:
    _log("aliyun report", pushes.receive_aliyun_report(current_db(), payload, clock_now()))
    return _json(ALIYUN_OK)


@mainland_webhooks.post("/sms/tencent/<secret>/reply")
@push_route("tencent", _tencent_failure)
def tencent_reply(payload: Any) -> Response:
    _log(
        "tencent reply",
        pushes.receive_tencent_reply(current_db(), current_settings(), payload, clock_now()),
    )
    return _json(TENCENT_OK)


@mainland_webhooks.post("/sms/tencent/<secret>/status")
@push_route("tencent", _tencent_failure)
def tencent_status(payload: Any) -> Response:
    _log("tencent status", pushes.receive_tencent_status(current_db(), payload, clock_now()))
    return _json(TENCENT_OK)
