"""Every text exists in zh_CN and English, with the same parameters."""

from __future__ import annotations

import pytest

from i18n import LANGUAGES, MessageNotFound, catalogue, normalise_language, translate
from i18n.catalogue import Catalogue


def test_both_catalogues_hold_the_same_messages() -> None:
    zh, en = Catalogue.load("zh_CN"), Catalogue.load("en")
    assert sorted(set(zh.messages) - set(en.messages)) == []
    assert sorted(set(en.messages) - set(zh.messages)) == []


def test_translations_use_the_same_placeholders() -> None:
    zh, en = Catalogue.load("zh_CN"), Catalogue.load("en")
    mismatched = {
        key: (zh.placeholders(key), en.placeholders(key))
        for key in zh.messages
        if key in en.messages and zh.placeholders(key) != en.placeholders(key)
    }
    assert mismatched == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_formats_with_its_own_placeholders(language: str) -> None:
    loaded = Catalogue.load(language)
    for key in loaded.messages:
        params = dict.fromkeys(loaded.placeholders(key), "1")
        assert loaded.text(key, **params)


def test_chinese_is_chinese_and_english_is_english() -> None:
    assert translate("condition.hypertension", "zh_CN") == "高血压"
    assert translate("condition.hypertension", "en") == "Hypertension"


@pytest.mark.parametrize(
    ("asked", "language"),
    [
        ("zh", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh_Hans", "zh_CN"),
        ("en-US", "en"),
        (None, "zh_CN"),
        ("fr", "zh_CN"),
    ],
)
def test_language_names_map_onto_our_catalogues(asked: str | None, language: str) -> None:
    assert normalise_language(asked) == language


def test_a_missing_message_names_the_key() -> None:
    with pytest.raises(MessageNotFound, match=r"no\.such\.key"):
        catalogue("en").text("no.such.key")
