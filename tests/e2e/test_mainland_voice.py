"""Calls through the official Aliyun and Tencent Cloud voice SDKs to local stand-ins, the
voice templates in `outbox templates`, and the voice pushes checked item by item."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask

from config.settings import Settings, SettingsError, load_settings
from grids.core.notices import Notice
from grids.storage.session import database_of
from notifications.outbox import enqueue
from notifications.provider_templates import (
    SENT_TEMPLATES,
    VOICE_TEMPLATES,
    TemplateNotSendable,
    voice_policy,
)
from notifications.providers import (
    OutgoingMessage,
    PermanentSendError,
    ProviderAccountError,
    TransientSendError,
)
from notifications.providers.aliyun_voice import AliyunVoiceProvider, called_number
from notifications.providers.tencent_voice import TencentVoiceProvider
from notifications.providers.voice import build_voice_provider
from tests.support.app import empty_all_tables, make_app
from tests.support.mainland import (
    CALLBACK_SECRET,
    aliyun_settings,
    aliyun_voice_settings,
    template_ids,
    tencent_voice_settings,
    write_template_map,
)
from tests.support.mainland_standins import AliyunStandIn, TencentVoiceStandIn

THURSDAY = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DOCTOR = "+8613900000001"
PARAMS = {"code": "K7Q", "grid": "JXV01-HTN01", "seat": "5", "name": "张三", "text": "头晕站不稳"}


def message(to: str = DOCTOR, language: str = "zh_CN") -> OutgoingMessage:
    return OutgoingMessage(
        to=to,
        template="voice.urgent",
        params=PARAMS,
        language=language,
        body="(the rendered text)",
        reference="esc:1:0:0:voice",
        outbox_id=42,
    )


@pytest.fixture
def aliyun_voice(aliyun: AliyunStandIn) -> AliyunVoiceProvider:
    provider = build_voice_provider(
        Settings(**aliyun_voice_settings(aliyun.endpoint)),
        voice_policy("aliyun", 35, {"aliyun": template_ids("aliyun")}),
    )
    assert isinstance(provider, AliyunVoiceProvider)
    return provider


@pytest.fixture
def tencent_voice_provider(tencent_voice: TencentVoiceStandIn) -> TencentVoiceProvider:
    provider = build_voice_provider(
        Settings(**tencent_voice_settings(tencent_voice.endpoint)),
        voice_policy("tencent", 6, {"tencent": template_ids("tencent")}),
    )
    assert isinstance(provider, TencentVoiceProvider)
    return provider


# --- Aliyun SingleCallByTts ---


def test_aliyun_places_a_tts_call_played_twice_with_our_outbox_id(
    aliyun_voice: AliyunVoiceProvider, aliyun: AliyunStandIn
) -> None:
    result = aliyun_voice.call(message())
    [placed] = aliyun.calls_of("SingleCallByTts")
    assert result.provider_sid == placed.answer["CallId"]
    assert placed.headers["x-acs-action"] == "SingleCallByTts"
    assert placed.params["CalledNumber"] == "13900000001"
    assert (placed.params["TtsCode"], placed.params["PlayTimes"]) == ("TTS_501", "2")
    assert placed.params["OutId"] == "42"
    variables = json.loads(placed.params["TtsParam"])
    assert variables["text_1"] + variables["text_2"] == "头晕站不稳"  # 60 characters: two


def test_aliyun_calls_a_landline_with_its_area_code() -> None:
    assert called_number("+8657112345678") == "057112345678"
    assert called_number("+8613900000001") == "13900000001"
    assert called_number("+85291234567") == "85291234567"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (AliyunStandIn.error("isv.MOBILE_NUMBER_ILLEGAL", "号码格式非法"), PermanentSendError),
        (AliyunStandIn.error("isv.TTS_TEMPLATE_ILLEGAL", "模板不合法"), ProviderAccountError),
        (AliyunStandIn.error("isv.AMOUNT_NOT_ENOUGH", "余额不足"), ProviderAccountError),
        (AliyunStandIn.error("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控"), TransientSendError),
        (AliyunStandIn.http_error(503, "ServiceUnavailable"), TransientSendError),
        (AliyunStandIn.http_error(403, "Forbidden.NoPermission"), ProviderAccountError),
    ],
)
def test_aliyun_errors_are_classified_as_for_sms(
    aliyun_voice: AliyunVoiceProvider, aliyun: AliyunStandIn, answer: Any, error: type
) -> None:
    aliyun.script("SingleCallByTts", answer)
    with pytest.raises(error):
        aliyun_voice.call(message())
    assert len(aliyun.calls_of("SingleCallByTts")) == 1  # no SDK retry


def test_aliyun_voice_template_also_says_to_reply_by_sms() -> None:
    policy = voice_policy("aliyun", 35, {})
    assert "收到" in policy.template("voice.urgent", "zh_CN").text
    assert "ACK" in policy.template("voice.urgent", "en").text
    tencent = voice_policy("tencent", 6, {})
    assert tencent.template("voice.urgent", "zh_CN").text.endswith("确认接手请按1。")


# --- Tencent SendTtsVoice ---


def test_tencent_sends_tts_voice_with_the_app_and_session_context(
    tencent_voice_provider: TencentVoiceProvider, tencent_voice: TencentVoiceStandIn
) -> None:
    result = tencent_voice_provider.call(message())
    [placed] = tencent_voice.placed()
    assert result.provider_sid == tencent_voice.calls[0].answer["Response"]["SendStatus"]["CallId"]
    assert (placed["CalledNumber"], placed["VoiceSdkAppid"]) == (DOCTOR, "1400009999")
    assert (placed["TemplateId"], placed["PlayTimes"]) == ("1501", 2)
    assert placed["SessionContext"] == "42"
    assert "".join(placed["TemplateParamSet"]).startswith("K7QJXV01-HTN01")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("InvalidParameterValue.CalledNumberVerifyFail", PermanentSendError),
        ("FailedOperation.TemplateIncorrectOrUnapproved", ProviderAccountError),
        ("FailedOperation.InsufficientBalanceInVoicePackage", ProviderAccountError),
        ("LimitExceeded.DeliveryFrequencyLimit", TransientSendError),
        ("InternalError.UpstreamError", TransientSendError),
    ],
)
def test_tencent_errors_are_classified_as_for_sms(
    tencent_voice_provider: TencentVoiceProvider,
    tencent_voice: TencentVoiceStandIn,
    code: str,
    error: type,
) -> None:
    tencent_voice.script("SendTtsVoice", TencentVoiceStandIn.error(code, "refused"))
    with pytest.raises(error):
        tencent_voice_provider.call(message())
    assert len(tencent_voice.calls) == 1


# --- settings, templates at enqueue, the CLI ---


def test_a_mainland_voice_backend_needs_its_credentials() -> None:
    with pytest.raises(SettingsError, match="TENCENT_VMS_APP_ID"):
        load_settings(
            {"VOICE_BACKEND": "tencent", "TENCENT_SECRET_ID": "a", "TENCENT_SECRET_KEY": "b"}
        )
    settings = load_settings(
        {"VOICE_BACKEND": "aliyun", "ALIYUN_ACCESS_KEY_ID": "a", "ALIYUN_ACCESS_KEY_SECRET": "b"}
    )
    assert settings.aliyun_voice_endpoint == "dyvmsapi.aliyuncs.com"
    assert settings.tencent_voice_endpoint == "vms.tencentcloudapi.com"


@pytest.fixture
def aliyun_app(database_url: str, aliyun: AliyunStandIn, tmp_path: Path) -> Iterator[Flask]:
    template_map = write_template_map(tmp_path / "templates.json", leave_out=("voice.urgent",))
    settings = aliyun_settings(aliyun.endpoint, template_map) | aliyun_voice_settings(
        aliyun.endpoint
    )
    application = make_app(database_url, **settings)
    yield application
    empty_all_tables(database_of(application))
    database_of(application).dispose()


@pytest.fixture
def tencent_voice_app(
    database_url: str, aliyun: AliyunStandIn, tencent_voice: TencentVoiceStandIn, tmp_path: Path
) -> Iterator[Flask]:
    """Aliyun SMS with Tencent Cloud voice: each channel's provider chosen on its own."""
    template_map = write_template_map(tmp_path / "templates.json")
    settings = aliyun_settings(aliyun.endpoint, template_map) | tencent_voice_settings(
        tencent_voice.endpoint
    )
    application = make_app(database_url, **settings)
    yield application
    empty_all_tables(database_of(application))
    database_of(application).dispose()


