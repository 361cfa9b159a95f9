"""Template maps and settings for tests of the Aliyun and Tencent Cloud backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from i18n import LANGUAGES
from notifications.provider_templates import SENT_TEMPLATES, VOICE_TEMPLATES

CALLBACK_SECRET = "cb-secret-0123456789abcdef"


def template_ids(backend: str) -> dict[str, dict[str, str]]:
    """A made-up approved id for every template (SMS and voice) in every language."""
    ids: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        ids[language] = {}
        for index, name in enumerate(SENT_TEMPLATES, start=1):
            number = (100 if language == "zh_CN" else 200) + index
            ids[language][name] = f"SMS_{number}" if backend == "aliyun" else str(1000 + number)
        for index, name in enumerate(VOICE_TEMPLATES, start=1):
            number = (500 if language == "zh_CN" else 600) + index
            ids[language][name] = f"TTS_{number}" if backend == "aliyun" else str(1000 + number)
    return ids


def write_template_map(path: Path, *, leave_out: tuple[str, ...] = ()) -> Path:
    data: dict[str, Any] = {backend: template_ids(backend) for backend in ("aliyun", "tencent")}
    for backend in data.values():
        for ids in backend.values():
            for name in leave_out:
                ids.pop(name, None)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def aliyun_settings(endpoint: str, template_map: Path) -> dict[str, Any]:
    return {
        "sms_backend": "aliyun",
        "aliyun_access_key_id": "LTAI-test",
        "aliyun_access_key_secret": "aliyun-secret",
        "aliyun_sms_sign_name": "介休卫健",
        "aliyun_sms_endpoint": endpoint,
        "sms_template_map": template_map,
        "sms_callback_secret": CALLBACK_SECRET,
    }


def tencent_settings(endpoint: str, template_map: Path) -> dict[str, Any]:
    return {
        "sms_backend": "tencent",
        "tencent_secret_id": "AKID-test",
        "tencent_secret_key": "tencent-key",
        "tencent_sms_app_id": "1400006666",
        "tencent_sms_sign_name": "介休卫健",
        "tencent_sms_endpoint": endpoint,
        "sms_template_map": template_map,
        "sms_callback_secret": CALLBACK_SECRET,
    }


ALIYUN_SHOW_NUMBER = "057112345678"
TENCENT_VMS_APP_ID = "1400009999"


def aliyun_voice_settings(endpoint: str) -> dict[str, Any]:
    """`VOICE_BACKEND=aliyun` beside `aliyun_settings` (the same credentials)."""
    return {
        "voice_backend": "aliyun",
        "aliyun_access_key_id": "LTAI-test",
        "aliyun_access_key_secret": "aliyun-secret",
        "aliyun_voice_endpoint": endpoint,
        "aliyun_voice_show_number": ALIYUN_SHOW_NUMBER,
    }


def tencent_voice_settings(endpoint: str) -> dict[str, Any]:
    """`VOICE_BACKEND=tencent` beside `tencent_settings` (the same credentials)."""
    return {
        "voice_backend": "tencent",
        "tencent_secret_id": "AKID-test",
        "tencent_secret_key": "tencent-key",
        "tencent_vms_app_id": TENCENT_VMS_APP_ID,
        "tencent_voice_endpoint": endpoint,
    }
