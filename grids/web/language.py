"""The language of a page: `?lang=` (remembered for the visit), else the account's, else
the browser's, else the county's."""

from __future__ import annotations

from flask import request, session
from flask_login import current_user

from config.runtime import current_settings
from i18n import normalise_language

LANGUAGE_KEY = "lang"


def page_language() -> str:
    asked = request.args.get("lang")
    if asked:
        # Links on the page do not carry `?lang=`: the choice is kept in the session.
        chosen = normalise_language(asked)
        if session.get(LANGUAGE_KEY) != chosen:
            session[LANGUAGE_KEY] = chosen
        return chosen
    remembered = session.get(LANGUAGE_KEY)
    if remembered:
        return normalise_language(remembered)
    if current_user and current_user.is_authenticated and getattr(current_user, "language", None):
        return normalise_language(current_user.language)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best:
        return normalise_language(best)
    return current_settings().default_language
