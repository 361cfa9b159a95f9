from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import click
import pytest

from config.settings import DEVELOPMENT_SECRET_KEY, SettingsError, load_settings

STRONG_KEY = "3f9a1c0e7b5d4a2f8e6c1b0a9d7f5e3c"
PRODUCTION = {
    "HUZHU_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "PUBLIC_BASE_URL": "https://huzhu.example.org",
}
TWILIO = {
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+15005550006",
}


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/huzhu.db")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_language == "zh_CN"
    assert settings.sms_backend == "console"
    assert settings.sms_rate_per_second == 0  # the console is not paced
    assert str(settings.quiet_hours) == "21:00-08:00"
    assert settings.trusted_proxy_count == 0
    assert settings.twilio_api_base_url == "https://api.twilio.com"


def test_production_refuses_to_start_without_secret_key() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        load_settings({"HUZHU_ENV": "production"})


def test_production_with_secret_key_starts() -> None:
    settings = load_settings(PRODUCTION)
    assert settings.secret_key == STRONG_KEY
    assert settings.is_production


def test_development_falls_back_to_a_development_key() -> None:
    assert load_settings({}).secret_key == DEVELOPMENT_SECRET_KEY


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"DEFAULT_LANGUAGE": "fr"}, "DEFAULT_LANGUAGE"),
        ({"SMS_BACKEND": "pigeon"}, "SMS_BACKEND"),
        ({"SMS_RATE_PER_SECOND": "fast"}, "SMS_RATE_PER_SECOND"),
        ({"SMS_RATE_PER_SECOND": "-1"}, "SMS_RATE_PER_SECOND"),
        ({"SMS_RATE_PER_SECOND": "nan"}, "SMS_RATE_PER_SECOND='nan' must be a finite number"),
        ({"SMS_LEASE_SECONDS": "10"}, "SMS_LEASE_SECONDS='10' must be at least 60"),
        ({"QUIET_HOURS": "9pm to 8am"}, "QUIET_HOURS"),
        ({"QUIET_HOURS": "25:00-08:00"}, "QUIET_HOURS"),
        ({"TRUSTED_PROXY_COUNT": "one"}, "TRUSTED_PROXY_COUNT"),
        ({"HUZHU_ENV": "staging"}, "HUZHU_ENV"),
        ({"TWILIO_VALIDATE_SIGNATURE": "maybe"}, "TWILIO_VALIDATE_SIGNATURE"),
        ({"SMS_BACKEND": "twilio"}, "TWILIO_ACCOUNT_SID"),
        ({**TWILIO, **PRODUCTION, "PUBLIC_BASE_URL": ""}, "needs PUBLIC_BASE_URL"),
        ({**PRODUCTION, "PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL is not set"),
        ({**PRODUCTION, "SECRET_KEY": "x"}, "SECRET_KEY is too weak"),
        ({**PRODUCTION, "SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "SECRET_KEY is too weak"),
        ({**PRODUCTION, "SECRET_KEY": "CHANGEME"}, "SECRET_KEY is too weak"),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL='verbose' must be one of DEBUG, INFO"),
        ({"PUBLIC_BASE_URL": "huzhu.example.org"}, r"PUBLIC_BASE_URL=.* https://"),
        ({"PUBLIC_BASE_URL": "https://huzhu.example.org/?x=1"}, "PUBLIC_BASE_URL"),
        ({"TWILIO_API_BASE_URL": "localhost:4010"}, "TWILIO_API_BASE_URL"),
        ({"DATABASE_READ_URL": "replica.example.org"}, "DATABASE_READ_URL is not a database URL"),
        (
            {"DATABASE_READ_URL": "postgresql+psycopg://reader@replica/huzhu"},
            "DATABASE_READ_URL is a postgresql database but DATABASE_URL is sqlite",
        ),
        ({**TWILIO, "TWILIO_ACCOUNT_SID": "SK" + "0" * 32}, r"TWILIO_ACCOUNT_SID=.* AC"),
        (
            {**TWILIO, "TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": "MG123"},
            r"TWILIO_MESSAGING_SERVICE_SID=.* MG",
        ),
        (
            {**PRODUCTION, "TWILIO_VALIDATE_SIGNATURE": "false"},
            "development only",
        ),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_twilio_backend_needs_a_sender() -> None:
    with pytest.raises(SettingsError, match="TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"):
        load_settings({**TWILIO, "TWILIO_FROM_NUMBER": ""})


def test_quiet_hours_wrap_over_midnight() -> None:
    quiet = load_settings({"QUIET_HOURS": "21:00-08:00"}).quiet_hours
    assert quiet.contains(time(21, 0))
    assert quiet.contains(time(23, 59))
    assert quiet.contains(time(7, 59))
    assert not quiet.contains(time(8, 0))
    assert not quiet.contains(time(12, 0))


def test_quiet_hours_can_be_switched_off() -> None:
    quiet = load_settings({"QUIET_HOURS": "00:00-00:00"}).quiet_hours
    assert not quiet.contains(time(3, 0))


def test_a_read_replica_is_optional_and_of_the_primary_s_kind() -> None:
    assert load_settings({}).database_read_url is None
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql+psycopg://huzhu@primary/huzhu",
            "DATABASE_READ_URL": "postgresql+psycopg://huzhu_read:secret@replica/huzhu",
        }
    )
    assert settings.database_read_url == "postgresql+psycopg://huzhu_read:secret@replica/huzhu"


def test_a_bad_read_url_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"DATABASE_READ_URL": "mysql://reader:hunter2@replica/huzhu"})
    assert "hunter2" not in str(refused.value)


