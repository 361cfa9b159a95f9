"""The push routes of Aliyun and Tencent Cloud voice, under the SMS push routes' secret path.

`POST /voice/aliyun/<secret>/report` (Aliyun `VoiceReport`, a JSON array),
`POST /voice/tencent/<secret>/status` (`voiceprompt_callback`, `voice_failure_callback`)
and `POST /voice/tencent/<secret>/keypress` (`voicekey_callback`). Checked and answered
as the SMS pushes are (`webhooks.push_route`): 404 without `SMS_CALLBACK_SECRET`, 403
for a Tencent source outside `TENCENT_SMS_CALLBACK_IPS`, 400 for a body that is not
JSON, 500 (the provider pushes again) when processing fails.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from config.runtime import current_settings
from config.runtime import now as clock_now
from grids.storage.session import current_db
from notifications.mainland import voice_pushes
from notifications.mainland.webhooks import ALIYUN_OK, TENCENT_OK, _json, _log, push_route

mainland_voice = Blueprint("mainland_voice", __name__)


def _aliyun_failure(reason: str) -> dict[str, Any]:
    return {"code": 1, "msg": reason}


def _tencent_failure(reason: str) -> dict[str, Any]:
    return {"result": 1, "errmsg": reason}


@mainland_voice.post("/voice/aliyun/<secret>/report")
@push_route("aliyun", _aliyun_failure, voice=True)
def aliyun_report(payload: Any) -> Response:
    result = voice_pushes.receive_aliyun_report(
        current_db(), current_settings(), payload, clock_now()
    )
    _log("aliyun voice report", result)
    return _json(ALIYUN_OK)


@mainland_voice.post("/voice/tencent/<secret>/status")
@push_route("tencent", _tencent_failure, voice=True)
def tencent_status(payload: Any) -> Response:
    result = voice_pushes.receive_tencent_status(
        current_db(), current_settings(), payload, clock_now()
    )
    _log("tencent voice status", result)
    return _json(TENCENT_OK)


@mainland_voice.post("/voice/tencent/<secret>/keypress")
@push_route("tencent", _tencent_failure, voice=True)
def tencent_keypress(payload: Any) -> Response:
    result = voice_pushes.receive_tencent_keypress(
        current_db(), current_settings(), payload, clock_now()
    )
    _log("tencent keypress", result)
    return _json(TENCENT_OK)
