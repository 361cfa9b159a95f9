from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings

PRODUCTION = {
    "HUZHU_ENV": "production",
    "SECRET_KEY": "3f9a1c0e7b5d4a2f8e6c1b0a9d7f5e3c",
    "PUBLIC_BASE_URL": "https://huzhu.example.org",
}
ALIYUN = {
    "SMS_BACKEND": "aliyun",
    "ALIYUN_ACCESS_KEY_ID": "LTAI-test",
    "ALIYUN_ACCESS_KEY_SECRET": "secret",
    "ALIYUN_SMS_SIGN_NAME": "介休卫健",
}
TENCENT = {
    "SMS_BACKEND": "tencent",
    "TENCENT_SECRET_ID": "AKID-test",
    "TENCENT_SECRET_KEY": "key",
    "TENCENT_SMS_APP_ID": "1400006666",
    "TENCENT_SMS_SIGN_NAME": "介休卫健",
}


def test_aliyun_backend_reads_its_settings() -> None:
    settings = load_settings({**ALIYUN, "ALIYUN_SMS_ENDPOINT": "http://127.0.0.1:8081"})
    assert settings.sms_backend == "aliyun"
    assert settings.aliyun_sms_sign_name == "介休卫健"
    assert settings.aliyun_sms_endpoint == "http://127.0.0.1:8081"
    assert settings.aliyun_sms_variable_limit == 35


def test_tencent_backend_defaults_to_the_official_endpoint_and_six_character_variables() -> None:
    settings = load_settings(TENCENT)
    assert settings.tencent_sms_endpoint == "sms.tencentcloudapi.com"
    assert settings.tencent_sms_variable_limit == 6


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SMS_BACKEND": "aliyun"},
            "ALIYUN_ACCESS_KEY_ID, ALIYUN_ACCESS_KEY_SECRET, ALIYUN_SMS_SIGN",
        ),
        ({**TENCENT, "TENCENT_SMS_APP_ID": ""}, "SMS_BACKEND=tencent needs TENCENT_SMS_APP_ID"),
        ({**ALIYUN, "ALIYUN_SMS_ENDPOINT": "ftp://x y"}, "ALIYUN_SMS_ENDPOINT"),
        ({"SMS_CALLBACK_SECRET": "short"}, "SMS_CALLBACK_SECRET must be 16-128"),
        ({"SMS_TEMPLATE_MAP": "/nonexistent/map.json"}, "SMS_TEMPLATE_MAP=.* is not a file"),
        ({"TENCENT_SMS_CALLBACK_IPS": "1.2.3.4,nine"}, "TENCENT_SMS_CALLBACK_IPS has 'nine'"),
        (
            {**ALIYUN, **PRODUCTION},
            "needs SMS_CALLBACK_SECRET, SMS_TEMPLATE_MAP",
        ),
    ],
)
def test_bad_mainland_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_production_starts_with_every_mainland_setting(tmp_path: Path) -> None:
    template_map = tmp_path / "map.json"
    template_map.write_text("{}", encoding="utf-8")
    settings = load_settings(
        {
            **TENCENT,
            **PRODUCTION,
            "SMS_CALLBACK_SECRET": "a" * 32,
            "SMS_TEMPLATE_MAP": str(template_map),
            "TENCENT_SMS_CALLBACK_IPS": "203.0.113.5, 198.51.100.0/24",
        }
    )
    assert settings.sms_template_map == template_map
    assert settings.tencent_callback_ips == ("203.0.113.5", "198.51.100.0/24")
