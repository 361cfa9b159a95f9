"""Catalogue messages as provider templates: texts to submit, variables within limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from i18n import catalogue
from notifications.provider_templates import (
    PARAM_LIMITS,
    RELAY_TEMPLATE,
    SENT_TEMPLATES,
    TemplateNotSendable,
    TemplatePolicy,
    all_templates,
    build_template,
    load_template_map,
    relay_chunks,
)
from tests.support.mainland import template_ids, write_template_map

ROOT = Path(__file__).resolve().parents[2]


def test_every_template_the_code_sends_is_a_provider_template() -> None:
    named: set[str] = set()
    for folder in ("grids", "notifications", "scheduling"):
        for path in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r'template=\s*"(sms\.[\w.]+)"', path.read_text("utf-8")))
            named |= set(re.findall(r'template="(sms\.[\w.]+)" if', path.read_text("utf-8")))
            named |= set(re.findall(r'else "(sms\.(?:urgent|notice)\.[\w.]+)"', path.read_text()))
    assert "sms.urgent.doctor" in named
    assert sorted(named - set(SENT_TEMPLATES)) == []


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_parameter_of_every_sent_template_has_a_length(language: str) -> None:
    for name in SENT_TEMPLATES:
        assert catalogue(language).placeholders(name) <= set(PARAM_LIMITS), name


def test_aliyun_template_keeps_the_text_and_splits_long_parameters() -> None:
    template = build_template("aliyun", "sms.urgent.doctor", "zh_CN", 35)
    assert template.text == (
        "[急]${grid}网格${seat}号${name}：${text_1}${text_2}。报告人电话${phone}。"
        "确认请回复：收到 ${code}"
    )
    assert template.variables == ("grid", "seat", "name", "text_1", "text_2", "phone", "code")


def test_tencent_template_numbers_its_variables_and_fits_six_characters() -> None:
    template = build_template("tencent", "sms.urgent.acknowledged", "zh_CN", 6)
    assert template.text == "村医{1}{2}{3}已收到紧急报告{4}{5}，正在处理。"
    policy = TemplatePolicy("tencent", 6, {"tencent": template_ids("tencent")})
    template_id, values = policy.provider_values(
        "sms.urgent.acknowledged",
        "zh_CN",
        {"doctor": "欧阳王医生大夫七", "code": "K7Q", "seat": "5"},
    )
    assert template_id == "1110"
    assert [value for _, value in values] == ["欧阳王医生大", "夫七", "", "K7Q", ""]
    assert all(len(value) <= 6 for _, value in values)


def test_rendering_the_provider_template_gives_the_catalogue_text() -> None:
    params = {
        "grid": "JXV01-HTN01",
        "seat": "5",
        "name": "张三",
        "text": "胸痛" * 15,
        "phone": "+8613912345678",
        "code": "K7Q",
    }
    for backend, limit in (("aliyun", 35), ("tencent", 6)):
        policy = TemplatePolicy(backend, limit, {backend: template_ids(backend)})
        template = policy.template("sms.urgent.doctor", "zh_CN")
        _, values = policy.provider_values("sms.urgent.doctor", "zh_CN", params)
        text = template.text
        for index, (variable, value) in enumerate(values, start=1):
            text = text.replace(
                "${" + variable + "}" if backend == "aliyun" else f"{{{index}}}", value, 1
            )
        expected = catalogue("zh_CN").text("sms.urgent.doctor", **params)
        assert text == expected.replace("【", "[").replace("】", "]")


def test_an_unmapped_template_is_not_sendable_and_the_error_says_how_to_fix_it() -> None:
    policy = TemplatePolicy("aliyun", 35, {"aliyun": {"zh_CN": {}}})
    with pytest.raises(TemplateNotSendable, match=r"no aliyun template id.*SMS_TEMPLATE_MAP"):
        policy.check("sms.test", "zh_CN", {})


def test_a_value_longer_than_its_variables_is_not_sendable() -> None:
    policy = TemplatePolicy("tencent", 6, {"tencent": template_ids("tencent")})
    with pytest.raises(TemplateNotSendable, match="parameter 'code' has 13 characters"):
        policy.check(
            "sms.urgent.acknowledged", "zh_CN", {"doctor": "王", "code": "K" * 13, "seat": "5"}
        )


def test_a_template_outside_the_registry_is_not_sendable() -> None:
    policy = TemplatePolicy("aliyun", 35, {"aliyun": template_ids("aliyun")})
    with pytest.raises(TemplateNotSendable, match="not one of the provider templates"):
        policy.check("sms.reply.help", "zh_CN", {})


def test_gaps_list_every_unmapped_template_and_language(tmp_path: Path) -> None:
    path = write_template_map(tmp_path / "map.json", leave_out=("sms.test", RELAY_TEMPLATE))
    policy = TemplatePolicy("aliyun", 35, load_template_map(path))
    assert [str(gap) for gap in policy.gaps()] == [
        "zh_CN sms.test",
        f"zh_CN {RELAY_TEMPLATE}",
        "en sms.test",
        f"en {RELAY_TEMPLATE}",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "JSON object keyed by provider"),
        ("{", "cannot read it as JSON"),
        ('{"aliyun": {"zh_CN": ["SMS_1"]}}', "must map template names"),
    ],
)
def test_a_malformed_template_map_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_template_map(path)


def test_every_template_has_one_provider_variable_per_slot_and_no_signature_brackets() -> None:
    for backend, limit in (("aliyun", 35), ("tencent", 6)):
        for template in all_templates(backend, limit):
            slots = re.findall(r"\$\{\w+\}" if backend == "aliyun" else r"\{\d+\}", template.text)
            assert len(slots) == len(template.variables), template
            assert "【" not in template.text and "】" not in template.text


def test_a_long_reply_is_relayed_in_pieces_of_one_segment() -> None:
    assert relay_chunks("好" * 150) == ["好" * 70, "好" * 70, "好" * 10]
