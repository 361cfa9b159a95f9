"""The language of a page: `?lang=`, else the account's, else the browser's, else the county's."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from config.runtime import current_settings
from i18n import normalise_language


def page_language() -> str:
    asked = request.args.get("lang")
    if asked:
        return normalise_language(asked)
    if current_user and current_user.is_authenticated and getattr(current_user, "language", None):
        return normalise_language(current_user.language)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best:
        return normalise_language(best)
    return current_settings().default_language
