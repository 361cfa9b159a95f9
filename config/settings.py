"""Typed settings read from environment variables, in one place.

Every variable the service understands is listed in `Settings`; docs/configuration.md
documents the same names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from config.mainland_settings import (
    check_mainland_settings,
    mainland_missing,
    mainland_sms_settings,
)
from config.setting_values import SettingsError, _number
from config.thresholds import CriticalThresholds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEVELOPMENT_SECRET_KEY = "development-only-secret-key"
MINIMUM_SECRET_KEY_LENGTH = 32
# Values that appear in documentation and examples: anyone can sign a session with them.
KNOWN_SECRET_KEYS = frozenset(
    {
        DEVELOPMENT_SECRET_KEY,
        "changeme",
        "change-me",
        "secret",
        "secret-key",
        "your-secret-key",
        "dev",
        "development",
    }
)
SUPPORTED_LANGUAGES = ("zh_CN", "en")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SMS_BACKENDS = ("console", "memory", "twilio", "aliyun", "tencent")
MAINLAND_BACKENDS = ("aliyun", "tencent")
VOICE_BACKENDS = ("console", "memory", "twilio", "aliyun", "tencent")
ENVIRONMENTS = ("development", "test", "production")
# A send may start until 3/4 of the lease and take up to the provider's 15 s
# timeout: the lease must leave room for that.
MINIMUM_LEASE_SECONDS = 60


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class EscalationTimeouts:
    """Minutes each step of the escalation ladder waits for an acknowledgement, one field
    per level in the ladder's order: the one list of levels and their defaults."""

    doctor: int = 10
    clinic: int = 10
    township: int = 15
    county: int = 15

    def minutes(self, level: str) -> int:
        return int(getattr(self, level))

    def as_dict(self) -> dict[str, int]:
        return {level: self.minutes(level) for level in ESCALATION_LEVELS}

    def __str__(self) -> str:
        return ",".join(f"{level}={minutes}" for level, minutes in self.as_dict().items())


ESCALATION_LEVELS = tuple(level.name for level in fields(EscalationTimeouts))
"""The ladder's levels, bottom first: `doctor`, `clinic`, `township`, `county`."""
DEFAULT_ESCALATION_TIMEOUTS = str(EscalationTimeouts())
"""`doctor=10,clinic=10,township=15,county=15`"""


def parse_escalation_timeouts(raw: str) -> EscalationTimeouts:
    """`doctor=10,clinic=10,township=15,county=15`; levels left out keep their default."""
    values: dict[str, int] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, _, minutes = part.partition("=")
        name = name.strip().lower()
        if name not in ESCALATION_LEVELS or not minutes.strip().isdecimal():
            raise SettingsError(
                f"ESCALATION_TIMEOUTS={raw!r}: {part.strip()!r} is not LEVEL=MINUTES with a "
                f"level among {', '.join(ESCALATION_LEVELS)}, e.g. {DEFAULT_ESCALATION_TIMEOUTS}"
            )
        value = int(minutes)
        if not 1 <= value <= 240:
            raise SettingsError(
                f"ESCALATION_TIMEOUTS={raw!r}: {name} must wait 1 to 240 minutes, not {value}"
            )
        values[name] = value
    return EscalationTimeouts(**values)


def parse_critical_bp(raw: str) -> tuple[int, int]:
    """`180/110`: systolic/diastolic mmHg."""
    match = re.fullmatch(r"\s*(\d{2,3})\s*/\s*(\d{2,3})\s*", raw)
    if not match or not int(match[1]) > int(match[2]) > 0:
        raise SettingsError(f"CRITICAL_BP={raw!r} is not SYSTOLIC/DIASTOLIC mmHg, e.g. 180/110")
    return int(match[1]), int(match[2])