def test_overrides_reject_unknown_names() -> None:
    with pytest.raises(SettingsError, match="unknown settings: databse_url"):
        load_settings({}).with_overrides({"databse_url": "sqlite://"})


def test_a_complete_twilio_setup_loads() -> None:
    settings = load_settings(
        {
            **TWILIO,
            "HUZHU_ENV": "production",
            "SECRET_KEY": STRONG_KEY,
            "PUBLIC_BASE_URL": "https://huzhu.example.org/county/",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:4010/",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.public_base_url == "https://huzhu.example.org/county"
    assert settings.twilio_api_base_url == "http://127.0.0.1:4010"
    assert settings.sms_rate_per_second == 1.0
    assert settings.log_level == "DEBUG"


def test_settings_errors_are_value_errors_and_print_alone_on_the_cli() -> None:
    with pytest.raises(ValueError) as raised:
        load_settings({"HUZHU_ENV": "production"})
    assert isinstance(raised.value, click.ClickException)
    assert raised.value.format_message().startswith("SECRET_KEY is not set")


def test_escalation_settings_have_their_defaults() -> None:
    settings = load_settings({})
    assert settings.escalation_timeouts.as_dict() == {
        "doctor": 10,
        "clinic": 10,
        "township": 15,
        "county": 15,
    }
    assert (settings.county_duty_phone, settings.voice_backend) == (None, "console")


def test_escalation_timeouts_and_the_county_duty_phone_are_read() -> None:
    settings = load_settings(
        {"ESCALATION_TIMEOUTS": "doctor=5, county=30", "COUNTY_DUTY_PHONE": "13912345678"}
    )
    assert str(settings.escalation_timeouts) == "doctor=5,clinic=10,township=15,county=30"
    assert settings.county_duty_phone == "+8613912345678"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ESCALATION_TIMEOUTS": "doctor=ten"}, "is not LEVEL=MINUTES"),
        ({"ESCALATION_TIMEOUTS": "nurse=5"}, "is not LEVEL=MINUTES"),
        ({"ESCALATION_TIMEOUTS": "doctor=0"}, "doctor must wait 1 to 240 minutes"),
        ({"COUNTY_DUTY_PHONE": "12345"}, "COUNTY_DUTY_PHONE='12345' is not a phone number"),
        ({"VOICE_BACKEND": "sip"}, "VOICE_BACKEND='sip' must be one of"),
        ({"VOICE_BACKEND": "twilio"}, "VOICE_BACKEND=twilio needs TWILIO_ACCOUNT_SID"),
    ],
)
def test_bad_escalation_settings_say_what_to_fix(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_every_setting_read_is_in_the_configuration_reference() -> None:
    root = Path(__file__).resolve().parents[2]
    read: set[str] = set()

    def remember(name: str) -> str | None:
        read.add(name)
        return None

    environ = _Recording(remember)
    load_settings(environ)
    reference = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    gunicorn = (root / "config" / "gunicorn_conf.py").read_text(encoding="utf-8")
    read |= set(re.findall(r"environ\.get\([\"']([A-Z_]+)[\"']", gunicorn))
    assert len(read) > 30
    assert sorted(name for name in read if f"`{name}`" not in reference) == []


class _Recording(dict[str, str]):
    """An empty environment that notes every variable asked of it."""

    def __init__(self, remember: Callable[[str], str | None]) -> None:
        super().__init__()
        self._remember = remember

    def get(self, key: str, default: Any = None) -> Any:
        self._remember(key)
        return default

    def __getitem__(self, key: str) -> str:
        self._remember(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._remember(key)
        return False
