"""The Aliyun and Tencent Cloud settings (SMS and voice), read and checked."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.setting_values import SettingsError, _number

if TYPE_CHECKING:
    from config.settings import Settings


def parse_endpoint(name: str, raw: str) -> str:
    """`host`, `host:port`, or `http(s)://host:port` (a local stand-in in tests)."""
    if not re.fullmatch(r"(?:https?://)?[A-Za-z0-9.-]+(?::\d{1,5})?/?", raw):
        raise SettingsError(
            f"{name}={raw!r} is not an endpoint: give a host such as dysmsapi.aliyuncs.com, "
            "host:port, or http://127.0.0.1:8081 for a local stand-in"
        )
    return raw.rstrip("/")


def mainland_sms_settings(get: Callable[[str], str | None]) -> dict[str, Any]:
    """The Aliyun and Tencent Cloud settings, checked (credentials are checked later)."""
    ips = tuple(
        ip.strip() for ip in (get("TENCENT_SMS_CALLBACK_IPS") or "").split(",") if ip.strip()
    )
    for ip in ips:
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            raise SettingsError(
                f"TENCENT_SMS_CALLBACK_IPS has {ip!r}, not an IP address or network: "
                "give a comma-separated list such as 203.0.113.5,198.51.100.0/24"
            ) from None
    secret = get("SMS_CALLBACK_SECRET")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", secret):
        raise SettingsError(
            "SMS_CALLBACK_SECRET must be 16-128 letters, digits, '-' or '_' (it is a URL path "
            'segment), e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    template_map = get("SMS_TEMPLATE_MAP")
    if template_map is not None and not Path(template_map).is_file():
        raise SettingsError(
            f"SMS_TEMPLATE_MAP={template_map!r} is not a file: give the path of the JSON file "
            'mapping templates to provider ids, e.g. {"aliyun": {"zh_CN": '
            '{"sms.urgent.doctor": "SMS_123"}}}'
        )
    return {
        "aliyun_access_key_id": get("ALIYUN_ACCESS_KEY_ID"),
        "aliyun_access_key_secret": get("ALIYUN_ACCESS_KEY_SECRET"),
        "aliyun_sms_sign_name": get("ALIYUN_SMS_SIGN_NAME"),
        "aliyun_sms_endpoint": parse_endpoint(
            "ALIYUN_SMS_ENDPOINT", get("ALIYUN_SMS_ENDPOINT") or "dysmsapi.aliyuncs.com"
        ),
        "aliyun_sms_variable_limit": _number(
            "ALIYUN_SMS_VARIABLE_LIMIT", get("ALIYUN_SMS_VARIABLE_LIMIT") or "35", int, 1
        ),
        "tencent_secret_id": get("TENCENT_SECRET_ID"),
        "tencent_secret_key": get("TENCENT_SECRET_KEY"),
        "tencent_sms_app_id": get("TENCENT_SMS_APP_ID"),
        "tencent_sms_sign_name": get("TENCENT_SMS_SIGN_NAME"),
        "tencent_sms_endpoint": parse_endpoint(
            "TENCENT_SMS_ENDPOINT", get("TENCENT_SMS_ENDPOINT") or "sms.tencentcloudapi.com"
        ),
        "tencent_sms_variable_limit": _number(
            "TENCENT_SMS_VARIABLE_LIMIT", get("TENCENT_SMS_VARIABLE_LIMIT") or "6", int, 1
        ),
        "tencent_callback_ips": ips,
        "aliyun_voice_endpoint": parse_endpoint(
            "ALIYUN_VOICE_ENDPOINT", get("ALIYUN_VOICE_ENDPOINT") or "dyvmsapi.aliyuncs.com"
        ),
        "aliyun_voice_show_number": get("ALIYUN_VOICE_SHOW_NUMBER"),
        "tencent_vms_app_id": get("TENCENT_VMS_APP_ID"),
        "tencent_voice_endpoint": parse_endpoint(
            "TENCENT_VOICE_ENDPOINT", get("TENCENT_VOICE_ENDPOINT") or "vms.tencentcloudapi.com"
        ),
        "sms_callback_secret": secret,
        "sms_template_map": Path(template_map) if template_map else None,
    }


MAINLAND_REQUIRED = {
    "aliyun": (
        ("ALIYUN_ACCESS_KEY_ID", "aliyun_access_key_id"),
        ("ALIYUN_ACCESS_KEY_SECRET", "aliyun_access_key_secret"),
        ("ALIYUN_SMS_SIGN_NAME", "aliyun_sms_sign_name"),
    ),
    "tencent": (
        ("TENCENT_SECRET_ID", "tencent_secret_id"),
        ("TENCENT_SECRET_KEY", "tencent_secret_key"),
        ("TENCENT_SMS_APP_ID", "tencent_sms_app_id"),
        ("TENCENT_SMS_SIGN_NAME", "tencent_sms_sign_name"),
    ),
}
"""What each mainland backend cannot send without; production also needs the callback
secret (no replies or receipts otherwise) and the template map (no message otherwise)."""


def mainland_missing(settings: Settings, required: Sequence[tuple[str, str]]) -> list[str]:
    """The settings of `required` (name, attribute) that are not set; in production the
    callback secret and the template map too."""
    wanted = list(required)
    if settings.is_production:
        wanted += [
            ("SMS_CALLBACK_SECRET", "sms_callback_secret"),
            ("SMS_TEMPLATE_MAP", "sms_template_map"),
        ]
    return [name for name, attribute in wanted if not getattr(settings, attribute)]


def check_mainland_settings(settings: Settings) -> None:
    missing = mainland_missing(settings, MAINLAND_REQUIRED[settings.sms_backend])
    if missing:
        raise SettingsError(f"SMS_BACKEND={settings.sms_backend} needs {', '.join(missing)}")