def _glucose(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise SettingsError(f"{name}={raw!r} is not a number of mmol/L, e.g. 16.7") from None
    if not value.is_finite() or not 0 < value < 50:
        raise SettingsError(f"{name}={raw!r} must be between 0 and 50 mmol/L")
    return value


def parse_critical(get: Callable[[str], str | None]) -> CriticalThresholds:
    systolic, diastolic = parse_critical_bp(get("CRITICAL_BP") or "180/110")
    high = _glucose("CRITICAL_GLUCOSE_HIGH", get("CRITICAL_GLUCOSE_HIGH") or "16.7")
    low = _glucose("CRITICAL_GLUCOSE_LOW", get("CRITICAL_GLUCOSE_LOW") or "3.9")
    if low >= high:
        raise SettingsError(
            f"CRITICAL_GLUCOSE_LOW={low} must be below CRITICAL_GLUCOSE_HIGH={high}"
        )
    hours = _number("CRITICAL_ACK_HOURS", get("CRITICAL_ACK_HOURS") or "24", int, 1)
    if hours > 168:
        raise SettingsError(f"CRITICAL_ACK_HOURS={hours} must be at most 168 (a week)")
    return CriticalThresholds(systolic, diastolic, high, low, hours)


DEFAULT_RAW_TEXT_RETENTION_DAYS = 400
MINIMUM_RAW_TEXT_RETENTION_DAYS = 30
"""Raw text is kept at least a month: delivery disputes and a provider's late retries
need it, and every rollup week it feeds has closed by then."""


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    database_url: str = ""
    database_read_url: str | None = None
    """A streaming replica for pages, exports and rollups (docs/deployment.md)."""
    secret_key: str = DEVELOPMENT_SECRET_KEY
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh_CN"
    public_base_url: str | None = None
    sms_backend: str = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_validate_signature: bool = True
    sms_rate_per_second: float = 1.0
    quiet_hours: QuietHours = field(default_factory=lambda: parse_quiet_hours("21:00-08:00"))
    sms_max_attempts: int = 6
    sms_lease_seconds: int = 120
    trusted_proxy_count: int = 0
    log_level: str = "INFO"
    escalation_timeouts: EscalationTimeouts = field(default_factory=EscalationTimeouts)
    county_duty_phone: str | None = None
    critical: CriticalThresholds = field(default_factory=CriticalThresholds)
    voice_backend: str = "console"
    inbound_spool_dir: str = str(INSTANCE_DIR / "spool")
    """Where inbound SMS wait when the database is unreachable (docs/resilience.md)."""
    raw_text_retention_days: int = DEFAULT_RAW_TEXT_RETENTION_DAYS
    """Days raw SMS text and full numbers are kept in the outbox and inbound tables
    (`raw-text-retention`, docs/partitions.md)."""
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: str | None = None
    aliyun_sms_sign_name: str | None = None
    aliyun_sms_endpoint: str = "dysmsapi.aliyuncs.com"
    aliyun_sms_variable_limit: int = 35
    tencent_secret_id: str | None = None
    tencent_secret_key: str | None = None
    tencent_sms_app_id: str | None = None
    tencent_sms_sign_name: str | None = None
    tencent_sms_endpoint: str = "sms.tencentcloudapi.com"
    tencent_sms_variable_limit: int = 6
    tencent_callback_ips: tuple[str, ...] = ()
    aliyun_voice_endpoint: str = "dyvmsapi.aliyuncs.com"
    aliyun_voice_show_number: str | None = None
    tencent_vms_app_id: str | None = None
    tencent_voice_endpoint: str = "vms.tencentcloudapi.com"
    sms_callback_secret: str | None = None
    sms_template_map: Path | None = None
    rollups_refresh_minutes: int = 15
    """How often `rollups-refresh` brings the current week's stored rollups up to date."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(unknown)}")
        return replace(self, **overrides)


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'huzhu.db'}"


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean: use true or false")


def parse_quiet_hours(raw: str) -> QuietHours:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    if not match:
        raise SettingsError(f"QUIET_HOURS={raw!r} is not of the form HH:MM-HH:MM, e.g. 21:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SettingsError(f"QUIET_HOURS={raw!r} has an hour or minute out of range")
    return QuietHours(time(h1, m1), time(h2, m2))


def database_backend(url: str) -> str:
    """`postgresql` of `postgresql+psycopg://...`, `sqlite` of `sqlite:///...`."""
    return urlsplit(url).scheme.partition("+")[0]


DATABASE_EXAMPLES = "postgresql+psycopg://huzhu@db.example.org/huzhu or sqlite:///instance/huzhu.db"
_DRIVERS = {"postgresql": "psycopg", "sqlite": "pysqlite"}
"""The one driver the project installs for each database it runs on."""
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:\+([A-Za-z0-9_]+))?://")


def parse_database_url(name: str, raw: str) -> str:
    """A SQLAlchemy URL of PostgreSQL or SQLite. `postgresql://` and `postgres://` (as
    hosting services write them) are read with psycopg, the driver installed."""
    value = raw.strip()
    match = _SCHEME.match(value)
    if not match:
        raise SettingsError(f"{name} is not a database URL: write it like {DATABASE_EXAMPLES}")
    backend, driver = match.group(1).lower(), (match.group(2) or "").lower()
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _DRIVERS:
        raise SettingsError(
            f"{name} names a {backend} database: Huzhu runs on PostgreSQL or SQLite, "
            f"e.g. {DATABASE_EXAMPLES}"
        )
    if driver and driver != _DRIVERS[backend]:
        raise SettingsError(
            f"{name} asks for the {driver} driver, which is not installed: "
            f"write {backend}+{_DRIVERS[backend]}:// (or {backend}://)"
        )
    if backend == "postgresql":
        return f"postgresql+psycopg://{value[match.end() :]}"
    return value


def parse_read_url(raw: str, database_url: str) -> str:
    """DATABASE_READ_URL: a database of the same kind as DATABASE_URL (its replica)."""
    if "://" in raw:
        raw = parse_database_url("DATABASE_READ_URL", raw)
    backend, primary = database_backend(raw), database_backend(database_url)
    if not backend or "://" not in raw:
        raise SettingsError(
            "DATABASE_READ_URL is not a database URL: give a SQLAlchemy URL of the "
            "replica, e.g. postgresql+psycopg://huzhu_read@replica.example.org/huzhu"
        )
    if backend != primary:
        raise SettingsError(
            f"DATABASE_READ_URL is a {backend} database but DATABASE_URL is {primary}: "
            "the read URL must name a replica of DATABASE_URL's database, or be left unset"
        )
    return raw


def parse_base_url(name: str, raw: str) -> str:
    """An absolute http(s) URL, maybe with a path prefix, without its trailing slash."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"{name}={raw!r} is not a base URL: give scheme, host and any path prefix, "
            "e.g. https://huzhu.example.org, without query or fragment"
        )
    return raw.rstrip("/")