def test_an_unmapped_voice_template_is_refused_when_queued(aliyun_app: Flask) -> None:
    notice = Notice(
        key="esc:1:0:0:+8613900000001:voice",
        phone=DOCTOR,
        language="zh_CN",
        template="voice.urgent",
        params=PARAMS,
        urgent=True,
        channel="voice",
    )
    with (
        aliyun_app.app_context(),
        database_of(aliyun_app).unit_of_work() as session,
        pytest.raises(TemplateNotSendable, match=r"voice\.urgent"),
    ):
        enqueue(session, notice, now=THURSDAY)


def test_templates_list_and_check_cover_the_voice_templates(aliyun_app: Flask) -> None:
    runner = aliyun_app.test_cli_runner()
    listed = runner.invoke(args=["outbox", "templates", "list", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.output)["items"]
    assert len(items) == 2 * (len(SENT_TEMPLATES) + len(VOICE_TEMPLATES))
    [voice_zh] = [i for i in items if i["name"] == "voice.urgent" and i["language"] == "zh_CN"]
    assert voice_zh["text"].startswith("紧急报告，编号${code}。")
    checked = runner.invoke(args=["outbox", "templates", "check"])
    assert checked.exit_code == 1
    assert "zh_CN voice.urgent" in checked.output
    without = runner.invoke(args=["outbox", "templates", "check", "--no-voice"])
    assert without.exit_code == 0, without.output


# --- the pushes, item by item ---


def post(app: Flask, path: str, payload: Any, secret: str = CALLBACK_SECRET) -> Any:
    provider, kind = path.split("/")
    with time_machine.travel(THURSDAY, tick=False):
        return app.test_client().post(
            f"/voice/{provider}/{secret}/{kind}",
            data=json.dumps(payload, ensure_ascii=False),
            content_type="application/json",
        )


@pytest.mark.parametrize("path", ["aliyun/report", "tencent/status", "tencent/keypress"])
def test_a_wrong_secret_is_not_found(aliyun_app: Flask, path: str) -> None:
    assert post(aliyun_app, path, [], secret="x" * 26).status_code == 404


def test_bad_items_are_refused_one_by_one_and_unknown_calls_logged(
    aliyun_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    good_but_unknown = {"call_id": "1^2", "status_code": "200003", "callee": "13900000001"}
    response = post(aliyun_app, "aliyun/report", [{"call_id": "1^3"}, "x", good_but_unknown])
    assert (response.status_code, response.get_json()) == (200, {"code": 0, "msg": "接收成功"})
    assert "1 accepted" not in caplog.text
    assert "0 accepted, 0 duplicates, 2 refused, 1 unknown" in caplog.text
    assert post(aliyun_app, "aliyun/report", "not json at all").status_code == 400


def test_tencent_keypress_items_are_refused_one_by_one(
    tencent_voice_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    tencent = {"voicekey_callback": {"callid": "c1", "mobile": "13900000001"}}
    answer = post(tencent_voice_app, "tencent/keypress", tencent)
    assert answer.get_json() == {"result": 0, "errmsg": "OK"}
    assert "tencent keypress push: 0 accepted, 0 duplicates, 1 refused" in caplog.text


@pytest.mark.parametrize("path", ["tencent/status", "tencent/keypress"])
def test_only_the_configured_voice_providers_routes_are_live(aliyun_app: Flask, path: str) -> None:
    tencent = {"voicekey_callback": {"callid": "c1", "mobile": "13900000001"}}
    assert post(aliyun_app, path, tencent).status_code == 404
