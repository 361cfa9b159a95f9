from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("zh_CN", "en")
FALLBACK_LANGUAGE = "zh_CN"


class MessageNotFound(KeyError):
    pass


def normalise_language(language: str | None) -> str:
    """Map `zh`, `zh-CN`, `zh_Hans`, `en-US`, ... onto a catalogue we have."""
    if not language:
        return FALLBACK_LANGUAGE
    lowered = language.replace("-", "_").lower()
    if lowered.startswith("zh"):
        return "zh_CN"
    if lowered.startswith("en"):
        return "en"
    return FALLBACK_LANGUAGE


class Catalogue:
    def __init__(self, language: str, messages: dict[str, str]) -> None:
        self.language = language
        self.messages = messages

    @classmethod
    def load(cls, language: str) -> Catalogue:
        path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as handle:
            po = read_po(handle, locale=language)
        messages = {
            str(message.id): str(message.string)
            for message in po
            if message.id and message.string and not message.fuzzy
        }
        return cls(language, messages)

    def has(self, key: str) -> bool:
        return key in self.messages

    def text(self, key: str, **params: Any) -> str:
        try:
            template = self.messages[key]
        except KeyError:
            raise MessageNotFound(f"{key!r} is not in the {self.language} catalogue") from None
        return template.format(**params) if params else template.format()

    def placeholders(self, key: str) -> set[str]:
        return {
            name
            for _, name, _, _ in string.Formatter().parse(self.messages[key])
            if name is not None
        }


@cache
def catalogue(language: str | None = None) -> Catalogue:
    return Catalogue.load(normalise_language(language))


def translate(key: str, language: str | None = None, **params: Any) -> str:
    return catalogue(language).text(key, **params)