def parse_phone(name: str, raw: str) -> str:
    """A phone number in E.164; a bare 11-digit Chinese mobile is accepted."""
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise SettingsError(
            f"{name}={raw!r} is not a phone number: give a mobile in E.164 form, "
            "e.g. +8613912345678"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _sid(name: str, raw: str | None, prefix: str) -> str | None:
    if raw is not None and not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", raw):
        raise SettingsError(
            f"{name}={raw!r} is not a Twilio SID: {prefix} and 32 hexadecimal digits, "
            "as shown in the Twilio console"
        )
    return raw


def parse_refresh_minutes(raw: str) -> int:
    """ROLLUPS_REFRESH_MINUTES: a divisor of 60, so the refresh keeps to the clock's
    quarter hours (or halves, tens, ...)."""
    minutes = _number("ROLLUPS_REFRESH_MINUTES", raw, int, 1)
    if minutes > 60 or 60 % minutes:
        raise SettingsError(
            f"ROLLUPS_REFRESH_MINUTES={raw!r} must divide an hour: "
            "1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60"
        )
    return int(minutes)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise `SettingsError` naming what to fix."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value.strip() if value and value.strip() else None

    environment = (get("HUZHU_ENV") or "development").lower()
    if environment not in ENVIRONMENTS:
        raise SettingsError(f"HUZHU_ENV={environment!r} must be one of {', '.join(ENVIRONMENTS)}")

    secret_key = get("SECRET_KEY")
    if secret_key is None:
        if environment == "production":
            raise SettingsError(
                "SECRET_KEY is not set: production refuses to start without it. "
                'Set it to a long random value, e.g. python -c "import secrets; '
                'print(secrets.token_hex(32))"'
            )
        secret_key = DEVELOPMENT_SECRET_KEY
    if environment == "production":
        check_secret_key(secret_key)

    timezone = get("TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TIMEZONE={timezone!r} is not a known time zone") from None

    language = get("DEFAULT_LANGUAGE") or "zh_CN"
    if language not in SUPPORTED_LANGUAGES:
        raise SettingsError(
            f"DEFAULT_LANGUAGE={language!r} must be one of {', '.join(SUPPORTED_LANGUAGES)}"
        )

    backend = (get("SMS_BACKEND") or "console").lower()
    if backend not in SMS_BACKENDS:
        raise SettingsError(f"SMS_BACKEND={backend!r} must be one of {', '.join(SMS_BACKENDS)}")

    voice_backend = (get("VOICE_BACKEND") or "console").lower()
    if voice_backend not in VOICE_BACKENDS:
        raise SettingsError(
            f"VOICE_BACKEND={voice_backend!r} must be one of {', '.join(VOICE_BACKENDS)}"
        )
    county_duty_phone = get("COUNTY_DUTY_PHONE")
    if county_duty_phone is not None:
        county_duty_phone = parse_phone("COUNTY_DUTY_PHONE", county_duty_phone)

    public_base_url = get("PUBLIC_BASE_URL")
    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError(
            f"LOG_LEVEL={log_level.lower()!r} must be one of {', '.join(LOG_LEVELS)}"
        )

    validate_signature = parse_bool(
        "TWILIO_VALIDATE_SIGNATURE", get("TWILIO_VALIDATE_SIGNATURE") or "true"
    )
    if not validate_signature and environment == "production":
        raise SettingsError(
            "TWILIO_VALIDATE_SIGNATURE=false is for development only; "
            "production always checks X-Twilio-Signature"
        )

    database_url = parse_database_url("DATABASE_URL", get("DATABASE_URL") or default_database_url())
    read_url = get("DATABASE_READ_URL")
    settings = Settings(
        environment=environment,
        database_url=database_url,
        database_read_url=parse_read_url(read_url, database_url) if read_url else None,
        secret_key=secret_key,
        timezone=timezone,
        default_language=language,
        public_base_url=(
            parse_base_url("PUBLIC_BASE_URL", public_base_url) if public_base_url else None
        ),
        sms_backend=backend,
        twilio_account_sid=_sid("TWILIO_ACCOUNT_SID", get("TWILIO_ACCOUNT_SID"), "AC"),
        twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
        twilio_from_number=get("TWILIO_FROM_NUMBER"),
        twilio_messaging_service_sid=_sid(
            "TWILIO_MESSAGING_SERVICE_SID", get("TWILIO_MESSAGING_SERVICE_SID"), "MG"
        ),
        twilio_api_base_url=parse_base_url(
            "TWILIO_API_BASE_URL", get("TWILIO_API_BASE_URL") or "https://api.twilio.com"
        ),
        twilio_validate_signature=validate_signature,
        # The console prints at once: no provider to pace for, unless asked to.
        sms_rate_per_second=_number(
            "SMS_RATE_PER_SECOND",
            get("SMS_RATE_PER_SECOND") or ("0" if backend == "console" else "1"),
            float,
            0,
        ),
        quiet_hours=parse_quiet_hours(get("QUIET_HOURS") or "21:00-08:00"),
        sms_max_attempts=_number("SMS_MAX_ATTEMPTS", get("SMS_MAX_ATTEMPTS") or "6", int, 1),
        sms_lease_seconds=_number(
            "SMS_LEASE_SECONDS", get("SMS_LEASE_SECONDS") or "120", int, MINIMUM_LEASE_SECONDS
        ),
        trusted_proxy_count=_number(
            "TRUSTED_PROXY_COUNT", get("TRUSTED_PROXY_COUNT") or "0", int, 0
        ),
        log_level=log_level,
        escalation_timeouts=parse_escalation_timeouts(
            get("ESCALATION_TIMEOUTS") or DEFAULT_ESCALATION_TIMEOUTS
        ),
        county_duty_phone=county_duty_phone,
        critical=parse_critical(get),
        voice_backend=voice_backend,
        inbound_spool_dir=get("INBOUND_SPOOL_DIR") or str(INSTANCE_DIR / "spool"),
        raw_text_retention_days=_number(
            "RAW_TEXT_RETENTION_DAYS",
            get("RAW_TEXT_RETENTION_DAYS") or str(DEFAULT_RAW_TEXT_RETENTION_DAYS),
            int,
            MINIMUM_RAW_TEXT_RETENTION_DAYS,
        ),
        rollups_refresh_minutes=parse_refresh_minutes(get("ROLLUPS_REFRESH_MINUTES") or "15"),
        **mainland_sms_settings(get),
    )
    check_sms_settings(settings)
    check_voice_settings(settings)
    if settings.is_production and not settings.public_base_url:
        # The webhooks are always served; without PUBLIC_BASE_URL signatures would be
        # checked against the Host header, which the caller chooses.
        raise SettingsError(
            "PUBLIC_BASE_URL is not set: production needs the https address Twilio and the "
            "SMS providers call (e.g. https://huzhu.example.org), so that webhook signatures "
            "are checked against it rather than against the request's own Host"
        )
    return settings


def _twilio_missing(settings: Settings, *more: tuple[str, str | None]) -> list[str]:
    """The Twilio credentials, and `more` (name, value) settings, that are not set."""
    required = (
        ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
        ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
        *more,
    )
    return [name for name, value in required if not value]


VOICE_REQUIRED = {
    "aliyun": (
        ("ALIYUN_ACCESS_KEY_ID", "aliyun_access_key_id"),
        ("ALIYUN_ACCESS_KEY_SECRET", "aliyun_access_key_secret"),
    ),
    "tencent": (
        ("TENCENT_SECRET_ID", "tencent_secret_id"),
        ("TENCENT_SECRET_KEY", "tencent_secret_key"),
        ("TENCENT_VMS_APP_ID", "tencent_vms_app_id"),
    ),
}
"""What each mainland voice backend cannot call without (credentials shared with SMS);
production also needs the callback secret (no call results otherwise) and the template
map (no call otherwise)."""


def check_voice_settings(settings: Settings) -> None:
    if settings.voice_backend in VOICE_REQUIRED:
        missing = mainland_missing(settings, VOICE_REQUIRED[settings.voice_backend])
        if missing:
            raise SettingsError(
                f"VOICE_BACKEND={settings.voice_backend} needs {', '.join(missing)}"
            )
        return
    if settings.voice_backend != "twilio":
        return
    missing = _twilio_missing(
        settings,
        ("TWILIO_FROM_NUMBER", settings.twilio_from_number),
        ("PUBLIC_BASE_URL", settings.public_base_url),
    )
    if missing:
        raise SettingsError(
            f"VOICE_BACKEND=twilio needs {', '.join(missing)} (calls come from "
            "TWILIO_FROM_NUMBER; the keypress comes back to PUBLIC_BASE_URL/voice/twilio/gather)"
        )


def check_secret_key(secret_key: str) -> None:
    """Production signs sessions with a key nobody can guess: long, not a published value."""
    if secret_key.lower() in KNOWN_SECRET_KEYS or len(secret_key) < MINIMUM_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"SECRET_KEY is too weak for production: use at least {MINIMUM_SECRET_KEY_LENGTH} "
            "random characters, not a documented value, e.g. "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )


def check_sms_settings(settings: Settings) -> None:
    if settings.sms_backend in MAINLAND_BACKENDS:
        check_mainland_settings(settings)
        return
    if settings.sms_backend != "twilio":
        return
    missing = _twilio_missing(settings)
    if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
        missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if missing:
        raise SettingsError(f"SMS_BACKEND=twilio needs {', '.join(missing)}")
    if settings.is_production and not settings.public_base_url:
        raise SettingsError(
            "SMS_BACKEND=twilio in production needs PUBLIC_BASE_URL, the https address "
            "Twilio calls: without it no delivery status comes back"
        )
